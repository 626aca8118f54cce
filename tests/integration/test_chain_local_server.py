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
from ocr_subnet.chain.port import AxonInfo, ChainRejected, ChainUnavailable, WeightSetOutcome
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


# Restarts, replays, corrupt state, kill -9, unreachable axons ------------------------------------


def signed_post(url: str, wallet: bt.Wallet, action: str, payload: dict) -> tuple[bytes, dict[str, str]]:
    """A signed request as it crossed the wire (body and headers), for replaying later."""
    identity = httpx.get(url + INFO_PATH).json()["identity"]
    body = json.dumps(payload).encode()
    path = subnet_path(NETUID, action)
    return body, bt.http_auth.sign(wallet, method="POST", path=path, body=body, receiver_ss58=identity)


def test_requests_captured_before_a_restart_are_refused_after_it(run_chain, wallets):
    first = run_chain(block_time=0.05, rate_limit=1000)
    client = first.client()
    client.register(wallets["validator"], stake=1_000.0)
    client.register(wallets["miner"])
    client.register(wallets["other"])
    client.serve_axon(wallets["miner"], "127.0.0.1", 8091)

    weights_body, weights_auth = signed_post(
        first.url, wallets["validator"], "weights", {"uids": [1], "weights": [1.0], "version_key": 0}
    )
    axon_body, axon_auth = signed_post(first.url, wallets["miner"], "axon", {"ip": "127.0.0.1", "port": 8091})
    assert post(first.url + subnet_path(NETUID, "weights"), weights_body, weights_auth).status_code == 200
    assert post(first.url + subnet_path(NETUID, "axon"), axon_body, axon_auth).status_code == 200
    client.serve_axon(wallets["miner"], "127.0.0.1", 9092)  # the miner moves
    stop(first)

    second = run_chain(block_time=0.05, rate_limit=1000)  # same state file; well inside btauth's 10 s window
    replayed = post(second.url + subnet_path(NETUID, "weights"), weights_body, weights_auth)
    assert replayed.status_code == 401, replayed.text
    replayed = post(second.url + subnet_path(NETUID, "axon"), axon_body, axon_auth)
    assert replayed.status_code == 401, replayed.text
    client = second.client()
    graph = client.metagraph()
    assert graph.by_uid(1).axon == AxonInfo("127.0.0.1", 9092)  # not moved back
    # The rate-limit clock was not reset: the validator's own next set, signed afresh, is still limited.
    assert client.set_weights(wallets["validator"], [2], [1.0], 0).outcome is WeightSetOutcome.RATE_LIMITED


def command(state: Path, *extra: str) -> list[str]:
    script = shutil.which("ocr-subnet")
    assert script is not None
    return [script, "chain", "serve", "--port", "1", "--netuid", str(NETUID), "--state", str(state), *extra]


def refused_start(state: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(command(state, *extra), capture_output=True, text=True, timeout=60)
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    return done


@pytest.mark.parametrize(
    "content", [b'{"version": 1, "identity": "5Gr', b"", b"\x00" * 64], ids=["truncated", "empty", "zeros"]
)
def test_a_corrupt_state_stops_the_chain_with_the_way_out_and_keeps_the_file(tmp_path, content):
    state = tmp_path / "state.json"
    state.write_bytes(content)

    done = refused_start(state)

    assert str(state) in done.stderr and "corrupt" in done.stderr
    assert f"ocr-subnet chain serve --state {state} --discard-corrupt-state" in done.stderr
    assert state.read_bytes() == content
    assert [p.name for p in tmp_path.iterdir()] == ["state.json"]


def test_a_state_path_that_is_a_directory_is_refused_without_a_traceback(tmp_path):
    done = refused_start(tmp_path)
    assert f"chain state {tmp_path} is a directory" in done.stderr


def test_discarding_two_corrupt_states_keeps_both_backups(tmp_path, wallets):
    state = tmp_path / "state.json"
    corruptions = [b'{"version": 1, "identity": "5Gr', b'{"version": 1, "block": 7, "neur']
    for corrupt in corruptions:
        state.write_bytes(corrupt)
        port = free_port()
        url = f"http://{HOST}:{port}"
        with (tmp_path / "chain.log").open("ab") as log:
            process = subprocess.Popen(
                [*command(state, "--discard-corrupt-state", "--block-time", "0.5"), "--port", str(port)],
                stderr=log,
            )
        chain = Chain(url, process, tmp_path / "chain.log")
        try:
            wait_for(lambda: healthy(url), "the new chain")  # noqa: B023
            chain.client().register(wallets["validator"], stake=1.0)  # a new chain, working
        finally:
            stop(chain)
    backups = sorted(tmp_path.glob("state.json.corrupt-*"))
    assert sorted(b.read_bytes() for b in backups) == sorted(corruptions)


def test_a_temp_file_left_by_kill_9_is_removed_at_the_next_start(run_chain, tmp_path, wallets):
    chain = run_chain(block_time=0.02)  # saves after every block
    chain.client().register(wallets["validator"], stake=1.0)
    chain.process.send_signal(signal.SIGKILL)
    chain.process.wait()
    stale = tmp_path / ".state.json.x8y7z6.tmp"  # a save cut short: kill -9 between write and rename
    stale.write_text('{"version": 1, "ident')

    again = run_chain(block_time=0.5)

    assert not stale.exists()
    assert not list(tmp_path.glob(".state.json.*.tmp"))
    assert again.client().metagraph().by_uid(0).hotkey == wallets["validator"].hotkey.ss58_address


@pytest.mark.parametrize("ip", ["224.0.0.1", "255.255.255.255", "0.0.0.0", "169.254.169.254", "fe80::1"])
def test_the_chain_refuses_axons_nobody_could_reach(run_chain, wallets, ip):
    chain = run_chain(block_time=0.5)
    client = chain.client()
    client.register(wallets["miner"])
    client.serve_axon(wallets["miner"], "127.0.0.1", 8091)

    with pytest.raises(ChainRejected, match="address"):
        client.serve_axon(wallets["miner"], ip, 8091)
    body, auth = signed_post(chain.url, wallets["miner"], "axon", {"ip": ip, "port": 8091})  # past the client
    refused = post(chain.url + subnet_path(NETUID, "axon"), body, auth)
    assert refused.status_code == 409 and refused.json()["code"] == "invalid_axon", refused.text
    assert client.metagraph().by_uid(0).axon == AxonInfo("127.0.0.1", 8091)


def test_a_client_signs_afresh_for_a_chain_restarted_under_it(tmp_path, wallets):
    """A running neuron's client keeps working across a restart: its first write after it is refused
    for naming the old run's receiver, and is signed again for the new one."""
    state, log = tmp_path / "state.json", tmp_path / "chain.log"
    first = start_chain(state, log, block_time=0.5)
    client = first.client()
    client.register(wallets["miner"])
    stop(first)
    port = first.url.rsplit(":", 1)[1]
    with log.open("ab") as stderr:
        process = subprocess.Popen([*command(state, "--block-time", "0.5"), "--port", port], stderr=stderr)
    second = Chain(first.url, process, log)
    try:
        wait_for(lambda: healthy(second.url), "the restarted chain")
        client.serve_axon(wallets["miner"], "127.0.0.1", 8093)
        assert client.metagraph().by_uid(0).axon == AxonInfo("127.0.0.1", 8093)
    finally:
        stop(second)
