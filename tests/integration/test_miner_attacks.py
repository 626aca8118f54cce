"""The `ocr-subnet miner` process under the attacks of issue 13, on loopback: a real local chain, real
wallets and signatures, the tesseract backend, default limits. Memory is the kernel's high-water mark
(VmHWM) of the miner process; the bound is 1 GiB, half the Miner CRD's default limit of 2Gi."""

from __future__ import annotations

import io
import json
import subprocess
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import bittensor as bt
import httpx
import pytest
from ocr_subnet.challenge.generate import generate_challenge
from ocr_subnet.protocol import MAX_BODY_BYTES, encode_image
from ocr_subnet.wallets import local_wallet
from PIL import Image

from tests.integration.test_miner_integration import (
    HOST,
    RunningMiner,
    free_port,
    ocr_subnet_command,
    register,
    signed_post,
    stop,
    wait_until_healthy,
)
from tests.support.flood import ConnectionFlood

pytestmark = [pytest.mark.integration, pytest.mark.slow]

MIB = 1024 * 1024
PEAK_RSS_LIMIT = 1024 * MIB  # the target; the Miner CRD's default memory limit (2Gi) is the ceiling
UPLOAD_GROWTH_LIMIT = 256 * MIB  # refused uploads: the body budget (64 MiB) plus transient copies, with margin
START_FLOOR_S = 2.5  # a fresh miner refuses requests signed in its first 2 s (replays across restarts)


@pytest.fixture(scope="module")
def miner_wallet(wallets_dir: Path, chain_url: str) -> bt.Wallet:
    wallet = local_wallet("miner", wallets_dir=wallets_dir)
    register(chain_url, wallet, stake=0.0)
    return wallet


@pytest.fixture
def miner(
    chain_url: str,
    wallets_dir: Path,
    validator: bt.Wallet,
    miner_wallet: bt.Wallet,
    tmp_path: Path,
    request: pytest.FixtureRequest,
) -> Iterator[RunningMiner]:
    """A fresh miner per test, so each memory high-water mark belongs to one attack (a test may add options to its
    command line through `indirect` parametrization)."""
    port = free_port()
    command = ocr_subnet_command(
        "miner",
        "--network", chain_url, "--wallet-name", "miner", "--wallet-path", str(wallets_dir),
        "--host", HOST, "--port", str(port), "--backend", "tesseract", "--no-serve-axon",
        *getattr(request, "param", ()),
    )  # fmt: skip
    log = tmp_path / "miner.log"
    with log.open("wb") as stderr:
        process = subprocess.Popen(command, stderr=stderr)
    url = f"http://{HOST}:{port}"
    try:
        wait_until_healthy(url, process, log)
        time.sleep(START_FLOOR_S)
        yield RunningMiner(url, port, miner_wallet.hotkey.ss58_address, process)
    finally:
        stop(process)


def memory(process: subprocess.Popen[bytes], key: str) -> int:
    """VmRSS (now) or VmHWM (the peak so far) of the process, in bytes."""
    for line in Path(f"/proc/{process.pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1]) * 1024
    raise AssertionError(f"no {key} for pid {process.pid}")


def at_once(count: int, send: Callable[[int], str]) -> Counter[str]:
    with ThreadPoolExecutor(max_workers=count) as pool:
        return Counter(pool.map(send, range(count)))


def status_of(send: Callable[[], httpx.Response]) -> str:
    try:
        return str(send().status_code)
    except httpx.HTTPError as exc:  # a connection error is an answer the test must see
        return type(exc).__name__


def page_body(challenge_id: str, deadline_s: float = 60.0) -> bytes:
    image = generate_challenge(seed=11, difficulty=0).image
    return json.dumps({"image": encode_image(image), "challenge_id": challenge_id, "deadline_s": deadline_s}).encode()


def assert_still_serves(miner: RunningMiner, validator: bt.Wallet) -> None:
    response = signed_post(miner, validator, page_body("after-the-attack"))
    assert response.status_code == 200, response.text[:300]
    assert response.json()["sections"]


# --- 1. connection starvation -----------------------------------------------------------------------


# The head deadline (5 s by default) closes the flood's connections together, and on a loaded machine they did not all
# come back before it closed them again (50 open at the end of one CI run, a peak of 492 in a rerun): 30 s keeps the
# 550 held while the validator is served, which is what this test is about. Closing slow heads is tested on its own.
@pytest.mark.parametrize("miner", [("--header-timeout", "30")], indirect=True)
def test_a_validator_is_served_while_500_idle_and_50_slowloris_connections_are_open(
    miner: RunningMiner, validator: bt.Wallet
) -> None:
    with ConnectionFlood(HOST, miner.port, idle=500, slow=50) as flood:
        health = Counter(status_of(lambda: httpx.get(f"{miner.url}/healthz", timeout=10)) for _ in range(30))
        answer = signed_post(miner, validator, page_body("during-the-flood"))
        held = flood.peak
    assert health == {"200": 30}
    assert answer.status_code == 200, answer.text[:300]
    assert answer.json()["sections"]
    assert held >= 500  # the flood held 500+ open while the validator was served (reopened as the miner closed them)


# --- 2. memory ------------------------------------------------------------------------------------


def big_jpeg() -> bytes:
    """5000x5000 pixels (75 MB decoded as RGB) in about half a MiB of JPEG."""
    page = Image.open(io.BytesIO(generate_challenge(seed=5, difficulty=0).image)).convert("RGB")
    out = io.BytesIO()
    page.resize((5000, 5000), Image.Resampling.BILINEAR).save(out, format="JPEG", quality=40)
    return out.getvalue()


def test_twenty_signed_5000x5000_jpegs_at_once_stay_under_1_gib(miner: RunningMiner, validator: bt.Wallet) -> None:
    image = encode_image(big_jpeg())

    def send(index: int) -> str:
        body = json.dumps({"image": image, "challenge_id": f"big-{index}", "deadline_s": 30.0}).encode()
        return status_of(lambda: signed_post(miner, validator, body))

    answers = at_once(20, send)
    peak = memory(miner.process, "VmHWM")
    assert set(answers) <= {"200", "503"}, answers  # served, or refused as overloaded: never dropped
    assert answers["503"] >= 1  # the pixel budget refused some instead of decoding them all
    assert peak < PEAK_RSS_LIMIT, f"peak RSS {peak / MIB:.0f} MiB"
    assert_still_serves(miner, validator)


def upload() -> bytes:
    return b'{"image": "' + b"A" * (MAX_BODY_BYTES - 13) + b'"}'


def test_sixty_unsigned_8_mib_uploads_naming_a_validator_are_refused_unread(
    miner: RunningMiner, validator: bt.Wallet
) -> None:
    body = upload()
    headers = {bt.http_auth.HEADER_HOTKEY: validator.hotkey.ss58_address, "Content-Type": "application/json"}
    before = memory(miner.process, "VmRSS")
    answers = at_once(60, lambda _: status_of(lambda: httpx.post(f"{miner.url}/ocr", content=body, headers=headers)))
    peak = memory(miner.process, "VmHWM")
    assert answers == {"401": 60}
    assert peak - before < UPLOAD_GROWTH_LIMIT, f"grew {(peak - before) / MIB:.0f} MiB"
    assert_still_serves(miner, validator)


def test_sixty_8_mib_uploads_with_forged_signatures_stay_within_the_body_budget(
    miner: RunningMiner, validator: bt.Wallet
) -> None:
    body = upload()
    before = memory(miner.process, "VmRSS")

    def send(index: int) -> str:  # complete, fresh headers signed over another body
        headers = bt.http_auth.sign(
            validator, method="POST", path="/ocr", body=b"other %d" % index, receiver_ss58=miner.hotkey
        )
        return status_of(lambda: httpx.post(f"{miner.url}/ocr", content=body, headers=headers, timeout=60))

    answers = at_once(60, send)
    peak = memory(miner.process, "VmHWM")
    assert set(answers) <= {"401", "503"}, answers
    assert peak - before < UPLOAD_GROWTH_LIMIT, f"grew {(peak - before) / MIB:.0f} MiB"
    assert_still_serves(miner, validator)


# --- 3. strict types ------------------------------------------------------------------------------


@pytest.mark.parametrize("deadline", ['"12"', "true"])
def test_a_deadline_of_the_wrong_json_type_is_a_clear_400(
    miner: RunningMiner, validator: bt.Wallet, deadline: str
) -> None:
    image = encode_image(generate_challenge(seed=11, difficulty=0).image)
    body = f'{{"image": "{image}", "challenge_id": "lax", "deadline_s": {deadline}}}'.encode()
    response = signed_post(miner, validator, body)
    assert response.status_code == 400, response.text[:300]
    assert response.json()["detail"].startswith("invalid request: deadline_s:")
