"""`ocr-subnet miner`: serve OCR to the subnet's validators."""

from __future__ import annotations

import typer


def miner(
    network: str = typer.Option("local", help="local | test | finney | ws://HOST:PORT | http://127.0.0.1:PORT"),
    netuid: int = typer.Option(1, min=0),
    wallet_name: str = typer.Option("miner", help="coldkey wallet name"),
    wallet_hotkey: str = typer.Option("default", help="hotkey name inside the wallet"),
    wallet_path: str | None = typer.Option(None, help="wallets folder; bittensor's default if unset"),
    host: str = typer.Option("127.0.0.1", help="address to bind"),
    port: int = typer.Option(8091, min=1, max=65535),
    external_ip: str | None = typer.Option(None, help="ip published on chain; defaults to --host"),
    external_port: int | None = typer.Option(None, min=1, max=65535, help="port published on chain"),
    serve_axon: bool = typer.Option(True, help="publish ip/port on chain at start"),
    backend: str | None = typer.Option(
        None, help="OCR engine: triton or tesseract [default: triton when the model's weights are packaged]"
    ),
    triton_url: str | None = typer.Option(
        None, help="backend triton: grpc://HOST:PORT of a Triton server; unset starts one in-process"
    ),
    min_stake: float = typer.Option(0.0, min=0.0, help="callers with less stake are blacklisted"),
    require_validator_permit: bool = typer.Option(True, help="blacklist callers without a validator permit"),
    max_concurrency: int = typer.Option(2, min=1, help="pages recognized at once"),
    max_queue: int = typer.Option(16, min=0, help="requests waiting for a slot before answering overloaded"),
    max_connections: int = typer.Option(
        1024, min=1, help="open connections; past it the one waiting longest for a request head is closed"
    ),
    header_timeout: float = typer.Option(
        5.0, min=0.1, help="seconds a connection has to send a complete request head (slow clients are closed)"
    ),
    max_body_bytes_in_flight: int = typer.Option(
        64 * 1024 * 1024, min=8 * 1024 * 1024, help="request body bytes held at once; past it answers overloaded"
    ),
    max_decoded_pixels: int = typer.Option(
        25_000_000, min=1, help="decoded image pixels held at once; past it answers overloaded"
    ),
    metagraph_refresh: float = typer.Option(30.0, min=0.1, help="seconds between metagraph reads"),
    startup_timeout: float = typer.Option(120.0, min=1.0, help="give up starting after this many seconds"),
    log_level: str = typer.Option("INFO"),
) -> None:
    """Run a miner: verify signed requests, answer OCR, serve its axon and /metrics."""
    from ocr_subnet.chain import adapter_for
    from ocr_subnet.miner.config import MinerConfig
    from ocr_subnet.miner.run import BACKENDS, default_backend, run_miner

    backend = backend or default_backend()
    if backend not in BACKENDS:
        raise typer.BadParameter(f"unknown backend {backend!r}; choose one of {sorted(BACKENDS)}")
    try:
        adapter_for(network)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--network") from exc
    try:
        config = MinerConfig(
            network=network,
            netuid=netuid,
            wallet_name=wallet_name,
            wallet_hotkey=wallet_hotkey,
            wallet_path=wallet_path,
            host=host,
            port=port,
            external_ip=external_ip,
            external_port=external_port,
            serve_axon=serve_axon,
            backend=backend,
            triton_url=triton_url,
            min_stake=min_stake,
            require_validator_permit=require_validator_permit,
            max_concurrency=max_concurrency,
            max_queue=max_queue,
            max_connections=max_connections,
            head_timeout_s=header_timeout,
            max_body_bytes_in_flight=max_body_bytes_in_flight,
            max_decoded_pixels=max_decoded_pixels,
            metagraph_refresh_s=metagraph_refresh,
            startup_timeout_s=startup_timeout,
            log_level=log_level.upper(),
        )
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from exc
    run_miner(config)


def register(app: typer.Typer) -> None:
    """Add this part's commands to the `ocr-subnet` app."""
    app.command("miner")(miner)
