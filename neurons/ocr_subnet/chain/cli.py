"""`ocr-subnet chain`: run the local chain, register hotkeys on it, show a metagraph."""

from __future__ import annotations

from pathlib import Path

import typer

DEFAULT_STATE = Path(".local") / "chain" / "state.json"
NETWORK_HELP = "local | http://HOST:PORT (local chain) | test | finney | ws(s)://HOST:PORT"


def serve(
    host: str = typer.Option("127.0.0.1", help="address to bind; keep it on loopback"),
    port: int = typer.Option(9944, min=1, max=65535),
    state: Path = typer.Option(DEFAULT_STATE, help="JSON state file, kept across restarts"),
    netuid: int = typer.Option(1, min=0, help="the one subnet this chain hosts"),
    block_time: float = typer.Option(1.0, min=0.01, help="seconds per block"),
    tempo: int = typer.Option(20, min=1, help="blocks per epoch (incentive is recomputed each epoch)"),
    weights_rate_limit: int = typer.Option(10, min=0, help="blocks between two weight sets of one hotkey"),
    max_uids: int = typer.Option(64, min=1),
    max_validators: int = typer.Option(8, min=1, help="the top-k hotkeys by stake hold validator permits"),
    immunity_period: int = typer.Option(100, min=0, help="blocks a new neuron cannot be replaced"),
    weights_version: int = typer.Option(0, min=0, help="lowest version_key accepted with weights"),
    discard_corrupt_state: bool = typer.Option(
        False,
        "--discard-corrupt-state",
        help="start a new chain when --state does not parse; the file is kept as *.corrupt-<time>",
    ),
    log_level: str = typer.Option("INFO"),
) -> None:
    """Run the embedded local chain over HTTP until interrupted."""
    from ocr_subnet.chain.local_server import serve as serve_chain
    from ocr_subnet.chain.local_state import ChainParams, ChainStateError
    from ocr_subnet.logs import configure_logging

    configure_logging(log_level.upper())
    params = ChainParams(
        netuid=netuid,
        tempo=tempo,
        weights_rate_limit=weights_rate_limit,
        max_uids=max_uids,
        max_validators=max_validators,
        immunity_period=immunity_period,
        weights_version=weights_version,
    )
    try:
        serve_chain(
            host=host,
            port=port,
            state_path=state,
            params=params,
            block_time_s=block_time,
            discard_corrupt_state=discard_corrupt_state,
        )
    except ChainStateError as exc:
        typer.echo(f"ocr-subnet chain serve: {exc}", err=True)
        raise typer.Exit(2) from exc


def register_hotkey(
    network: str = typer.Option("local", help="the local chain: local | http://HOST:PORT"),
    netuid: int = typer.Option(1, min=0),
    wallet_name: str = typer.Option(..., help="coldkey wallet name; created when missing"),
    wallet_hotkey: str = typer.Option("default", help="hotkey name inside the wallet; created when missing"),
    wallet_path: Path | None = typer.Option(
        None, help="wallets folder (default: $OCR_SUBNET_WALLETS or ./.local/wallets)"
    ),
    stake: float = typer.Option(0.0, min=0.0, help="stake the hotkey declares (a dev chain trusts it)"),
) -> None:
    """Register a hotkey on the local chain (again: update its stake) and print its uid as JSON."""
    import json

    from ocr_subnet.chain import AdapterKind, adapter_for
    from ocr_subnet.chain.local import LocalChainClient
    from ocr_subnet.chain.port import ChainRejected, ChainUnavailable
    from ocr_subnet.wallets import local_wallet

    try:
        kind, url = adapter_for(network)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--network") from exc
    if kind is not AdapterKind.LOCAL:
        raise typer.BadParameter("registration is only offered by the local chain", param_hint="--network")
    wallet = local_wallet(wallet_name, wallet_hotkey, wallet_path)
    client = LocalChainClient(url, netuid)
    try:
        uid = client.register(wallet, stake)
    except (ChainUnavailable, ChainRejected) as exc:
        typer.echo(f"registration failed: {exc}", err=True)
        raise typer.Exit(1) from exc
    finally:
        client.close()
    typer.echo(json.dumps({"uid": uid, "hotkey": wallet.hotkey.ss58_address, "netuid": netuid, "stake": stake}))


def metagraph(
    network: str = typer.Option("local", help=NETWORK_HELP),
    netuid: int = typer.Option(1, min=0),
    as_json: bool = typer.Option(False, "--json", help="print JSON instead of a table"),
) -> None:
    """Show the subnet's neurons: uid, keys, stake, permit, axon, last update, incentive."""
    import dataclasses
    import json

    from rich.console import Console
    from rich.table import Table

    from ocr_subnet.chain import connect
    from ocr_subnet.chain.port import ChainRejected, ChainUnavailable

    try:
        chain = connect(network, netuid)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--network") from exc
    try:
        graph = chain.metagraph()
    except (ChainUnavailable, ChainRejected) as exc:
        typer.echo(f"metagraph unavailable: {exc}", err=True)
        raise typer.Exit(1) from exc
    if as_json:
        typer.echo(json.dumps(dataclasses.asdict(graph)))
        return
    table = Table(title=f"netuid {graph.netuid} at block {graph.block}")
    for column in ("uid", "hotkey", "coldkey", "stake", "permit", "axon", "last update", "incentive"):
        table.add_column(column, justify="right" if column in ("uid", "stake", "last update", "incentive") else "left")
    for n in graph.neurons:
        table.add_row(
            str(n.uid),
            n.hotkey,
            n.coldkey,
            f"{n.stake:,.2f}",
            "yes" if n.validator_permit else "",
            n.axon.url if n.axon else "",
            str(n.last_update),
            f"{n.incentive:.4f}",
        )
    Console().print(table)


def register(app: typer.Typer) -> None:
    """Add this part's commands to the `ocr-subnet` app."""
    chain_app = typer.Typer(no_args_is_help=True, help=__doc__)
    chain_app.command("serve")(serve)
    chain_app.command("register")(register_hotkey)
    chain_app.command("metagraph")(metagraph)
    app.add_typer(chain_app, name="chain")
