"""The miner as the `ocr-subnet miner` process on loopback: a real local chain, real wallets, real
btauth/1 signatures, the tesseract backend and a generated invoice challenge."""

from __future__ import annotations

import contextlib
import json
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import bittensor as bt
import httpx
import pytest
from ocr_subnet.chain.local import LocalChainClient
from ocr_subnet.challenge.generate import generate_challenge
from ocr_subnet.miner.config import MinerConfig
from ocr_subnet.miner.run import bind_socket
from ocr_subnet.protocol import MAX_BODY_BYTES, encode_image
from ocr_subnet.sections import Section
from ocr_subnet.wallets import local_wallet

pytestmark = [pytest.mark.integration, pytest.mark.slow]

HOST = "127.0.0.1"
READY_TIMEOUT_S = 60.0  # a bound on start-up, never an assertion about speed
OCR_DEADLINE_S = 60.0  # tesseract on a shared CPU: generous, the test is about correctness


@dataclass
class RunningMiner:
    url: str
    port: int
    hotkey: str
    process: subprocess.Popen[bytes]


def ocr_subnet_command(*arguments: str) -> list[str]:
    """The installed `ocr-subnet` console script, as an operator would run it."""
    script = shutil.which("ocr-subnet")
    assert script is not None, "the ocr-subnet console script is not installed (pip install -e .)"
    return [script, *arguments]


def register(chain_url: str, wallet: bt.Wallet, stake: float) -> None:
    client = LocalChainClient(chain_url, 1)
    try:
        client.register(wallet, stake=stake)
    finally:
        client.close()


def free_port() -> int:
    with bind_socket(HOST, 0) as sock:
        return sock.getsockname()[1]


def wait_until_healthy(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{process.args} exited with {process.returncode}:\n{log.read_text()[-3000:]}")
        try:
            if httpx.get(f"{url}/healthz", timeout=1.0).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{url} not healthy within {READY_TIMEOUT_S}s:\n{log.read_text()[-3000:]}")


@contextlib.contextmanager
def running_chain(folder: Path) -> Iterator[str]:
    """The local chain, started the way operators start it: `ocr-subnet chain serve`; yields its URL."""
    port = free_port()
    command = ocr_subnet_command(
        "chain", "serve", "--host", HOST, "--port", str(port), "--state", str(folder / "s.json")
    )
    log = folder / "chain.log"
    with log.open("wb") as stderr:
        process = subprocess.Popen(command, stderr=stderr)
    url = f"http://{HOST}:{port}"
    try:
        wait_until_healthy(url, process, log)
        yield url
    finally:
        stop(process)


@pytest.fixture(scope="module")
def miner(
    wallets_dir: Path, chain_url: str, validator: bt.Wallet, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningMiner]:
    wallet = local_wallet("miner", wallets_dir=wallets_dir)
    register(chain_url, wallet, stake=0.0)
    port = free_port()
    command = ocr_subnet_command(
        "miner",
        "--network", chain_url, "--netuid", "1",
        "--wallet-name", "miner", "--wallet-hotkey", "default", "--wallet-path", str(wallets_dir),
        "--host", HOST, "--port", str(port), "--backend", "tesseract",
        "--min-stake", "100", "--max-concurrency", "1",
    )  # fmt: skip
    log = tmp_path_factory.mktemp("miner") / "stderr.log"
    with log.open("wb") as stderr:
        process = subprocess.Popen(command, stderr=stderr)
    url = f"http://{HOST}:{port}"
    try:
        wait_until_healthy(url, process, log)
        # A miner refuses what was signed before its start plus the allowed clock skew (a request an earlier
        # run may have served); validators sign afresh every round. Begin past that line.
        time.sleep(MinerConfig.auth_allowed_skew_s)
        yield RunningMiner(url, port, wallet.hotkey.ss58_address, process)
    finally:
        stop(process)


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def signed_post(miner: RunningMiner, signer: bt.Wallet, body: bytes) -> httpx.Response:
    headers = bt.http_auth.sign(signer, method="POST", path="/ocr", body=body, receiver_ss58=miner.hotkey)
    headers["Content-Type"] = "application/json"
    return httpx.post(f"{miner.url}/ocr", content=body, headers=headers, timeout=OCR_DEADLINE_S + 10)


def test_signed_request_gets_sections_for_a_generated_challenge(miner: RunningMiner, validator: bt.Wallet) -> None:
    challenge = generate_challenge(seed=11, difficulty=0)
    body = json.dumps(
        {"image": encode_image(challenge.image), "challenge_id": challenge.id, "deadline_s": OCR_DEADLINE_S}
    ).encode()
    response = signed_post(miner, validator, body)
    assert response.status_code == 200, response.text
    sections = [Section.model_validate(s) for s in response.json()["sections"]]
    truth_words = {word for section in challenge.sections for word in section.text.split()}
    read_words = {word for section in sections for word in section.text.split()}
    assert len(truth_words & read_words) >= len(truth_words) // 2  # the page arrived intact and was read


def test_axon_is_served_on_chain_at_start(miner: RunningMiner, chain_url: str) -> None:
    client = LocalChainClient(chain_url, 1)
    try:
        neuron = client.metagraph().by_hotkey(miner.hotkey)
    finally:
        client.close()
    assert neuron is not None and neuron.axon is not None
    assert (neuron.axon.ip, neuron.axon.port) == (HOST, miner.port)


def test_unsigned_request_is_unauthorized_over_http(miner: RunningMiner) -> None:
    response = httpx.post(f"{miner.url}/ocr", content=b'{"image": ""}', timeout=10)
    assert response.status_code == 401


def test_unregistered_wallet_is_blacklisted_over_http(miner: RunningMiner, wallets_dir: Path) -> None:
    stranger = local_wallet("stranger", wallets_dir=wallets_dir)
    response = signed_post(miner, stranger, b'{"image": ""}')
    assert response.status_code == 403
    assert response.json()["detail"] == "caller is blacklisted: unregistered"


def test_oversized_body_is_refused_over_http(miner: RunningMiner, validator: bt.Wallet) -> None:
    body = b"x" * (MAX_BODY_BYTES + 1)
    response = signed_post(miner, validator, body)
    assert response.status_code == 413


def test_metrics_count_the_answers(miner: RunningMiner) -> None:
    metrics = httpx.get(f"{miner.url}/metrics", timeout=10).text
    assert f'ocr_subnet_miner_requests_total{{miner_hotkey="{miner.hotkey}",outcome="ok"}}' in metrics


def test_miner_stops_gracefully_on_sigterm(chain_url: str, wallets_dir: Path, tmp_path: Path) -> None:
    wallet = local_wallet("short-lived", wallets_dir=wallets_dir)
    register(chain_url, wallet, stake=0.0)
    port = free_port()
    command = ocr_subnet_command(
        "miner",
        "--network", chain_url, "--wallet-name", "short-lived", "--wallet-path", str(wallets_dir),
        "--port", str(port),
    )  # fmt: skip
    log = tmp_path / "stderr.log"
    with log.open("wb") as stderr:
        process = subprocess.Popen(command, stderr=stderr)
    try:
        wait_until_healthy(f"http://{HOST}:{port}", process, log)
        process.send_signal(signal.SIGTERM)
        # uvicorn re-raises the signal once it has shut down, so "killed by SIGTERM" is a clean stop
        assert process.wait(timeout=30) in (0, -signal.SIGTERM)
    finally:
        stop(process)
    events = [json.loads(line)["event"] for line in log.read_text().splitlines()]
    assert {"miner_started", "miner_stopped"} <= set(events)


def test_a_request_captured_before_a_restart_is_refused_after_it(
    chain_url: str, wallets_dir: Path, validator: bt.Wallet, tmp_path: Path
) -> None:
    """btauth/1 accepts a nonce for 10 s; a restarted miner's seen-nonce cache is empty, yet it must not
    serve again what its previous run served."""
    wallet = local_wallet("restarted", wallets_dir=wallets_dir)
    register(chain_url, wallet, stake=0.0)
    port = free_port()
    command = ocr_subnet_command(
        "miner",
        "--network", chain_url, "--wallet-name", "restarted", "--wallet-path", str(wallets_dir),
        "--host", HOST, "--port", str(port), "--backend", "tesseract", "--no-serve-axon",
    )  # fmt: skip
    url = f"http://{HOST}:{port}"
    body = json.dumps({"image": encode_image(generate_challenge(seed=3, difficulty=0).image), "deadline_s": 30.0})
    body = json.dumps({**json.loads(body), "challenge_id": "replay"}).encode()

    def send(headers: dict[str, str]) -> httpx.Response:
        return httpx.post(
            f"{url}/ocr", content=body, headers={**headers, "Content-Type": "application/json"}, timeout=60
        )

    log = tmp_path / "first.log"
    with log.open("wb") as stderr:
        process = subprocess.Popen(command, stderr=stderr)
    try:
        wait_until_healthy(url, process, log)
        for _ in range(50):  # a fresh start refuses requests signed in its first seconds: sign again
            captured = bt.http_auth.sign(
                validator, method="POST", path="/ocr", body=body, receiver_ss58=wallet.hotkey.ss58_address
            )
            first = send(captured)
            if first.status_code != 401:
                break
            time.sleep(0.2)
        assert first.status_code == 200, first.text
        captured_at = time.monotonic()
    finally:
        stop(process)

    log = tmp_path / "second.log"
    with log.open("wb") as stderr:
        process = subprocess.Popen(command, stderr=stderr)
    try:
        wait_until_healthy(url, process, log)
        replayed = send(captured)
        age = time.monotonic() - captured_at
    finally:
        stop(process)
    assert age < 10.0, f"the miner took {age:.1f}s to restart: the capture aged out, the test proves nothing"
    assert replayed.status_code == 401, replayed.text
    assert "signed before this server started" in replayed.text
