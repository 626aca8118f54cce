"""`ocr-subnet local up`: a whole subnet on loopback from one command.

Starts the local chain, registers a staked validator and N miners with wallets kept under
`<home>/wallets`, starts each neuron as its own `ocr-subnet ...` process logging to the run
folder, then shows a live table until Ctrl-C (or `--duration`), and stops everything in order.
"""

from __future__ import annotations

import contextlib
import json
import logging
import shutil
import signal
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import bittensor as bt
from rich.console import Console
from rich.live import Live

from ocr_subnet.chain.local import HEALTH_PATH as CHAIN_HEALTH_PATH
from ocr_subnet.chain.local import LocalChainClient
from ocr_subnet.chain.port import ChainRejected, ChainUnavailable, Metagraph
from ocr_subnet.local.procs import Child, StartupFailed, describe_exit, free_port, spawn, stop_all, wait_healthy
from ocr_subnet.local.table import Snapshot, build_snapshot, render, to_json
from ocr_subnet.protocol import HEALTH_PATH
from ocr_subnet.validator.state import ValidatorState, state_from_json
from ocr_subnet.wallets import WalletLocationRefused, local_wallet

log = logging.getLogger(__name__)
LOOPBACK = "127.0.0.1"
LOOPBACK_NETWORK = "127.0.0.0/8"
VALIDATOR_WALLET = "local-validator"


@dataclass(frozen=True)
class UpConfig:
    """Defaults are tuned so weights and incentive show up within about half a minute."""

    home: Path = Path(".local")
    miners: int = 3
    netuid: int = 1
    backend: str = "tesseract"  # "triton": one shared Triton server serves every miner
    block_time_s: float = 0.5
    tempo: int = 10
    weights_rate_limit: int = 5
    round_interval_s: float = 3.0
    deadline_s: float = 8.0
    ema_alpha: float = 0.3
    validator_stake: float = 1000.0
    duration_s: float | None = None
    refresh_s: float = 1.0
    startup_timeout_s: float = 90.0
    grace_s: float = 15.0
    json_output: bool = False
    gateway: bool = False  # also start `ocr-subnet gateway serve` with a fresh demo API key
    organic_weight: float = 0.3  # the validator's --organic-weight when the gateway runs


class ChildDied(RuntimeError):
    """A neuron exited while the subnet was supposed to be running."""


def ocr_subnet_command() -> list[str]:
    """The `ocr-subnet` of this very interpreter, so children run the same code as the launcher."""
    script = Path(sys.executable).with_name("ocr-subnet")
    if script.exists():
        return [str(script)]
    found = shutil.which("ocr-subnet")
    return [found] if found else [sys.executable, "-c", "from ocr_subnet.cli import app; app()"]


@contextlib.contextmanager
def _terminate_as_interrupt() -> Iterator[None]:
    """SIGTERM behaves like Ctrl-C, so `kill` of the launcher also stops every child cleanly."""

    def interrupt(_signum: int, _frame: object) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


class LocalSubnet:
    """The processes of one run and what the table needs to know about them."""

    def __init__(self, config: UpConfig, run_dir: Path) -> None:
        self.config = config
        self.run_dir = run_dir
        self.children: list[Child] = []
        self.roles: dict[str, tuple[str, str]] = {}  # hotkey -> (role, backend)
        self.chain_url = ""
        self.metrics_port = 0
        self.state_path = run_dir / "validator" / "state.json"
        self._client: LocalChainClient | None = None
        self._metagraph: Metagraph | None = None
        self._state: ValidatorState | None = None
        self.triton_args: tuple[str, ...] = ()  # how miners reach the shared Triton server, if any
        self.organic_path = run_dir / "validator" / "organic.json"
        self.gateway: dict[str, str] | None = None  # {"url", "api_key"} once the gateway is up

    def _start(self, name: str, *args: str) -> Child:
        child = spawn(name, [*ocr_subnet_command(), *args], self.run_dir / "logs" / f"{name}.log")
        self.children.append(child)
        self._write_processes()
        return child

    def _write_processes(self) -> None:
        """`processes.json` in the run folder: which pid is which neuron, and where it logs."""
        listing = {c.name: {"pid": c.process.pid, "log": str(c.log_path)} for c in self.children}
        (self.run_dir / "processes.json").write_text(json.dumps(listing, indent=2))

    @property
    def client(self) -> LocalChainClient:
        if self._client is None:
            raise RuntimeError("the chain is not started yet")
        return self._client

    @property
    def wallets_dir(self) -> Path:
        return (self.config.home / "wallets").resolve()

    def _neuron_args(self) -> tuple[str, ...]:
        return (
            "--network",
            self.chain_url,
            "--netuid",
            str(self.config.netuid),
            "--wallet-path",
            str(self.wallets_dir),
        )

    def start(self) -> None:
        """Chain, then a staked validator's registration, then miners, then the validator process."""
        self.start_chain()
        self.register_validator()
        self.start_triton()
        self.start_miners()
        self.start_validator()
        self.start_gateway()

    def start_triton(self) -> None:
        """One model server for all miners: N copies of the model would not fit two cores."""
        if self.config.backend != "triton":
            return
        http_port, grpc_port, metrics_port = (free_port(LOOPBACK) for _ in range(3))
        child = self._start(
            "triton",
            *("triton", "serve", "--host", LOOPBACK, "--http-port", str(http_port)),
            *("--grpc-port", str(grpc_port), "--metrics-port", str(metrics_port)),
        )
        wait_healthy(f"http://{LOOPBACK}:{http_port}/v2/health/ready", self.config.startup_timeout_s, child)
        self.triton_args = ("--triton-url", f"grpc://{LOOPBACK}:{grpc_port}")

    def start_chain(self) -> None:
        config = self.config
        chain_port = free_port(LOOPBACK)
        self.chain_url = f"http://{LOOPBACK}:{chain_port}"
        chain = self._start(
            "chain",
            *("chain", "serve", "--host", LOOPBACK, "--port", str(chain_port)),
            *("--state", str(self.run_dir / "chain" / "state.json"), "--netuid", str(config.netuid)),
            *("--block-time", str(config.block_time_s), "--tempo", str(config.tempo)),
            *("--weights-rate-limit", str(config.weights_rate_limit)),
        )
        wait_healthy(self.chain_url + CHAIN_HEALTH_PATH, config.startup_timeout_s, chain)
        self._client = LocalChainClient(self.chain_url, config.netuid)

    def register_validator(self) -> bt.Wallet:
        """Registered with stake, so the chain grants it a validator permit and miners accept it."""
        wallet = local_wallet(VALIDATOR_WALLET, "default", self.wallets_dir)
        self.client.register(wallet, self.config.validator_stake)
        self.roles[wallet.hotkey.ss58_address] = ("validator", "-")
        return wallet

    def start_miners(self) -> None:
        config = self.config
        started: list[tuple[Child, int]] = []
        for index in range(config.miners):
            name = f"local-miner-{index}"
            wallet = local_wallet(name, "default", self.wallets_dir)
            self.client.register(wallet, 0.0)
            self.roles[wallet.hotkey.ss58_address] = ("miner", config.backend)
            port = free_port(LOOPBACK)
            child = self._start(
                f"miner-{index}",
                *("miner", *self._neuron_args(), "--wallet-name", name, "--host", LOOPBACK),
                *("--port", str(port), "--backend", config.backend, "--metagraph-refresh", "2"),
                *self.triton_args,
            )
            started.append((child, port))
        for child, port in started:
            wait_healthy(f"http://{LOOPBACK}:{port}{HEALTH_PATH}", config.startup_timeout_s, child)

    def start_validator(self) -> None:
        config = self.config
        self.metrics_port = free_port(LOOPBACK)
        child = self._start(
            "validator",
            *("validator", *self._neuron_args(), "--wallet-name", VALIDATOR_WALLET),
            *("--state", str(self.state_path), "--metrics-port", str(self.metrics_port)),
            *("--sample-size", str(config.miners), "--round-interval", str(config.round_interval_s)),
            *("--deadline", str(config.deadline_s), "--ema-alpha", str(config.ema_alpha)),
            *("--chain-timeout", "5"),
            *("--allowed-axon-network", LOOPBACK_NETWORK),  # the miners publish loopback axons
            *self._organic_args(),
        )
        wait_healthy(f"http://{LOOPBACK}:{self.metrics_port}/metrics", config.startup_timeout_s, child)

    def _organic_args(self) -> tuple[str, ...]:
        if not self.config.gateway:
            return ()
        return ("--organic-state", str(self.organic_path), "--organic-weight", str(self.config.organic_weight))

    def start_gateway(self) -> None:
        """The gateway, signing with the validator's hotkey, and `gateway.json` with its URL and a new key."""
        if not self.config.gateway:
            return
        from ocr_subnet.gateway.keys import add_key

        keys_file = self.run_dir / "gateway" / "keys.json"
        api_key = add_key(keys_file, "demo")
        port = free_port(LOOPBACK)
        child = self._start(
            "gateway",
            *("gateway", "serve", *self._neuron_args(), "--wallet-name", VALIDATOR_WALLET),
            *("--host", LOOPBACK, "--port", str(port), "--api-keys", str(keys_file)),
            *("--validator-state", str(self.state_path), "--organic-state", str(self.organic_path)),
            *("--deadline", str(self.config.deadline_s), "--allowed-axon-network", LOOPBACK_NETWORK),
        )
        url = f"http://{LOOPBACK}:{port}"
        wait_healthy(url + "/healthz", self.config.startup_timeout_s, child)
        self.gateway = {"url": url, "api_key": api_key}
        path = self.run_dir / "gateway.json"
        path.write_text(json.dumps(self.gateway, indent=2))
        path.chmod(0o600)

    def snapshot(self) -> Snapshot:
        """The latest view; a chain or state file that cannot be read keeps the previous one."""
        chain_ok = True
        try:
            if self._client is not None:
                self._metagraph = self._client.metagraph()
        except (ChainUnavailable, ChainRejected):
            chain_ok = False
        with contextlib.suppress(OSError, ValueError):  # not written yet: the previous view stands
            self._state = state_from_json(self.state_path.read_bytes())
        return build_snapshot(self._metagraph, self._state, self.roles, chain_ok)

    def check_children(self) -> None:
        dead = next((c for c in self.children if not c.alive), None)
        if dead is not None:
            raise ChildDied(
                f"{dead.name} exited with {dead.process.returncode}; log {dead.log_path}:\n{dead.log_tail()}"
            )

    def stop(self) -> dict[str, int]:
        if self._client is not None:
            self._client.close()
        return stop_all(self.children, self.config.grace_s)


def new_run_dir(home: Path) -> Path:
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S.%fZ")
    run_dir = home / "runs" / stamp
    run_dir.mkdir(parents=True)
    return run_dir


def up(config: UpConfig) -> int:
    """Run the local subnet; 0 after Ctrl-C or `duration_s`, 1 when a neuron failed to start or died."""
    console = Console(stderr=config.json_output)
    run_dir = new_run_dir(config.home)
    subnet = LocalSubnet(config, run_dir)
    title = f"OCR subnet on loopback (netuid {config.netuid}, run {run_dir})"
    status = 0
    snapshot = Snapshot(None, 0, (), False)
    with _terminate_as_interrupt():
        try:
            console.print(f"starting the local subnet; logs in {run_dir / 'logs'}")
            subnet.start()
            console.print(
                f"chain {subnet.chain_url} | validator metrics http://{LOOPBACK}:{subnet.metrics_port}/metrics"
            )
            if subnet.gateway is not None:
                console.print(f"gateway {subnet.gateway['url']} | key and url in {run_dir / 'gateway.json'}")
            ends = None if config.duration_s is None else time.monotonic() + config.duration_s
            with Live(render(subnet.snapshot(), title), console=console, refresh_per_second=4) as live:
                while ends is None or time.monotonic() < ends:
                    subnet.check_children()
                    snapshot = subnet.snapshot()
                    live.update(render(snapshot, title))
                    time.sleep(config.refresh_s)
        except KeyboardInterrupt:
            console.print("stopping (Ctrl-C)")
        except (StartupFailed, ChildDied, ChainUnavailable, ChainRejected, WalletLocationRefused) as exc:
            console.print("local subnet failed:", style="bold red")
            console.print(str(exc), markup=False, highlight=False)  # log tails may contain [brackets]
            status = 1
        finally:
            # A second Ctrl-C (or a SIGTERM) must not cut the cleanup short and leave children behind.
            previous = {sig: signal.signal(sig, signal.SIG_IGN) for sig in (signal.SIGINT, signal.SIGTERM)}
            try:
                codes = subnet.stop()
            finally:
                for sig, handler in previous.items():
                    signal.signal(sig, handler)
    if not console.is_terminal:
        console.line()  # Live leaves a non-terminal mid-line after its last frame
    console.print(f"stopped: {', '.join(f'{name}={describe_exit(code)}' for name, code in codes.items())}")
    if config.json_output:
        extra = {"netuid": config.netuid, "run_dir": str(run_dir), "exit_codes": codes}
        if subnet.gateway is not None:
            extra["gateway"] = subnet.gateway
        print(json.dumps(to_json(snapshot, extra), indent=2))
    return status
