"""`ocr-subnet local up`: the whole subnet (chain, validator, miners) on loopback, one command."""

from __future__ import annotations

from pathlib import Path

import typer


def up(
    miners: int = typer.Option(3, min=1, max=32, help="how many miners to start"),
    duration: float | None = typer.Option(None, min=1.0, help="run this many seconds, then stop and exit 0"),
    as_json: bool = typer.Option(False, "--json", help="print the final table as JSON on stdout"),
    home: Path = typer.Option(Path(".local"), help="wallets and run folders live here (never ~/.bittensor)"),
    backend: str | None = typer.Option(
        None, help="OCR engine of every miner: triton (our model) when its weights ship, else tesseract"
    ),
    netuid: int = typer.Option(1, min=0),
    block_time: float = typer.Option(0.5, min=0.05, help="seconds per block"),
    tempo: int = typer.Option(10, min=1, help="blocks per epoch"),
    weights_rate_limit: int = typer.Option(5, min=0, help="blocks between two weight sets"),
    round_interval: float = typer.Option(3.0, min=0.0, help="seconds between validator rounds"),
    deadline: float = typer.Option(8.0, min=0.5, max=300.0, help="seconds a miner has to answer"),
    ema_alpha: float = typer.Option(0.3, min=0.01, max=1.0, help="weight of the newest reward in the EMA"),
    refresh: float = typer.Option(1.0, min=0.1, help="seconds between table refreshes"),
    gateway: bool = typer.Option(
        False, help="also start the organic gateway with a fresh demo API key (see <run>/gateway.json)"
    ),
    organic_weight: float = typer.Option(0.3, min=0.0, max=1.0, help="the validator's --organic-weight with --gateway"),
) -> None:
    """Start a local chain, one validator and N miners, each its own process; Ctrl-C stops them all."""
    from ocr_subnet.local.up import UpConfig
    from ocr_subnet.local.up import up as run_up
    from ocr_subnet.miner.run import default_backend

    config = UpConfig(
        home=home,
        miners=miners,
        netuid=netuid,
        backend=backend or default_backend(),
        block_time_s=block_time,
        tempo=tempo,
        weights_rate_limit=weights_rate_limit,
        round_interval_s=round_interval,
        deadline_s=deadline,
        ema_alpha=ema_alpha,
        duration_s=duration,
        refresh_s=refresh,
        json_output=as_json,
        gateway=gateway,
        organic_weight=organic_weight,
    )
    raise typer.Exit(run_up(config))


def register(app: typer.Typer) -> None:
    """Add this part's commands to the `ocr-subnet` app."""
    local_app = typer.Typer(no_args_is_help=True, help=__doc__)
    local_app.command("up")(up)
    app.add_typer(local_app, name="local")
