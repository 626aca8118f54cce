"""A real miner (`ocr-subnet miner --backend triton --triton-url ...`) in front of a real Triton server
that the tests stop, slow down and bring back: the miner must answer 503 within the caller's
deadline while Triton is down or slow, and answer 200 again once it is back."""

from __future__ import annotations

import json
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import bittensor as bt
import httpx
import pytest
from ocr_subnet.challenge.generate import generate_challenge
from ocr_subnet.miner.config import MinerConfig
from ocr_subnet.protocol import encode_image
from ocr_subnet.triton.repository import packaged_weights_exist
from ocr_subnet.wallets import local_wallet

from tests.integration.test_miner_integration import (
    HOST,
    RunningMiner,
    free_port,
    ocr_subnet_command,
    register,
    running_chain,
    stop,
    wait_until_healthy,
)
from tests.integration.test_triton_serving import TritonProcess, fake_repository

pytestmark = [pytest.mark.integration, pytest.mark.slow]

DEADLINE_S = 3.0  # the validator's deadline in these requests
RECOVERY_TIMEOUT_S = 90.0  # a bound on waiting for recovery, never an assertion about speed


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("triton-miner")


@pytest.fixture(scope="module")
def chain_url(folder: Path) -> Iterator[str]:
    with running_chain(folder) as url:
        yield url


@pytest.fixture(scope="module")
def validator(folder: Path, chain_url: str) -> bt.Wallet:
    wallet = local_wallet("validator", wallets_dir=folder / "wallets")
    register(chain_url, wallet, stake=1000.0)
    return wallet


@pytest.fixture(scope="module")
def triton(folder: Path) -> Iterator[TritonProcess]:
    server = TritonProcess(fake_repository(folder / "fast"), folder / "triton.log").start()
    try:
        yield server
    finally:
        if server.child is not None and server.child.alive:
            server.stop()


@pytest.fixture(scope="module")
def miner(folder: Path, chain_url: str, validator: bt.Wallet, triton: TritonProcess) -> Iterator[RunningMiner]:
    wallet = local_wallet("miner", wallets_dir=folder / "wallets")
    register(chain_url, wallet, stake=0.0)
    port = free_port()
    command = ocr_subnet_command(
        "miner",
        "--network", chain_url, "--wallet-name", "miner", "--wallet-path", str(folder / "wallets"),
        "--host", HOST, "--port", str(port), "--backend", "triton", "--triton-url", triton.grpc_url,
    )  # fmt: skip
    log = folder / "miner.log"
    with log.open("wb") as stderr:
        process = subprocess.Popen(command, stderr=stderr)
    url = f"http://{HOST}:{port}"
    try:
        wait_until_healthy(url, process, log)
        time.sleep(MinerConfig.auth_allowed_skew_s)  # past the start-bound nonce line (test_miner_integration)
        yield RunningMiner(url, port, wallet.hotkey.ss58_address, process)
    finally:
        stop(process)


def ask(miner: RunningMiner, validator: bt.Wallet, deadline_s: float = DEADLINE_S) -> httpx.Response:
    """One signed OCR request; the client waits well past its deadline, so an answer that arrives is
    the miner's own (503 or 200), not our timeout."""
    challenge = generate_challenge(seed=21, difficulty=1)
    body = json.dumps({"image": encode_image(challenge.image), "deadline_s": deadline_s}).encode()
    headers = bt.http_auth.sign(validator, method="POST", path="/ocr", body=body, receiver_ss58=miner.hotkey)
    headers["Content-Type"] = "application/json"
    return httpx.post(f"{miner.url}/ocr", content=body, headers=headers, timeout=deadline_s + 30)


def ask_until(miner: RunningMiner, validator: bt.Wallet, done: Callable[[httpx.Response], bool]) -> httpx.Response:
    """Asks until `done` holds (or the recovery bound passes): right after Triton restarts, the
    miner's gRPC channel may still be waiting out its reconnect backoff, and the breaker its cooldown."""
    deadline = time.monotonic() + RECOVERY_TIMEOUT_S
    while True:
        response = ask(miner, validator)
        if done(response) or time.monotonic() > deadline:
            return response
        time.sleep(0.5)


def reconnected(response: httpx.Response) -> bool:
    return response.status_code != 503 or not any(
        reason in response.json()["detail"] for reason in ("UNAVAILABLE", "not calling it")
    )


def test_the_miner_answers_through_triton(miner: RunningMiner, validator: bt.Wallet) -> None:
    response = ask(miner, validator)
    assert response.status_code == 200, response.text
    assert response.json()["sections"]
    assert httpx.get(f"{miner.url}/healthz", timeout=10).json()["backend"] == "triton"


def test_triton_down_is_503_and_the_miner_recovers_when_it_returns(
    miner: RunningMiner, validator: bt.Wallet, triton: TritonProcess
) -> None:
    triton.stop()
    details = []
    for _ in range(4):  # enough to open the breaker: the last answer comes without calling Triton
        down = ask(miner, validator)
        assert down.status_code == 503, down.text
        details.append(down.json()["detail"])
    assert "UNAVAILABLE" in details[0]
    assert "not calling it" in details[-1]
    triton.start()
    back = ask_until(miner, validator, lambda response: response.status_code == 200)
    assert back.status_code == 200, back.text


def test_a_slow_triton_is_503_within_the_deadline_and_the_miner_recovers(
    miner: RunningMiner, validator: bt.Wallet, triton: TritonProcess, folder: Path
) -> None:
    fast_repository = triton.model_repo
    triton.stop()
    triton.model_repo = fake_repository(folder / "slow", delay_s=DEADLINE_S + 5)
    triton.start()
    slow = ask_until(miner, validator, reconnected)
    assert slow.status_code == 503, slow.text
    assert "deadline" in slow.json()["detail"]
    triton.stop()
    triton.model_repo = fast_repository
    triton.start()
    back = ask_until(miner, validator, lambda response: response.status_code == 200)
    assert back.status_code == 200, back.text
    metrics = httpx.get(f"{miner.url}/metrics", timeout=10).text
    assert 'outcome="backend_error"' in metrics


@pytest.mark.skipif(not packaged_weights_exist(), reason="no packaged model weights yet")
def test_a_miner_without_a_triton_url_serves_the_packaged_model_and_stops_its_server(
    folder: Path, chain_url: str, validator: bt.Wallet
) -> None:
    wallet = local_wallet("embedding-miner", wallets_dir=folder / "wallets")
    register(chain_url, wallet, stake=0.0)
    port = free_port()
    command = ocr_subnet_command(
        "miner",
        "--network", chain_url, "--wallet-name", "embedding-miner", "--wallet-path", str(folder / "wallets"),
        "--host", HOST, "--port", str(port), "--backend", "triton",
    )  # fmt: skip
    log = folder / "embedding-miner.log"
    with log.open("wb") as stderr:
        process = subprocess.Popen(command, stderr=stderr)
    miner = RunningMiner(f"http://{HOST}:{port}", port, wallet.hotkey.ss58_address, process)
    try:
        wait_until_healthy(miner.url, process, log)
        time.sleep(MinerConfig.auth_allowed_skew_s)
        response = ask(miner, validator, deadline_s=60.0)
        assert response.status_code == 200, response.text
    finally:
        stop(process)
    started = next(json.loads(line) for line in log.read_text().splitlines() if "embedded_triton_started" in line)
    host, _, grpc_port = started["url"].removeprefix("grpc://").rpartition(":")
    with pytest.raises(ConnectionRefusedError):  # the miner took its Triton server down with it
        socket.create_connection((host, int(grpc_port)), timeout=5).close()
