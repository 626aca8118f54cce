"""Triton under overload: goodput and p99 at 1x, 2x and 4x the load the server can carry.

A real `ocr-subnet triton serve` on loopback serves a model of known cost: the fake pipeline
(tests/unit/test_triton_fake.py), which holds its one instance `--delay` seconds per batch of at
most `--max-batch` pages. That fixes the server's capacity whatever else the machine runs, so the
figures show the queueing, not the CPU. Steps, all in one run:

  capacity   `--max-batch` x 4 requests kept in flight, no deadline: answers/s (the 1x load)
  offered    open-loop arrivals at 1x, 2x, 4x that rate for `--duration` s, each request with a
             deadline of `--deadline` s, sent the way `TritonBackend` sends it (the client timeout
             plus the queue timeout that Triton's queue policy enforces: `propagated`), and the same
             load with the client timeout only (`baseline`: Triton does not know the deadline)

Goodput is the answers that came back within their deadline per second of offered load, as % of
capacity; p99 is over the answered requests. Between steps the benchmark waits for Triton's queue
to drain (the baseline leaves abandoned requests in it).

    python benchmarks/bench_overload.py
    python benchmarks/bench_overload.py --delay 0.05 --max-batch 4 --deadline 1 --duration 8 --json
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import httpx
import numpy as np
import tritonclient.grpc as grpcclient
import typer
from ocr_subnet.backends.triton import CHANNEL_ARGS, QUEUE_SHARE
from ocr_subnet.local.procs import free_port, spawn, stop_all, wait_healthy
from ocr_subnet.local.up import ocr_subnet_command
from ocr_subnet.metric_names import TRITON_PENDING_REQUEST_COUNT
from ocr_subnet.triton import LOOPBACK, wire
from ocr_subnet.triton.repository import ServingConfig, build_repository
from tritonclient.utils import np_to_triton_dtype

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # the fake pipeline lives with the tests

from tests.unit.test_triton_fake import FAKE_PIPELINE, write_fake_weights  # noqa: E402

START_TIMEOUT_S = 120.0
DRAIN_TIMEOUT_S = 120.0


@dataclass
class Step:
    mode: str  # capacity | propagated | baseline
    load: float  # offered load as a multiple of capacity
    offered_per_s: float
    sent: int
    answered: int  # answers, in time or not
    in_deadline: int
    goodput_per_s: float
    goodput_pct: float  # of capacity
    p99_s: float | None  # over the answered requests
    rejected: int  # shed by Triton's queue policy


class Server:
    def __init__(self, folder: Path, delay_s: float, max_batch: int) -> None:
        weights = write_fake_weights(folder / "weights", delay_s=delay_s)
        config = ServingConfig(max_batch_size=max_batch, preferred_batch_sizes=(max_batch,))
        repository = build_repository(weights, folder / "repository", config).path
        self.http_port, self.grpc_port, self.metrics_port = (free_port(LOOPBACK) for _ in range(3))
        argv = [
            *ocr_subnet_command(),
            *("triton", "serve", "--model-repo", str(repository), "--pipeline", FAKE_PIPELINE),
            *("--http-port", str(self.http_port), "--grpc-port", str(self.grpc_port)),
            *("--metrics-port", str(self.metrics_port), "--log-level", "WARNING"),
        ]
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
        self.child = spawn("triton", argv, folder / "triton.log", env=env)
        wait_healthy(f"http://{LOOPBACK}:{self.http_port}/v2/health/ready", START_TIMEOUT_S, self.child)

    def pending(self) -> float:
        text = httpx.get(f"http://{LOOPBACK}:{self.metrics_port}/metrics", timeout=10).text
        return sum(
            float(line.rsplit(" ", 1)[1])
            for line in text.splitlines()
            if line.startswith(TRITON_PENDING_REQUEST_COUNT + "{")
        )

    def drain(self) -> None:
        time.sleep(2.5)  # Triton's metrics refresh every 2 s
        deadline = time.monotonic() + DRAIN_TIMEOUT_S
        while self.pending() > 0 and time.monotonic() < deadline:
            time.sleep(0.5)


def page_inputs() -> list[grpcclient.InferInput]:
    inputs = []
    for name, array in wire.page_tensors([np.zeros((16, 16), dtype=np.uint8)]).items():
        tensor = grpcclient.InferInput(name, list(array.shape), np_to_triton_dtype(array.dtype))
        tensor.set_data_from_numpy(array)
        inputs.append(tensor)
    return inputs


def measure_capacity(client: grpcclient.InferenceServerClient, in_flight: int, duration_s: float) -> float:
    inputs = page_inputs()
    answers = 0
    lock = threading.Lock()
    stop = time.monotonic() + duration_s

    def loop() -> None:
        nonlocal answers
        while time.monotonic() < stop:
            client.infer(wire.MODEL_NAME, inputs, client_timeout=60.0)
            with lock:
                answers += 1

    started = time.monotonic()
    threads = [threading.Thread(target=loop) for _ in range(in_flight)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return answers / (time.monotonic() - started)


def offer(
    client: grpcclient.InferenceServerClient, rate: float, duration_s: float, deadline_s: float, propagate: bool
) -> tuple[int, list[float], int]:
    """Open-loop arrivals at `rate`/s: (sent, latencies of the answered, rejected by Triton)."""
    inputs = page_inputs()
    latencies: list[float] = []
    rejected = 0
    outstanding = threading.Semaphore(0)
    lock = threading.Lock()
    queue_us = max(int(deadline_s * QUEUE_SHARE * 1e6), 1) if propagate else None

    def done(sent_at: float, result: object, error: object) -> None:
        nonlocal rejected
        with lock:
            if error is None:
                latencies.append(time.monotonic() - sent_at)
            elif "timeout expired" in str(error).lower():
                rejected += 1
        outstanding.release()

    count = int(rate * duration_s)
    start = time.monotonic()
    for i in range(count):
        time.sleep(max(0.0, start + i / rate - time.monotonic()))
        sent_at = time.monotonic()
        client.async_infer(
            wire.MODEL_NAME,
            inputs,
            callback=lambda result, error, sent_at=sent_at: done(sent_at, result, error),
            client_timeout=deadline_s,
            timeout=queue_us,
        )
    for _ in range(count):
        outstanding.acquire(timeout=deadline_s + 30)
    return count, latencies, rejected


def p99(values: list[float]) -> float | None:
    if len(values) < 2:
        return values[0] if values else None
    return statistics.quantiles(values, n=100, method="inclusive")[98]


def main(
    delay: float = typer.Option(0.1, help="seconds the fake model holds its instance per batch"),
    max_batch: int = typer.Option(2, min=1, help="Triton's max_batch_size (and preferred size)"),
    deadline: float = typer.Option(1.0, help="each request's deadline, seconds"),
    duration: float = typer.Option(6.0, help="seconds of offered load per step"),
    loads: list[float] = typer.Option([1.0, 2.0, 4.0], "--load", help="multiples of capacity; repeat"),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Goodput and p99 under 1x, 2x, 4x overload, with and without deadline propagation into Triton."""
    steps: list[Step] = []
    with tempfile.TemporaryDirectory(prefix="bench-overload-") as folder:
        server = Server(Path(folder), delay, max_batch)
        client = grpcclient.InferenceServerClient(f"{LOOPBACK}:{server.grpc_port}", channel_args=CHANNEL_ARGS)
        try:
            capacity = measure_capacity(client, max_batch * 4, duration)
            steps.append(Step("capacity", 1.0, capacity, 0, 0, 0, capacity, 100.0, None, 0))
            for propagate in (True, False):
                for load in loads:
                    server.drain()
                    rate = capacity * load
                    sent, latencies, rejected = offer(client, rate, duration, deadline, propagate)
                    good = sum(1 for latency in latencies if latency <= deadline)
                    goodput = good / duration
                    steps.append(
                        Step(
                            "propagated" if propagate else "baseline",
                            load,
                            round(rate, 2),
                            sent,
                            len(latencies),
                            good,
                            round(goodput, 2),
                            round(100 * goodput / capacity, 1),
                            None if not latencies else round(p99(latencies) or 0.0, 3),
                            rejected,
                        )
                    )
        finally:
            client.close()
            stop_all([server.child], grace_s=30)
    if as_json:
        typer.echo(json.dumps([asdict(step) for step in steps], indent=2))
        return
    model = f"fake model: {delay:g} s per batch of <= {max_batch}"
    typer.echo(f"capacity {capacity:.1f} answers/s ({model}); deadline {deadline:g} s")
    typer.echo(f"{'mode':<11}{'load':>5}{'offered/s':>10}{'sent':>6}{'answered':>9}{'in time':>8}"
               f"{'goodput/s':>10}{'% cap':>7}{'p99 s':>7}{'shed':>6}{'vs base':>9}")  # fmt: skip
    baseline = {step.load: step for step in steps if step.mode == "baseline"}
    for step in steps[1:]:
        base = baseline.get(step.load)
        ratio = (
            f"{step.goodput_per_s / base.goodput_per_s:.1f}x"
            if step.mode == "propagated" and base and base.goodput_per_s
            else ("inf" if step.mode == "propagated" and base else "")
        )
        p99_text = "-" if step.p99_s is None else f"{step.p99_s:.2f}"
        typer.echo(
            f"{step.mode:<11}{step.load:>4g}x{step.offered_per_s:>10.1f}{step.sent:>6}{step.answered:>9}"
            f"{step.in_deadline:>8}{step.goodput_per_s:>10.1f}{step.goodput_pct:>7.1f}{p99_text:>7}{step.rejected:>6}{ratio:>9}"
        )


if __name__ == "__main__":
    typer.run(main)
