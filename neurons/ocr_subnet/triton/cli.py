"""`ocr-subnet triton ...` (serve the model, build and check model repositories) and `ocr-subnet ocr`."""

from __future__ import annotations

import json
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

import typer
from rich.console import Console
from rich.table import Table

from ocr_subnet.model import Precision
from ocr_subnet.triton import LOOPBACK, MAX_BATCH_SIZE, MAX_QUEUE_DELAY_US, PIPELINE, PREFERRED_BATCH_SIZES

if TYPE_CHECKING:
    from ocr_subnet.backends.base import OcrBackend
    from ocr_subnet.sections import Section
    from ocr_subnet.triton.repository import Repository

PIPELINE_HELP = "module:Class of the OCR pipeline (a test seam)"

# `ocr-subnet ocr` is a batch tool: it waits for a busy server rather than failing pages at the miner's
# 10 s deadline. Each image gets `--timeout` seconds in all; each attempt at most ATTEMPT_TIMEOUT_S.
OCR_TIMEOUT_S = 900.0
ATTEMPT_TIMEOUT_S = 120.0
BACKOFF_BASE_S = 0.5  # doubled after each failed attempt, up to BACKOFF_MAX_S
BACKOFF_MAX_S = 15.0


def serve(
    model_repo: Path | None = typer.Option(None, help="model repository; unset serves the packaged weights"),
    host: str = typer.Option(LOOPBACK, help="address of all three endpoints (0.0.0.0 in a pod)"),
    http_port: int = typer.Option(8000, min=1, max=65535, help="HTTP/REST, with /v2/health/live and /ready"),
    grpc_port: int = typer.Option(8001, min=1, max=65535, help="gRPC, what the miner's backend calls"),
    metrics_port: int = typer.Option(8002, min=1, max=65535, help="Prometheus /metrics (nv_inference_*)"),
    health_port: int = typer.Option(
        0, min=0, max=65535, help="GET /ready: 200 while a canary inference answers (notices a wedged model); 0: off"
    ),
    canary_timeout: float = typer.Option(15.0, min=0.1, help="seconds the canary inference may take"),
    exit_timeout: int = typer.Option(10, min=0, help="seconds to finish in-flight requests on SIGTERM"),
    threads: int = typer.Option(0, min=0, help="torch CPU threads (set to the pod's CPU limit); 0: torch's default"),
    precision: Precision = typer.Option(
        Precision.AUTO,
        help="network dtype: auto is bf16 on GPUs and CPUs that run it natively (AVX512-BF16, AMX), else fp32",
    ),
    log_level: str = typer.Option("INFO"),
    pipeline: str = typer.Option(PIPELINE, hidden=True, help=PIPELINE_HELP),
) -> None:
    """Serve the OCR model with Triton Inference Server until SIGTERM/SIGINT (what Triton pods run).

    Exits 3 at once when the repository or its weights are missing or corrupt.
    """
    from ocr_subnet.logs import configure_logging
    from ocr_subnet.triton.server import ServeOptions
    from ocr_subnet.triton.server import serve as run_server

    ports = [port for port in (http_port, grpc_port, metrics_port, health_port) if port]
    if len(set(ports)) < len(ports):
        raise typer.BadParameter("--http-port, --grpc-port, --metrics-port and --health-port must differ")
    configure_logging(log_level.upper())
    options = ServeOptions(
        host, http_port, grpc_port, metrics_port, exit_timeout, pipeline, threads, precision.value,
        health_port=health_port, canary_timeout_s=canary_timeout,
    )  # fmt: skip
    raise typer.Exit(run_server(model_repo, options))


def build(
    out: Path = typer.Option(..., help="the repository folder to write (absent or empty)"),
    weights: Path | None = typer.Option(None, help="exported model weights; unset uses the packaged ones"),
    max_batch_size: int = typer.Option(MAX_BATCH_SIZE, min=1, help="largest batch Triton forms (GPU: 64)"),
    preferred_batch_size: list[int] = typer.Option(
        list(PREFERRED_BATCH_SIZES), help="batch sizes the batcher aims for; repeat"
    ),
    max_queue_delay_us: int = typer.Option(MAX_QUEUE_DELAY_US, min=0, help="how long a request waits for batch-mates"),
    instances: int = typer.Option(1, min=1, help="model copies serving concurrently"),
    instance_kind: str = typer.Option("auto", help="auto (GPU when present, else CPU) | cpu | gpu"),
    load: bool = typer.Option(True, help="also load the model and run a warm-up page, as serve does at start"),
    pipeline: str = typer.Option(PIPELINE, hidden=True, help=PIPELINE_HELP),
) -> None:
    """Write a Triton model repository (config.pbtxt, weights, SHA256SUMS) and check it."""
    from ocr_subnet.triton.repository import (
        InstanceKind,
        RepositoryError,
        ServingConfig,
        build_repository,
        packaged_weights_dir,
    )

    try:
        config = ServingConfig(
            max_batch_size=max_batch_size,
            preferred_batch_sizes=tuple(preferred_batch_size),
            max_queue_delay_us=max_queue_delay_us,
            instance_count=instances,
            instance_kind=InstanceKind(instance_kind),
        )
        repository = build_repository(weights or packaged_weights_dir(), out, config)
    except (RepositoryError, ValueError) as exc:
        raise typer.BadParameter(str(exc)) from exc
    _check_loads(repository, load, pipeline)
    typer.echo(f"model repository written to {out}: {config.summary()}")


def check(
    model_repo: Path = typer.Argument(..., help="the repository folder"),
    load: bool = typer.Option(True, help="also load the model and run a warm-up page, as serve does at start"),
    pipeline: str = typer.Option(PIPELINE, hidden=True, help=PIPELINE_HELP),
) -> None:
    """Check a model repository the way `triton serve` does at start; exit 1 saying what is wrong."""
    from ocr_subnet.triton.repository import RepositoryError, open_repository

    try:
        repository = open_repository(model_repo)
    except RepositoryError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from exc
    _check_loads(repository, load, pipeline)
    typer.echo(f"{model_repo}: ok, {repository.config.summary()}")


def _check_loads(repository: Repository, load: bool, pipeline: str) -> None:
    from ocr_subnet.triton.repository import RepositoryError
    from ocr_subnet.triton.server import load_pipelines

    if not load:
        return
    try:
        device, _ = load_pipelines(repository, pipeline)
    except RepositoryError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from exc
    typer.echo(f"the model loads and answers on {device}")


def ocr(
    images: list[Path] = typer.Argument(..., help="PNG or JPEG files", exists=True, dir_okay=False),
    backend: str | None = typer.Option(
        None, help="triton | tesseract [default: triton when the model's weights are packaged]"
    ),
    triton_url: str | None = typer.Option(None, help="grpc://HOST:PORT; unset starts a Triton server here"),
    as_json: bool = typer.Option(False, "--json", help='print [{"sections": [...]}, ...], one per image'),
    concurrency: int = typer.Option(2, min=1, max=64, help="images in flight at once"),
    timeout: float = typer.Option(
        OCR_TIMEOUT_S, min=1.0, help="seconds to keep trying one image on a busy or restarting server, retries included"
    ),
) -> None:
    """Read invoice images with an OCR backend, as a miner would answer them.

    A batch tool waits: an image that fails for a reason that may pass (the server busy, shedding,
    restarting) is tried again with backoff until its --timeout; progress goes to stderr.
    Exits 1 when an image could not be read (its entry then has no sections; the error is on stderr).
    """
    from ocr_subnet.backends.base import BackendError
    from ocr_subnet.miner.run import BACKENDS, BackendOptions, default_backend, load_backend

    backend = backend or default_backend()
    if backend not in BACKENDS:
        raise typer.BadParameter(f"unknown backend {backend!r}; choose one of {sorted(BACKENDS)}")
    if triton_url is not None and backend != "triton":
        raise typer.BadParameter("--triton-url applies to --backend triton only")
    try:
        engine = load_backend(backend, BackendOptions(triton_url, min(timeout, ATTEMPT_TIMEOUT_S)))
    except BackendError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from exc
    reader = PatientReader(engine, timeout, total=len(images))
    try:
        with ThreadPoolExecutor(concurrency) as pool:
            answers = list(pool.map(reader.read, images))
    finally:
        engine.close()
    for path, (_, error) in zip(images, answers, strict=True):
        if error:
            typer.echo(f"error: {path}: {error}", err=True)
    if as_json:
        typer.echo(json.dumps([{"sections": [s.model_dump(mode="json") for s in sections]} for sections, _ in answers]))
    else:
        _print_tables(images, [sections for sections, _ in answers])
    if any(error for _, error in answers):
        raise typer.Exit(1)


def backoff_delay(attempts_made: int) -> float:
    return min(BACKOFF_MAX_S, BACKOFF_BASE_S * 2 ** (attempts_made - 1))


@dataclass
class PatientReader:
    """Reads one image after another for a batch: transient backend failures are retried with
    backoff until the image's `timeout_s`; progress lines go to `progress` (stderr)."""

    engine: OcrBackend
    timeout_s: float
    total: int
    progress: TextIO = field(default_factory=lambda: sys.stderr)
    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep
    _done: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def read(self, path: Path) -> tuple[list[Section], str]:
        """(sections, "") or ([], why): one unreadable image must not lose the others' answers."""
        from ocr_subnet.backends.base import BackendError
        from ocr_subnet.protocol import ProtocolError, decode_image, encode_image

        try:
            image = decode_image(encode_image(path.read_bytes()))  # the checks a miner applies to a request
        except (OSError, ProtocolError) as exc:
            return self._finished(path, [], str(exc))
        deadline = self.clock() + self.timeout_s
        attempts = 0
        while True:
            attempts += 1
            try:
                return self._finished(path, self.engine.recognize(image), "")
            except BackendError as exc:
                delay = backoff_delay(attempts)
                if not exc.retryable or self.clock() + delay >= deadline:
                    why = (
                        str(exc)
                        if not exc.retryable
                        else f"gave up after {attempts} attempt(s) in {self.timeout_s:g} s: {exc}"
                    )
                    return self._finished(path, [], why)
                self._say(f"{path}: attempt {attempts} failed ({exc}); retrying in {delay:g} s")
                self.sleep(delay)

    def _finished(self, path: Path, sections: list[Section], error: str) -> tuple[list[Section], str]:
        with self._lock:
            self._done += 1
            done = self._done
        outcome = f"failed: {error}" if error else f"{len(sections)} sections"
        self._say(f"[{done}/{self.total}] {path}: {outcome}")
        return sections, error

    def _say(self, line: str) -> None:
        with self._lock:
            print(line, file=self.progress, flush=True)


def _print_tables(images: list[Path], answers: list[list[Section]]) -> None:
    console = Console()
    for path, sections in zip(images, answers, strict=True):
        table = Table(title=f"{path} ({len(sections)} sections)")
        for column in ("text", "position", "font"):
            table.add_column(column)
        for section in sections:
            box = ", ".join(f"{v:.0f}" for v in section.position)
            table.add_row(section.text, f"[{box}]", f"{section.font.family} {section.font.size:g}")
        console.print(table)


def register(app: typer.Typer) -> None:
    """Add this part's commands to the `ocr-subnet` app."""
    triton_app = typer.Typer(no_args_is_help=True, help="Serve the OCR model with Triton Inference Server.")
    triton_app.command("serve")(serve)
    repo_app = typer.Typer(no_args_is_help=True, help="Build and check Triton model repositories.")
    repo_app.command("build")(build)
    repo_app.command("check")(check)
    triton_app.add_typer(repo_app, name="repo")
    app.add_typer(triton_app, name="triton")
    app.command("ocr")(ocr)
