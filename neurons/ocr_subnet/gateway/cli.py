"""`ocr-subnet gateway`: serve OCR to real users through the subnet's miners, every page verified."""

from __future__ import annotations

from pathlib import Path

import typer

from ocr_subnet.deadlines import DEFAULT_DEADLINE_S

gateway_app = typer.Typer(no_args_is_help=True, help=__doc__)


@gateway_app.command("serve")
def serve(
    network: str = typer.Option("local", help="local | test | finney | ws://HOST:PORT | http://127.0.0.1:PORT"),
    netuid: int = typer.Option(1, min=0),
    wallet_name: str = typer.Option(
        "validator", help="the validator's coldkey wallet: pages are signed with its hotkey"
    ),
    wallet_hotkey: str = typer.Option("default"),
    wallet_path: str | None = typer.Option(None, help="wallets folder; bittensor's default if unset"),
    host: str = typer.Option("127.0.0.1", help="address to bind"),
    port: int = typer.Option(8080, min=0, max=65535),
    api_keys: Path | None = typer.Option(None, help="JSON file of hashed API keys (a mounted Secret works)"),
    anonymous: bool = typer.Option(False, help="serve callers without a key (off by default)"),
    anonymous_rate: float = typer.Option(10.0, min=0.1, help="anonymous requests per minute, all callers together"),
    anonymous_quota: int = typer.Option(1000, min=0, help="anonymous pages per process lifetime"),
    validator_state: Path | None = typer.Option(None, help="the validator's state file: its EMAs rank miners"),
    validator_metrics: str | None = typer.Option(
        None,
        help="or the validator's /metrics URL (no shared volume, e.g. in a cluster): its EMA gauge ranks miners, "
        "read at every metagraph refresh",
    ),
    validator_metrics_max_age: float = typer.Option(
        300.0, min=1.0, help="seconds the last EMAs read are used while the validator is unreachable"
    ),
    organic_state: Path | None = typer.Option(
        None, help="write organic scores here for the validator's --organic-state"
    ),
    max_bytes: int = typer.Option(50 * 1024 * 1024, min=1024, help="bytes per request"),
    max_pages: int = typer.Option(100, min=1, help="pages per document"),
    max_page_pixels: int = typer.Option(25_000_000, min=10_000, help="pixels per page (PDFs at --dpi)"),
    dpi: float = typer.Option(150.0, min=50.0, max=600.0, help="PDF pages are rasterized at this density"),
    deadline: float = typer.Option(
        DEFAULT_DEADLINE_S, min=0.5, max=300.0, help="seconds one miner has for one page: the validator's --deadline"
    ),
    difficulty: int = typer.Option(1, min=1, help="the validator's --difficulty: pages go out in its image format"),
    page_concurrency: int = typer.Option(4, min=1, help="pages of one document read at once"),
    top_k: int = typer.Option(3, min=1, help="pages go to the best miners by EMA"),
    explore: float = typer.Option(0.2, min=0.0, max=1.0, help="chance a page's second miner is outside the top k"),
    hedge: int = typer.Option(2, min=1, help="miners asked at once for each page"),
    attempts: int = typer.Option(4, min=1, help="miners tried in all for one page"),
    canary_rounds: int = typer.Option(
        2, min=1, help="rounds a page goes out in, each under a fresh canary, while no answer passed"
    ),
    busy_backoff: float = typer.Option(
        1.0, min=0.0, max=60.0, help="seconds before a page's next round when no miner answered the last one"
    ),
    pass_threshold: float = typer.Option(0.3, min=0.0, max=1.0, help="canary prediction reward an answer needs"),
    canaries: bool = typer.Option(True, help="stitch a canary band above each page (off only for benchmarks)"),
    job_capacity: int = typer.Option(100, min=1, help="asynchronous jobs held in memory"),
    job_retention: float = typer.Option(3600.0, min=1.0, help="seconds a finished job's result is kept"),
    allowed_axon_networks: list[str] = typer.Option([], "--allowed-axon-network", help="as the validator's option"),
    log_level: str = typer.Option("INFO"),
) -> None:
    """Run the gateway until SIGINT/SIGTERM; OpenAPI at /openapi.json, metrics at /metrics."""
    import bittensor as bt
    import uvicorn

    from ocr_subnet.chain import connect
    from ocr_subnet.gateway.app import build_app
    from ocr_subnet.gateway.documents import Limits
    from ocr_subnet.gateway.feeds import check_url
    from ocr_subnet.gateway.keys import Access, KeyFile, anonymous_entry, load_keys
    from ocr_subnet.gateway.rules import RoutingConfig
    from ocr_subnet.gateway.service import Gateway, GatewayConfig
    from ocr_subnet.logs import configure_logging
    from ocr_subnet.validator.policy import parse_networks

    if api_keys is None and not anonymous:
        raise typer.BadParameter("give --api-keys, or --anonymous to serve without keys", param_hint="--api-keys")
    if validator_state is not None and validator_metrics is not None:
        raise typer.BadParameter(
            "give --validator-state or --validator-metrics, not both", param_hint="--validator-metrics"
        )
    try:
        if validator_metrics is not None:
            check_url(validator_metrics)
        keys = load_keys(api_keys) if api_keys is not None else KeyFile()
        allowed = parse_networks(allowed_axon_networks)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from exc
    configure_logging(log_level.upper())
    wallet = bt.Wallet(wallet_name, wallet_hotkey, **({} if wallet_path is None else {"path": wallet_path}))
    config = GatewayConfig(
        limits=Limits(max_bytes=max_bytes, max_pages=max_pages, max_page_pixels=max_page_pixels, dpi=dpi),
        routing=RoutingConfig(
            top_k=top_k,
            explore=explore,
            hedge=hedge,
            attempts=attempts,
            canary_rounds=canary_rounds,
            busy_backoff_s=busy_backoff,
            pass_threshold=pass_threshold,
        ),
        deadline_s=deadline,
        difficulty=difficulty,
        page_concurrency=page_concurrency,
        canaries=canaries,
        validator_state=validator_state,
        validator_metrics=validator_metrics,
        validator_metrics_max_age_s=validator_metrics_max_age,
        organic_state=organic_state,
        allowed_axon_networks=allowed,
        job_capacity=job_capacity,
        job_retention_s=job_retention,
    )
    access = Access(keys, anonymous_entry(anonymous_rate, anonymous_quota) if anonymous else None)
    gateway = Gateway(config, connect(network, netuid), wallet, access)
    uvicorn.run(build_app(gateway), host=host, port=port, log_config=None, access_log=False, server_header=False)


@gateway_app.command("add-key")
def add_key(
    keys_file: Path = typer.Argument(..., help="the JSON key file (created if absent; only hashes are stored)"),
    name: str = typer.Option(..., help="who the key is for; metrics count usage by this name"),
    rate_per_minute: float = typer.Option(60.0, min=0.1),
    quota_pages: int = typer.Option(10_000, min=0),
) -> None:
    """Generate an API key, store its hash, print the key once."""
    from ocr_subnet.gateway.keys import add_key as store

    typer.echo(store(keys_file, name, rate_per_minute, quota_pages))


def register(app: typer.Typer) -> None:
    """Add this part's commands to the `ocr-subnet` app."""
    app.add_typer(gateway_app, name="gateway")
