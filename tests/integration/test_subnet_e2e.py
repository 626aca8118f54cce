"""The whole subnet over loopback: real chain, validator and miners, real HTTP and signatures.

Three miners compete: `good` is the real `ocr-subnet miner` process with the tesseract backend
(honest OCR of whatever image it gets); `slow` is the real miner app, also tesseract, that only
starts working after the validator's deadline has passed; `garbage` is the real miner app with a
backend that answers instantly with well-formed junk. The validator must rank them
good > garbage >= slow, set weights within the rate limit, and the chain's incentive must follow.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from ocr_subnet import metric_names as names
from ocr_subnet.backends.tesseract import TesseractBackend
from ocr_subnet.chain.local import LocalChainClient
from ocr_subnet.chain.port import Metagraph
from ocr_subnet.local.procs import Child, spawn, stop_all, wait_healthy
from ocr_subnet.local.up import ocr_subnet_command
from ocr_subnet.miner.app import build_app
from ocr_subnet.miner.config import MinerConfig
from ocr_subnet.sections import Font, Section
from ocr_subnet.validator.state import ValidatorState, state_from_json
from ocr_subnet.wallets import local_wallet
from PIL import Image

from tests.support.ports import free_port
from tests.support.tools import assert_promtool_accepts_metrics

pytestmark = [
    pytest.mark.integration,
    pytest.mark.slow,
]

LOOPBACK = "127.0.0.1"
NETUID = 2
TEMPO, RATE_LIMIT, BLOCK_TIME_S = 8, 4, 0.5
DEADLINE_S = 6.0
MINERS = ("good", "slow", "garbage")
SETTLE_S = 240.0  # upper bound for the subnet to reach the asserted state; polled, never slept


class GarbageBackend:
    """A dishonest engine: instant, well-formed sections that have nothing to do with the image."""

    name = "garbage"

    def recognize(self, image: Image.Image) -> list[Section]:
        junk = Font(family="Courier", size=7.0)
        return [Section(text=f"lorem ipsum {i}", position=(i, i, i + 40, i + 9), font=junk) for i in range(25)]

    def close(self) -> None:
        return None


def arrive_late(app: Callable[..., Any], delay_s: float) -> Callable[..., Any]:
    """ASGI wrapper: each OCR request is held `delay_s` before the real miner even sees it."""

    async def late(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["path"] == "/ocr":
            await asyncio.sleep(delay_s)
        await app(scope, receive, send)

    return late


@contextlib.contextmanager
def miner_in_thread(app: Callable[..., Any], port: int) -> Iterator[None]:
    config = uvicorn.Config(app, host=LOOPBACK, port=port, lifespan="on", log_config=None, access_log=False)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        yield
    finally:
        server.should_exit = True
        thread.join(timeout=30)


@dataclass
class Running:
    chain: LocalChainClient
    hotkeys: dict[str, str]  # role -> hotkey
    uids: dict[str, int]
    state_path: Path
    metrics_url: str
    validator: Child
    validator_log: Path

    def state(self) -> ValidatorState | None:
        try:
            return state_from_json(self.state_path.read_bytes())
        except (OSError, ValueError):
            return None

    def metagraph(self) -> Metagraph:
        return self.chain.metagraph()


def poll(ready: Callable[[], bool], timeout_s: float, what: str, child: Child) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        assert child.alive, f"validator exited with {child.process.returncode}:\n{child.log_tail(40)}"
        if ready():
            return
        time.sleep(0.5)
    pytest.fail(f"timed out waiting for {what}; validator log:\n{child.log_tail(40)}")


@pytest.fixture(scope="module")
def subnet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    root = tmp_path_factory.mktemp("subnet")
    command = ocr_subnet_command()
    children: list[Child] = []
    chain_port = free_port()
    chain_url = f"http://{LOOPBACK}:{chain_port}"
    children.append(
        spawn(
            "chain",
            [
                *command,
                *("chain", "serve", "--port", str(chain_port), "--state", str(root / "chain.json")),
                *("--netuid", str(NETUID), "--block-time", str(BLOCK_TIME_S), "--tempo", str(TEMPO)),
                *("--weights-rate-limit", str(RATE_LIMIT)),
            ],
            root / "chain.log",
        )
    )
    client = LocalChainClient(chain_url, NETUID)
    try:
        wait_healthy(f"{chain_url}/healthz", 60, children[0])
        wallets = root / "wallets"
        keys = {role: local_wallet(role, "default", wallets) for role in ("validator", *MINERS)}
        uids = {role: client.register(w, 1000.0 if role == "validator" else 0.0) for role, w in keys.items()}
        ports = {role: free_port() for role in MINERS}
        children.append(
            spawn(
                "good",
                [
                    *command,
                    *("miner", "--network", chain_url, "--netuid", str(NETUID), "--wallet-name", "good"),
                    *(
                        "--wallet-path",
                        str(wallets),
                        "--port",
                        str(ports["good"]),
                        "--metagraph-refresh",
                        "2",
                    ),
                ],
                root / "good.log",
            )
        )

        def in_process(role: str, backend: Any, late_by: float = 0.0) -> Callable[..., Any]:
            config = MinerConfig(
                network=chain_url, netuid=NETUID, wallet_name=role, port=ports[role], metagraph_refresh_s=2
            )
            app = build_app(config, LocalChainClient(chain_url, NETUID), backend, keys[role])
            return arrive_late(app, late_by) if late_by else app

        with (
            miner_in_thread(in_process("slow", TesseractBackend(), late_by=DEADLINE_S + 1.0), ports["slow"]),
            miner_in_thread(in_process("garbage", GarbageBackend()), ports["garbage"]),
        ):
            for role, port in ports.items():
                wait_healthy(f"http://{LOOPBACK}:{port}/healthz", 90, children[1] if role == "good" else None)
            metrics_port = free_port()
            state_path = root / "validator" / "state.json"
            validator_log = root / "validator.log"
            validator = spawn(
                "validator",
                [
                    *command,
                    *("validator", "--network", chain_url, "--netuid", str(NETUID)),
                    *(
                        "--wallet-name",
                        "validator",
                        "--wallet-path",
                        str(wallets),
                        "--state",
                        str(state_path),
                    ),
                    *("--metrics-port", str(metrics_port), "--sample-size", "3", "--round-interval", "1"),
                    *("--deadline", str(DEADLINE_S), "--ema-alpha", "0.3", "--chain-timeout", "5"),
                    *("--allowed-axon-network", "127.0.0.0/8"),  # the miners' axons are on loopback
                ],
                validator_log,
            )
            children.append(validator)
            metrics_url = f"http://{LOOPBACK}:{metrics_port}/metrics"
            wait_healthy(metrics_url, 60, validator)
            hotkeys = {role: w.hotkey.ss58_address for role, w in keys.items()}
            yield Running(client, hotkeys, uids, state_path, metrics_url, validator, validator_log)
    finally:
        stop_all(children, grace_s=20)
        client.close()


@pytest.fixture(scope="module")
def settled(subnet: Running) -> Running:
    """Wait until every miner was scored a few times and an epoch paid incentive from our weights."""

    def ready() -> bool:
        state = subnet.state()
        if state is None or state.rounds < 4 or state.last_weight_block is None:
            return False
        if not all(subnet.hotkeys[r] in state.scores for r in MINERS):
            return False
        first = next(
            (
                event["block"]
                for event in map(json.loads, subnet.validator_log.read_text().splitlines())
                if event.get("event") == "weights_set"
            ),
            None,
        )
        graph = subnet.metagraph()
        good = graph.by_hotkey(subnet.hotkeys["good"])
        # A whole tempo after the first weights: an epoch has paid from them. (Not after the last: the validator
        # sets weights again each tempo, so `block >= last + TEMPO` holds only in the instant before it does.)
        return first is not None and good is not None and good.incentive > 0 and graph.block >= first + TEMPO

    poll(ready, SETTLE_S, "scores, weights and an epoch", subnet.validator)
    return subnet


def test_ema_ranks_honest_ocr_above_garbage_and_late_answers(settled: Running) -> None:
    state = settled.state()
    assert state is not None
    ema = {role: state.scores[settled.hotkeys[role]].ema for role in MINERS}
    assert ema["good"] > ema["garbage"] >= ema["slow"], ema
    assert ema["slow"] == 0.0  # a correct answer past the deadline earns nothing


def test_weights_are_on_chain_and_were_never_rate_limited(settled: Running) -> None:
    graph = settled.metagraph()
    validator = graph.by_hotkey(settled.hotkeys["validator"])
    assert validator is not None and validator.validator_permit
    state = settled.state()
    assert state is not None and state.last_weight_block is not None
    assert validator.last_update >= state.last_weight_block
    blocks = [
        event["block"]
        for event in map(json.loads, settled.validator_log.read_text().splitlines())
        if event.get("event") == "weights_set"
    ]
    assert blocks, "no successful weight set logged"
    assert all(later - earlier >= max(TEMPO, RATE_LIMIT) for earlier, later in itertools.pairwise(blocks))
    text = httpx.get(settled.metrics_url, trust_env=False).text
    assert _value(text, names.VALIDATOR_WEIGHT_SET_ATTEMPTS, 'result="success"') >= 1
    assert _value(text, names.VALIDATOR_WEIGHT_SET_ATTEMPTS, 'result="rate_limited"') == 0
    assert _value(text, names.VALIDATOR_WEIGHTS_RATE_LIMIT, "") == RATE_LIMIT
    assert _value(text, names.VALIDATOR_TEMPO, "") == TEMPO


def test_incentive_follows_the_ema(settled: Running) -> None:
    graph = settled.metagraph()
    incentive = {role: graph.by_hotkey(settled.hotkeys[role]).incentive for role in MINERS}
    assert incentive["good"] > incentive["garbage"] >= incentive["slow"], incentive
    assert graph.by_hotkey(settled.hotkeys["validator"]).incentive == 0.0


def test_served_metrics_pass_promtool_and_name_every_miner(settled: Running) -> None:
    text = httpx.get(settled.metrics_url, trust_env=False).text
    for role in MINERS:
        assert f'miner_hotkey="{settled.hotkeys[role]}",uid="{settled.uids[role]}"' in text, role
    assert _value(text, names.VALIDATOR_RESPONSES, 'outcome="timeout"') >= 1
    assert_promtool_accepts_metrics(text)


def test_validator_stops_cleanly_and_keeps_its_state(settled: Running) -> None:
    before = settled.state()
    assert before is not None
    codes = stop_all([settled.validator], grace_s=20)
    assert codes == {"validator": 0}
    after = settled.state()
    assert after is not None and after.rounds >= before.rounds
    assert after.scores.keys() == before.scores.keys()


def _value(exposition: str, name: str, label: str) -> float:
    """The sum of the samples of `name` whose labels contain `label` (the validator's only)."""
    total = 0.0
    for line in exposition.splitlines():
        if line.startswith(name + "{") and label in line:
            total += float(line.rsplit(" ", 1)[1])
    return total
