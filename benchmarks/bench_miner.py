"""Miner throughput and latency on loopback, against tesseract called directly in the same run.

The baseline decodes the base64 image and calls the backend with no HTTP, no signature and no
queue; the served mode sends btauth/1-signed requests to a real uvicorn miner (in a thread of this
process) backed by the same engine. The ratios show what the server adds. The chain is a static
stand-in: requests are decided from the cached metagraph and never touch it.

    python benchmarks/bench_miner.py --requests 8 --concurrency 1 --concurrency 2 [--json]
"""

from __future__ import annotations

import json
import logging
import statistics
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import asdict, dataclass

import bittensor as bt
import httpx
import typer
from ocr_subnet.backends.tesseract import TesseractBackend
from ocr_subnet.chain.port import (
    Hyperparameters,
    Metagraph,
    NeuronInfo,
    WeightSetOutcome,
    WeightSetResult,
)
from ocr_subnet.challenge.generate import generate_challenge
from ocr_subnet.logs import configure_logging
from ocr_subnet.miner.config import MinerConfig
from ocr_subnet.miner.run import bind_socket, build_server
from ocr_subnet.protocol import OCR_PATH, decode_image, encode_image
from ocr_subnet.wallets import local_wallet
from rich.console import Console
from rich.table import Table

HOST = "127.0.0.1"
MAX_REQUESTS = 200
DISTINCT_PAGES = 4
DEADLINE_S = 120.0
MAX_CONCURRENCY = 16  # server slots: never the limit, the client's concurrency is


@dataclass(frozen=True)
class Result:
    mode: str
    concurrency: int
    requests: int
    rps: float
    p50_s: float
    p95_s: float


class StaticChain:
    """A chain that always shows the same metagraph: a permitted validator and the miner."""

    def __init__(self, validator_hotkey: str, miner_hotkey: str) -> None:
        self.netuid = 1
        self._metagraph = Metagraph(
            netuid=1,
            block=1,
            neurons=(
                NeuronInfo(0, validator_hotkey, validator_hotkey, 1000.0, True, None, 0),
                NeuronInfo(1, miner_hotkey, miner_hotkey, 0.0, False, None, 0),
            ),
        )

    def current_block(self) -> int:
        return 1

    def metagraph(self) -> Metagraph:
        return self._metagraph

    def hyperparameters(self) -> Hyperparameters:
        return Hyperparameters(tempo=360, weights_rate_limit=100, commit_reveal_enabled=False)

    def serve_axon(self, wallet: bt.Wallet, ip: str, port: int) -> None:
        """Not needed: the benchmark knows the miner's address."""

    def set_weights(
        self, wallet: bt.Wallet, uids: Sequence[int], weights: Sequence[float], version_key: int
    ) -> WeightSetResult:
        return WeightSetResult(WeightSetOutcome.REJECTED, message="a benchmark sets no weights")


def summarize(mode: str, concurrency: int, latencies: Sequence[float], wall_s: float) -> Result:
    cuts = statistics.quantiles(latencies, n=100, method="inclusive")
    return Result(mode, concurrency, len(latencies), len(latencies) / wall_s, cuts[49], cuts[94])


def measure(call: Callable[[int], None], requests: int, concurrency: int) -> tuple[list[float], float]:
    """Runs `call(i)` for i < requests on `concurrency` threads: per-call latencies and wall time."""

    def timed(index: int) -> float:
        started = time.perf_counter()
        call(index)
        return time.perf_counter() - started

    call(0)  # warm-up: first-call costs are not what we measure
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        latencies = list(pool.map(timed, range(requests)))
    return latencies, time.perf_counter() - started


@contextmanager
def serving_miner(wallets: str) -> Iterator[tuple[str, bt.Wallet, str]]:
    """A tesseract miner on a loopback port: (its /ocr URL, a permitted validator, its hotkey)."""
    validator = local_wallet("bench-validator", wallets_dir=wallets)
    miner = local_wallet("bench-miner", wallets_dir=wallets)
    chain = StaticChain(validator.hotkey.ss58_address, miner.hotkey.ss58_address)
    config = MinerConfig(host=HOST, port=0, serve_axon=False, max_concurrency=MAX_CONCURRENCY, max_queue=0)
    server = build_server(config, chain, TesseractBackend(), miner)
    sock = bind_socket(HOST, 0)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        while not server.started:
            if not thread.is_alive():
                raise RuntimeError("the miner did not start; see its log lines above")
            time.sleep(0.05)
        yield f"http://{HOST}:{sock.getsockname()[1]}{OCR_PATH}", validator, miner.hotkey.ss58_address
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


def run(requests: int, concurrency_levels: Sequence[int], difficulty: int) -> list[Result]:
    """Direct and served rows alternate per concurrency level, so drifting machine load hits both."""
    pages = [encode_image(generate_challenge(seed, difficulty).image) for seed in range(DISTINCT_PAGES)]
    bodies = [json.dumps({"image": page, "deadline_s": DEADLINE_S}).encode() for page in pages]
    backend = TesseractBackend()

    def direct(index: int) -> None:
        backend.recognize(decode_image(pages[index % len(pages)]))

    results = []
    with (
        tempfile.TemporaryDirectory() as wallets,
        serving_miner(wallets) as (url, validator, receiver),
        httpx.Client(timeout=DEADLINE_S) as client,
    ):

        def served(index: int) -> None:
            body = bodies[index % len(bodies)]
            headers = bt.http_auth.sign(validator, method="POST", path=OCR_PATH, body=body, receiver_ss58=receiver)
            client.post(url, content=body, headers=headers).raise_for_status()

        for concurrency in concurrency_levels:
            results.append(summarize("direct", concurrency, *measure(direct, requests, concurrency)))
            results.append(summarize("served", concurrency, *measure(served, requests, concurrency)))
    return results


def ratios(results: Sequence[Result]) -> dict[int, dict[str, float]]:
    """Served over direct at each concurrency: throughput (below 1 is a loss) and p50 latency."""
    direct = {r.concurrency: r for r in results if r.mode == "direct"}
    return {
        r.concurrency: {
            "rps_ratio": r.rps / direct[r.concurrency].rps,
            "p50_ratio": r.p50_s / direct[r.concurrency].p50_s,
        }
        for r in results
        if r.mode == "served"
    }


def main(
    requests: int = typer.Option(8, min=2, max=MAX_REQUESTS, help="timed requests per mode and concurrency"),
    concurrency: list[int] = typer.Option(
        [1, 2], min=1, max=MAX_CONCURRENCY, help="client threads; repeat for several levels"
    ),
    difficulty: int = typer.Option(0, min=0, max=4, help="challenge difficulty of the pages sent"),
    as_json: bool = typer.Option(False, "--json", help="print JSON instead of a table"),
) -> None:
    """Measure the miner's requests/s and latency against tesseract called directly."""
    configure_logging(logging.WARNING)
    results = run(requests, sorted(set(concurrency)), difficulty)
    overhead = ratios(results)
    if as_json:
        typer.echo(json.dumps({"results": [asdict(r) for r in results], "served_over_direct": overhead}))
        return
    table = Table(title=f"miner on loopback, tesseract backend, {requests} requests per row")
    for column in ("mode", "concurrency", "req/s", "p50 s", "p95 s", "req/s vs direct", "p50 vs direct"):
        table.add_column(column, justify="left" if column == "mode" else "right")
    for r in results:
        ratio = overhead.get(r.concurrency) if r.mode == "served" else None
        table.add_row(
            r.mode,
            str(r.concurrency),
            f"{r.rps:.2f}",
            f"{r.p50_s:.3f}",
            f"{r.p95_s:.3f}",
            f"{ratio['rps_ratio']:.3f}" if ratio else "",
            f"{ratio['p50_ratio']:.3f}" if ratio else "",
        )
    Console().print(table)


if __name__ == "__main__":
    typer.run(main)
