"""The local chain as the `ocr-subnet chain serve` process on loopback, driven through its client.

Real wallets, real btauth/1 signatures, a real state file. Block production is observed by
polling with a bounded timeout; nothing here asserts how fast anything is.
"""

from __future__ import annotations

import json
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import bittensor as bt
import httpx
import pytest
from ocr_subnet.chain.local import HEALTH_PATH, INFO_PATH, LocalChainClient, subnet_path
from ocr_subnet.chain.port import AxonInfo, ChainUnavailable, WeightSetOutcome
from ocr_subnet.wallets import local_wallet

pytestmark = [pytest.mark.integration, pytest.mark.slow]

HOST = "127.0.0.1"
NETUID = 3
WAIT_S = 60.0  # a bound on waiting for the chain, never an assertion about speed

T = TypeVar("T")


@dataclass
class Chain:
    url: str
    process: subprocess.Popen[bytes]
    log: Path

    def client(self) -> LocalChainClient:
        return LocalChainClient(self.url, NETUID)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def wait_for(probe: Callable[[], T | None], what: str) -> T:
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        value = probe()
        if value is not None:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out after {WAIT_S}s waiting for {what}")


def healthy(url: str) -> bool | None:
    try:
        return True if httpx.get(url + HEALTH_PATH, timeout=1.0).status_code == 200 else None
    except httpx.TransportError:
        return None


def start_chain(state: Path, log: Path, *, block_time: float, tempo: int = 1000, rate_limit: int = 1000) -> Chain:
    script = shutil.which("ocr-subnet")
    assert script is not None, "the ocr-subnet console script is not installed (pip install -e .)"
    url = f"http://{HOST}:{free_port()}"
    command = [
        script, "chain", "serve", "--host", HOST, "--port", url.rsplit(":", 1)[1],
        "--state", str(state), "--netuid", str(NETUID), "--block-time", str(block_time),
        "--tempo", str(tempo), "--weights-rate-limit", str(rate_limit),
    ]  # fmt: skip
    with log.open("ab") as stderr:
        process = subprocess.Popen(command, stderr=stderr)
    chain = Chain(url, process, log)

    def up() -> bool | None:
        if process.poll() is not None:
            raise AssertionError(f"chain exited with {process.returncode}:\n{log.read_text()[-3000:]}")
        return healthy(url)

    wait_for(up, f"the chain at {url} to answer")
    return chain


def post(url: str, body: bytes, auth: dict[str, str]) -> httpx.Response:
    return httpx.post(url, content=body, headers={**auth, "content-type": "application/json"})


def stop(chain: Chain) -> None:
    if chain.process.poll() is None:
        chain.process.send_signal(signal.SIGINT)
        try:
            chain.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            chain.process.kill()
            chain.process.wait()


@pytest.fixture
def wallets(tmp_path: Path) -> dict[str, bt.Wallet]:
    return {name: local_wallet(name, wallets_dir=tmp_path / "wallets") for name in ("validator", "miner", "other")}


@pytest.fixture
def run_chain(tmp_path: Path) -> Iterator[Callable[..., Chain]]:
    started: list[Chain] = []

    def run(**flags: float) -> Chain:
        chain = start_chain(tmp_path / "state.json", tmp_path / "chain.log", **flags)
        started.append(chain)
        return chain

    yield run
    for chain in started:
        stop(chain)


def test_register_serve_axon_and_read_the_metagraph(run_chain, wallets):
    client = run_chain(block_time=0.5).client()

    validator_uid = client.register(wallets["validator"], stake=1_000.0)
    miner_uid = client.register(wallets["miner"])
    client.serve_axon(wallets["miner"], "127.0.0.1", 8091)
    graph = client.metagraph()

    assert (validator_uid, miner_uid) == (0, 1)
    assert graph.netuid == NETUID
    validator, miner = graph.by_uid(0), graph.by_uid(1)
    assert validator.hotkey == wallets["validator"].hotkey.ss58_address
    assert validator.coldkey == wallets["validator"].coldkeypub.ss58_address
    assert (validator.stake, validator.validator_permit) == (1_000.0, True)
    assert (miner.stake, miner.validator_permit) == (0.0, False)
    assert miner.axon == AxonInfo("127.0.0.1", 8091)
    assert client.hyperparameters().weights_rate_limit == 1000


def test_weights_are_accepted_only_from_the_signing_hotkey(run_chain, wallets):
    chain = run_chain(block_time=0.5)
    client = chain.client()
    client.register(wallets["validator"], stake=1_000.0)
    client.register(wallets["miner"])
    client.register(wallets["other"])

    accepted = client.set_weights(wallets["validator"], [1, 2], [0.7, 0.3], version_key=0)
    assert accepted.outcome is WeightSetOutcome.SUCCESS
    assert accepted.block is not None

    # A miner signs its own request: the chain acts for the miner, who has no permit.
    assert client.set_weights(wallets["miner"], [2], [1.0], 0).outcome is WeightSetOutcome.REJECTED

    # The miner signs, but claims to be the validator: the signature does not verify.
    identity = httpx.get(chain.url + INFO_PATH).json()["identity"]
    path = subnet_path(NETUID, "weights")
    body = json.dumps({"uids": [2], "weights": [1.0], "version_key": 0}).encode()
    forged = bt.http_auth.sign(wallets["miner"], method="POST", path=path, body=body, receiver_ss58=identity)
    forged[bt.http_auth.HEADER_HOTKEY] = wallets["validator"].hotkey.ss58_address
    response = post(chain.url + path, body, forged)
    assert response.status_code == 401

    # A genuine validator signature for someone else's chain, or replayed, is refused too.
    elsewhere = bt.http_auth.sign(
        wallets["validator"],
        method="POST",
        path=path,
        body=body,
        receiver_ss58=wallets["other"].hotkey.ss58_address,
    )
    assert post(chain.url + path, body, elsewhere).status_code == 401
    signed = bt.http_auth.sign(wallets["other"], method="POST", path=path, body=body, receiver_ss58=identity)
    assert post(chain.url + path, body, signed).status_code == 409  # no permit
    assert post(chain.url + path, body, signed).status_code == 401  # replay

    assert client.metagraph().by_uid(0).last_update == accepted.block


def test_a_second_weight_set_inside_the_limit_is_rate_limited(run_chain, wallets):
    client = run_chain(block_time=0.5, rate_limit=1000).client()
    client.register(wallets["validator"], stake=1_000.0)
    client.register(wallets["miner"])

    first = client.set_weights(wallets["validator"], [1], [1.0], version_key=0)
    second = client.set_weights(wallets["validator"], [1], [1.0], version_key=0)

    assert first.outcome is WeightSetOutcome.SUCCESS
    assert second.outcome is WeightSetOutcome.RATE_LIMITED
    assert "retry in" in second.message


def test_blocks_advance_and_incentive_follows_weights(run_chain, wallets):
    client = run_chain(block_time=0.05, tempo=3).client()
    start = client.current_block()
    wait_for(lambda: True if client.current_block() > start else None, "a new block")
    client.register(wallets["validator"], stake=1_000.0)
    client.register(wallets["miner"])
    client.register(wallets["other"])

    assert client.set_weights(wallets["validator"], [1, 2], [3.0, 1.0], 0).outcome is WeightSetOutcome.SUCCESS

    def paid() -> tuple[float, ...] | None:
        graph = client.metagraph()
        shares = tuple(graph.by_uid(uid).incentive for uid in (0, 1, 2))
        return shares if shares[1] > 0 else None

    assert wait_for(paid, "an epoch to pay the miners") == pytest.approx((0.0, 0.75, 0.25))


def test_a_restarted_chain_keeps_its_state(run_chain, wallets):
    first = run_chain(block_time=0.05)
    client = first.client()
    client.register(wallets["validator"], stake=1_000.0)
    client.register(wallets["miner"])
    client.serve_axon(wallets["miner"], "127.0.0.1", 8091)
    accepted = client.set_weights(wallets["validator"], [1], [1.0], version_key=0)
    before = client.metagraph()
    stop(first)

    second = run_chain(block_time=0.05)
    client = second.client()
    after = client.metagraph()

    assert after.block >= before.block
    assert [(n.uid, n.hotkey, n.stake, n.axon) for n in after.neurons] == [
        (n.uid, n.hotkey, n.stake, n.axon) for n in before.neurons
    ]
    assert after.by_uid(0).last_update == accepted.block
    rate_limited = client.set_weights(wallets["validator"], [1], [1.0], version_key=0)
    assert rate_limited.outcome is WeightSetOutcome.RATE_LIMITED  # same identity, same weights history


def test_a_chain_that_is_down_is_chain_unavailable(run_chain, wallets):
    chain = run_chain(block_time=0.5)
    client = chain.client()
    client.register(wallets["validator"], stake=1_000.0)
    stop(chain)

    with pytest.raises(ChainUnavailable):
        client.current_block()
    with pytest.raises(ChainUnavailable):
        client.metagraph()
    with pytest.raises(ChainUnavailable):
        client.set_weights(wallets["validator"], [0], [1.0], version_key=0)
    with pytest.raises(ChainUnavailable):
        client.serve_axon(wallets["validator"], "127.0.0.1", 9000)
