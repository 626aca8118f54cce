"""The miner's memory and availability under the attacks of issue 13, before and after the fix, in one run.

Each attack hits a fresh `ocr-subnet miner` process (tesseract backend, default limits) on loopback,
registered on a real local chain with a permitted validator. The same attacks run against the code of
a git revision (`--before`, unpacked with `git archive` into a temporary folder, nothing in the repository
touched) and against this working tree, so the ratio compares two measurements taken on the same machine
minutes apart.

    python benchmarks/bench_miner_attacks.py [--before REV] [--attack big-images ...] [--json]

Attacks:
  big-images        20 concurrent signed requests, each a 5000x5000 JPEG (~0.5 MiB)
  unsigned-uploads  60 concurrent 8 MiB uploads that only name a validator's hotkey
  forged-uploads    60 concurrent 8 MiB uploads with complete btauth/1 headers and a wrong signature
  connections       500 idle TCP connections and 50 slowloris ones (a header byte a second), kept open
                    (reopened when closed); meanwhile a validator's signed request and 50 /healthz probes

Peak RSS is the kernel's high-water mark (VmHWM) of the miner process; "tree" adds its children
(tesseract), sampled every 20 ms.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path

import bittensor as bt
import httpx
import typer
from ocr_subnet.chain.local import LocalChainClient
from ocr_subnet.challenge.generate import generate_challenge
from ocr_subnet.protocol import MAX_BODY_BYTES, OCR_PATH, encode_image
from ocr_subnet.wallets import local_wallet
from PIL import Image
from rich.console import Console
from rich.table import Table

HOST = "127.0.0.1"
REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # the connection flood lives with the tests

from tests.support.flood import ConnectionFlood  # noqa: E402

DEFAULT_BEFORE = "9520484"  # the last commit before issue 13's miner fixes
ATTACKS = ("big-images", "unsigned-uploads", "forged-uploads", "connections")
READY_TIMEOUT_S = 90.0
LAUNCH = "import sys; from ocr_subnet.cli import app; sys.argv[0] = 'ocr-subnet'; app()"
MIB = 1024 * 1024
START_FLOOR_S = 2.5  # a miner refuses requests signed in its first 2 s (replay protection across restarts)


@dataclass
class Measurement:
    code: str
    attack: str
    idle_rss_mib: float
    peak_rss_mib: float
    peak_tree_rss_mib: float
    statuses: dict[str, int]
    extra: dict[str, float | int | str] = field(default_factory=dict)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def wait_healthy(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{process.args[:3]} exited with {process.returncode}:\n{log.read_text()[-2000:]}")
        with contextlib.suppress(httpx.TransportError):
            if httpx.get(f"{url}/healthz", timeout=1.0).status_code == 200:
                return
        time.sleep(0.1)
    raise RuntimeError(f"{url} not healthy within {READY_TIMEOUT_S}s:\n{log.read_text()[-2000:]}")


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def status_kib(pid: int, key: str) -> int:
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return 0


def tree_rss_kib(pid: int) -> int:
    """The process's resident memory plus its direct children's (tesseract runs as a child)."""
    total = status_kib(pid, "VmRSS")
    with contextlib.suppress(OSError):
        for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split():
            total += status_kib(int(child), "VmRSS")
    return total


class PeakSampler:
    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.peak_kib = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(0.02):
            self.peak_kib = max(self.peak_kib, tree_rss_kib(self.pid))

    def __enter__(self) -> PeakSampler:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()


@contextlib.contextmanager
def local_chain(folder: Path) -> Iterator[str]:
    port = free_port()
    log = folder / "chain.log"
    command = [shutil.which("ocr-subnet") or "ocr-subnet", "chain", "serve", "--host", HOST, "--port", str(port)]
    with log.open("wb") as stderr:
        process = subprocess.Popen([*command, "--state", str(folder / "chain.json")], stderr=stderr)
    url = f"http://{HOST}:{port}"
    try:
        wait_healthy(url, process, log)
        yield url
    finally:
        stop(process)


@contextlib.contextmanager
def miner_process(code: Path, chain_url: str, wallets: Path, folder: Path) -> Iterator[tuple[str, int]]:
    """`ocr-subnet miner` from the `ocr_subnet` package under `code`: (its URL, its pid)."""
    port = free_port()
    command = [
        sys.executable, "-c", LAUNCH, "miner",
        "--network", chain_url, "--wallet-name", "bench-miner", "--wallet-path", str(wallets),
        "--host", HOST, "--port", str(port), "--backend", "tesseract", "--no-serve-axon",
    ]  # fmt: skip
    log = folder / f"miner-{port}.log"
    env = {**os.environ, "PYTHONPATH": str(code)}
    with log.open("wb") as stderr:
        process = subprocess.Popen(command, stderr=stderr, env=env)
    url = f"http://{HOST}:{port}"
    try:
        wait_healthy(url, process, log)
        time.sleep(START_FLOOR_S)
        yield url, process.pid
    finally:
        stop(process)


def big_jpeg() -> bytes:
    """A challenge page blown up to 5000x5000 pixels: 25 MP decoded (75 MB as RGB), about 0.5 MiB as JPEG."""
    page = Image.open(io.BytesIO(generate_challenge(seed=5, difficulty=0).image)).convert("RGB")
    out = io.BytesIO()
    page.resize((5000, 5000), Image.Resampling.BILINEAR).save(out, format="JPEG", quality=40)
    return out.getvalue()


def signed_headers(validator: bt.Wallet, receiver: str, body: bytes) -> dict[str, str]:
    headers = bt.http_auth.sign(validator, method="POST", path=OCR_PATH, body=body, receiver_ss58=receiver)
    return {**headers, "Content-Type": "application/json"}


def concurrently(count: int, send: Callable[[int], str]) -> dict[str, int]:
    with ThreadPoolExecutor(max_workers=count) as pool:
        return dict(Counter(pool.map(send, range(count))))


def post_status(url: str, body: bytes, headers: dict[str, str], timeout: float) -> str:
    try:
        return str(httpx.post(url + OCR_PATH, content=body, headers=headers, timeout=timeout).status_code)
    except httpx.HTTPError as exc:
        return type(exc).__name__


def attack_big_images(url: str, validator: bt.Wallet, receiver: str) -> tuple[dict[str, int], dict]:
    jpeg = big_jpeg()
    body = json.dumps({"image": encode_image(jpeg), "deadline_s": 30.0}).encode()

    def send(i: int) -> str:
        unique = body[:-1] + f', "challenge_id": "big-{i}"}}'.encode()
        return post_status(url, unique, signed_headers(validator, receiver, unique), 60)

    return concurrently(20, send), {"jpeg_kib": round(len(jpeg) / 1024)}


def upload_body() -> bytes:
    filler = MAX_BODY_BYTES - len(b'{"image": ""}')
    return b'{"image": "' + b"A" * filler + b'"}'


def attack_unsigned_uploads(url: str, validator: bt.Wallet, receiver: str) -> tuple[dict[str, int], dict]:
    body = upload_body()
    headers = {bt.http_auth.HEADER_HOTKEY: validator.hotkey.ss58_address, "Content-Type": "application/json"}
    return concurrently(60, lambda _: post_status(url, body, headers, 60)), {"body_mib": len(body) / MIB}


def attack_forged_uploads(url: str, validator: bt.Wallet, receiver: str) -> tuple[dict[str, int], dict]:
    body = upload_body()

    def send(i: int) -> str:  # headers signed over another body: complete, fresh, and wrong
        return post_status(url, body, signed_headers(validator, receiver, b"other %d" % i), 60)

    return concurrently(60, send), {"body_mib": len(body) / MIB}


def attack_connections(url: str, validator: bt.Wallet, receiver: str) -> tuple[dict[str, int], dict]:
    port = int(url.rsplit(":", 1)[1])
    page = generate_challenge(seed=7, difficulty=0).image
    body = json.dumps({"image": encode_image(page), "challenge_id": "flood", "deadline_s": 30.0}).encode()
    with ConnectionFlood(HOST, port, idle=500, slow=50) as flood:
        time.sleep(2.0)  # every connection is open and the slow ones are mid-header
        latencies, health = [], Counter()
        for _ in range(50):
            started = time.perf_counter()
            try:
                health[str(httpx.get(f"{url}/healthz", timeout=5.0).status_code)] += 1
            except httpx.HTTPError as exc:
                health[type(exc).__name__] += 1
            latencies.append(time.perf_counter() - started)
            time.sleep(0.1)
        validator_status = post_status(url, body, signed_headers(validator, receiver, body), 40)
        opened = flood.opened
    p99 = statistics.quantiles(latencies, n=100, method="inclusive")[98]
    extra = {"validator_status": validator_status, "healthz_p99_s": round(p99, 3), "connections_opened": opened}
    return {f"healthz {k}": v for k, v in health.items()}, extra


ATTACK_FUNCTIONS = {
    "big-images": attack_big_images,
    "unsigned-uploads": attack_unsigned_uploads,
    "forged-uploads": attack_forged_uploads,
    "connections": attack_connections,
}


def unpack(revision: str, into: Path) -> Path:
    """The `neurons` folder of `revision`, extracted with `git archive` (the repository is only read)."""
    archive = subprocess.run(
        ["git", "-C", str(REPO), "archive", revision, "neurons"], check=True, capture_output=True
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)
    return into / "neurons"


def measure(
    code_name: str, code: Path, attack: str, chain_url: str, wallets: Path, folder: Path, validator: bt.Wallet
) -> Measurement:
    receiver = local_wallet("bench-miner", wallets_dir=wallets).hotkey.ss58_address
    with miner_process(code, chain_url, wallets, folder) as (url, pid):
        idle = status_kib(pid, "VmRSS")
        with PeakSampler(pid) as sampler:
            statuses, extra = ATTACK_FUNCTIONS[attack](url, validator, receiver)
            time.sleep(0.5)
        peak = status_kib(pid, "VmHWM")
    return Measurement(code_name, attack, idle / 1024, peak / 1024, sampler.peak_kib / 1024, statuses, extra)


def run(before: str | None, attacks: list[str]) -> list[Measurement]:
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        wallets = folder / "wallets"
        codes = {"after": REPO / "neurons"}
        if before:
            (folder / "before").mkdir()
            codes = {"before": unpack(before, folder / "before"), **codes}
        with local_chain(folder) as chain_url:
            validator = local_wallet("bench-validator", wallets_dir=wallets)
            miner = local_wallet("bench-miner", wallets_dir=wallets)
            client = LocalChainClient(chain_url, 1)
            try:
                client.register(validator, stake=1000.0)
                client.register(miner, stake=0.0)
            finally:
                client.close()
            for attack in attacks:
                for name, code in codes.items():
                    results.append(measure(name, code, attack, chain_url, wallets, folder, validator))
                    print(json.dumps(asdict(results[-1])), file=sys.stderr, flush=True)
    return results


def main(
    before: str = typer.Option(DEFAULT_BEFORE, help="git revision measured as the baseline; '' to skip it"),
    attack: list[str] = typer.Option(list(ATTACKS), help="attacks to run; repeat for several"),
    as_json: bool = typer.Option(False, "--json", help="print JSON instead of a table"),
) -> None:
    """Measure a miner's peak memory and availability under attack, before and after the fix."""
    unknown = set(attack) - set(ATTACKS)
    if unknown:
        raise typer.BadParameter(f"unknown attacks {sorted(unknown)}; choose from {ATTACKS}")
    results = run(before or None, attack)
    peaks = {(r.attack, r.code): r.peak_rss_mib for r in results}
    if as_json:
        typer.echo(json.dumps([asdict(r) for r in results]))
        return
    table = Table(title="miner under attack on loopback (tesseract backend, default limits)")
    for column in ("attack", "code", "idle MiB", "peak MiB", "peak w/ children", "after/before", "answers", "other"):
        table.add_column(column)
    for r in results:
        base = peaks.get((r.attack, "before"))
        ratio = f"{r.peak_rss_mib / base:.2f}" if base and r.code == "after" else ""
        table.add_row(
            r.attack,
            r.code,
            f"{r.idle_rss_mib:.0f}",
            f"{r.peak_rss_mib:.0f}",
            f"{r.peak_tree_rss_mib:.0f}",
            ratio,
            " ".join(f"{k}:{v}" for k, v in sorted(r.statuses.items())),
            " ".join(f"{k}={v}" for k, v in r.extra.items()),
        )
    Console(width=200).print(table)


if __name__ == "__main__":
    typer.run(main)
