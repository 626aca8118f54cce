"""`ocr-subnet validator`: challenge the subnet's miners, score them and set weights."""

from __future__ import annotations

from pathlib import Path

import typer

from ocr_subnet.challenge.families import FAMILIES
from ocr_subnet.deadlines import DEFAULT_DEADLINE_S

ALLOWED_NETWORKS_ENV = "OCR_SUBNET_ALLOWED_AXON_NETWORKS"


def validator(
    network: str = typer.Option(
        "local", help="local | test | finney | ws://HOST:PORT | http://127.0.0.1:PORT (local chain)"
    ),
    netuid: int = typer.Option(1, min=0),
    wallet_name: str = typer.Option("validator", help="coldkey wallet name"),
    wallet_hotkey: str = typer.Option("default", help="hotkey name inside the wallet"),
    wallet_path: str | None = typer.Option(None, help="wallets folder; bittensor's default if unset"),
    state: Path = typer.Option(Path(".local/validator/state.json"), help="EMA state file (JSON)"),
    metrics_host: str = typer.Option("127.0.0.1", help="address /metrics binds to"),
    metrics_port: int = typer.Option(9101, min=0, max=65535, help="0 picks a free port"),
    sample_size: int = typer.Option(8, min=1, help="miners challenged per round"),
    round_interval: float = typer.Option(12.0, min=0.0, help="seconds from one round's start to the next"),
    deadline: float = typer.Option(DEFAULT_DEADLINE_S, min=0.1, max=300.0, help="seconds a miner has to answer"),
    ema_alpha: float = typer.Option(0.1, min=0.0, max=1.0, help="weight of the newest reward in the EMA"),
    weight_power: float = typer.Option(
        3.0,
        min=0.0,
        help="weights are EMA ** power, normalized: 1 is linear, above 1 shrinks the share of miners far below "
        "the best (at a tenth of the best EMA, 10 ** -power of its weight)",
    ),
    difficulty: int = typer.Option(1, min=1, help="challenge difficulty level"),
    family: list[str] = typer.Option(
        [],
        "--family",
        help=f"document family to challenge with (repeat): {', '.join(FAMILIES)}; default: all of them "
        "(challenge.families)",
    ),
    banded_share: float = typer.Option(
        0.5,
        min=0.0,
        max=1.0,
        help="share of challenges with a clean invoice header stitched above the page, as the gateway stitches "
        "its canary above every organic page: a band must not tell a miner that a page is organic",
    ),
    chain_timeout: float = typer.Option(30.0, min=0.1, help="seconds one chain call may take"),
    rounds: int = typer.Option(0, min=0, help="stop after this many rounds (0: run until stopped)"),
    allowed_axon_networks: list[str] = typer.Option(
        [],
        "--allowed-axon-network",
        envvar=ALLOWED_NETWORKS_ENV,
        help="CIDR of non-public addresses miners may be queried at (repeat, or commas; "
        f"${ALLOWED_NETWORKS_ENV} takes them space-separated). By default only globally routable "
        "unicast axons are queried: a local subnet needs e.g. 127.0.0.0/8, a cluster its node, pod and service CIDRs",
    ),
    organic_state: Path | None = typer.Option(None, help="the gateway's organic scores file (its --organic-state)"),
    organic_metrics: list[str] = typer.Option(
        [],
        "--organic-metrics",
        help="or the gateway's /metrics URL (repeat for several): every address its host resolves to is read as "
        "one replica, so a headless Service reaches every gateway pod; replicas are combined by pages (see README)",
    ),
    organic_max_age: float = typer.Option(
        300.0, min=1.0, help="seconds a gateway replica's last scores count while it is unreachable"
    ),
    organic_weight: float = typer.Option(
        0.0, min=0.0, max=1.0, help="share of a miner's organic EMA in each reward entering its EMA (see README)"
    ),
    log_level: str = typer.Option("INFO"),
) -> None:
    """Run a validator until SIGINT/SIGTERM; its state survives restarts and chain outages."""
    import asyncio
    import functools
    import signal

    import bittensor as bt

    from ocr_subnet.chain import connect
    from ocr_subnet.challenge.generate import generate_challenge
    from ocr_subnet.logs import configure_logging, log_event
    from ocr_subnet.validator.metrics import ValidatorMetrics
    from ocr_subnet.validator.neuron import Validator, ValidatorConfig, log, reward_parts
    from ocr_subnet.validator.policy import parse_networks

    if not 0.0 < ema_alpha <= 1.0:
        raise typer.BadParameter("--ema-alpha must be in (0, 1]")
    if not 0.0 < weight_power < float("inf"):
        raise typer.BadParameter("--weight-power must be a positive number")
    from ocr_subnet.challenge.families import DEFAULT_MIX, check_families

    try:
        families = check_families(family) if family else DEFAULT_MIX
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--family") from None
    try:
        allowed = parse_networks(allowed_axon_networks)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--allowed-axon-network") from exc
    from ocr_subnet.gateway.feeds import check_url

    if organic_state is not None and organic_metrics:
        raise typer.BadParameter("give --organic-state or --organic-metrics, not both", param_hint="--organic-metrics")
    try:
        organic_urls = tuple(check_url(url) for url in organic_metrics)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--organic-metrics") from exc
    configure_logging(log_level.upper())
    wallet = bt.Wallet(wallet_name, wallet_hotkey, **({} if wallet_path is None else {"path": wallet_path}))
    hotkey = wallet.hotkey.ss58_address
    config = ValidatorConfig(
        state_path=state,
        sample_size=sample_size,
        round_interval_s=round_interval,
        deadline_s=deadline,
        ema_alpha=ema_alpha,
        weight_power=weight_power,
        difficulty=difficulty,
        chain_timeout_s=chain_timeout,
        allowed_axon_networks=allowed,
        organic_state=organic_state,
        organic_metrics=organic_urls,
        organic_max_age_s=organic_max_age,
        organic_weight=organic_weight,
    )
    metrics = ValidatorMetrics(hotkey)
    bound = metrics.serve(metrics_port, metrics_host)
    log_event(
        log,
        "validator_started",
        hotkey=hotkey,
        network=network,
        netuid=netuid,
        metrics_port=bound,
        allowed_axon_networks=[str(net) for net in allowed],
        families=list(families),
        weight_power=weight_power,
        banded_share=banded_share,
    )
    neuron = Validator(
        chain=connect(network, netuid, timeout=chain_timeout),
        wallet=wallet,
        hotkey=hotkey,
        config=config,
        make_challenge=functools.partial(generate_challenge, families=families, banded=banded_share),
        score=reward_parts,
        metrics=metrics,
    )

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await neuron.run(stop, max_rounds=rounds or None)

    asyncio.run(main())
    log_event(log, "validator_stopped", rounds=neuron.state.rounds)


def register(app: typer.Typer) -> None:
    """Add this part's commands to the `ocr-subnet` app."""
    app.command("validator")(validator)
