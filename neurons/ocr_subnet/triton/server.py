"""`ocr-subnet triton serve`: the OCR model behind a real Triton Inference Server (nvidia-pytriton).

Start-up checks everything before a port is bound: the repository (config, checksums), loading
the model on its device, and one warm-up page through it. So missing or corrupt weights end the
process at start with a clear message (exit 3), never at the first request. Then PyTriton starts
`tritonserver` (HTTP with /v2/health/live|ready, gRPC, Prometheus metrics with the nv_inference_*
series) with the model already in its repository, so /v2/health/ready turns 200 only once the
model serves; one infer function per model instance, Triton's dynamic batcher groups requests.
SIGTERM or SIGINT stop it gracefully: Triton finishes in-flight requests (up to `exit_timeout_s`),
then the process exits 0.

PyTriton's Python-backend stub links the system libpython, not this interpreter's (DESIGN.md), so
the server process gets this interpreter's LIBDIR first on LD_LIBRARY_PATH. PyTriton copies the
environment when it starts `tritonserver`, so setting it here, before the start, is enough.
"""

from __future__ import annotations

import contextlib
import importlib
import logging
import os
import signal
import socket
import sysconfig
import tempfile
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from ocr_subnet.logs import log_event
from ocr_subnet.sections import Section
from ocr_subnet.triton import wire
from ocr_subnet.triton.repository import (
    Repository,
    RepositoryError,
    ServingConfig,
    build_repository,
    open_repository,
    packaged_weights_dir,
    resolve_device,
)

logger = logging.getLogger(__name__)

STARTUP_FAILURE_EXIT_CODE = 3  # the miner's code for a failed start, so launchers read both alike
WARMUP_PAGE_SHAPE = (64, 64)
QUEUE_TIMEOUT_US = 60_000_000  # the longest a request naming no timeout waits in Triton's queue
CANARY_PAGE_SHAPE = (8, 8)
CANARY_PERIOD_S = 5.0
# A canary waits in Triton's queue like any request: under load up to a client's queue share of its
# deadline (10 s x 0.75 in the miner), so its timeout is above that; a wedged model never answers.
CANARY_TIMEOUT_S = 15.0


class ServeFailed(RuntimeError):
    """Triton could not start or stopped on its own; the message says why."""


class Pipeline(Protocol):
    def __call__(self, pages: Sequence[np.ndarray]) -> list[list[Section]]: ...


class ModelThread:
    """One model instance whose every torch call (load, warm-up, requests) runs on one thread of its own.

    PyTriton calls infer functions from its own threads. Once a second thread has run OpenMP work in
    the process (say, loading on the main thread, then serving from PyTriton's), GNU OpenMP sees more
    threads than cores and stops spinning between parallel regions: the recognizer's BiLSTM, many small
    regions, ran ~6x slower and a page ~45 ms slower on 2 cores. Confining the model to one thread
    keeps a single OpenMP team.
    """

    def __init__(self, load: Callable[[], Pipeline], threads: int) -> None:
        self._executor = ThreadPoolExecutor(1, "ocr-model", initializer=_limit_threads, initargs=(threads,))
        self._pipeline = self._executor.submit(load).result()
        self.finished = 0  # calls the model returned from: the canary's evidence that a busy model still moves

    def __call__(self, pages: Sequence[np.ndarray]) -> list[list[Section]]:
        return self._executor.submit(self._run, pages).result()

    def _run(self, pages: Sequence[np.ndarray]) -> list[list[Section]]:
        try:
            return self._pipeline(pages)
        finally:
            self.finished += 1  # only this one thread writes it


@dataclass(frozen=True)
class ServeOptions:
    host: str  # pods bind 0.0.0.0; everything else stays on loopback
    http_port: int
    grpc_port: int
    metrics_port: int
    exit_timeout_s: int  # Triton's wait for in-flight requests at shutdown
    pipeline: str  # "module:Class" of the OCR pipeline
    threads: int = 0  # torch's intra-op threads; 0 keeps torch's default (every core the host has)
    precision: str = "auto"  # the networks' dtype (OcrPipeline.load): auto is bf16 where the hardware has it
    health_port: int = 0  # GET /ready: 200 while the canary inference answers; 0: no such endpoint
    canary_period_s: float = CANARY_PERIOD_S
    canary_timeout_s: float = CANARY_TIMEOUT_S


def library_path(current: str | None, libdir: str | None) -> str:
    """LD_LIBRARY_PATH with this interpreter's LIBDIR first (unchanged when there is no LIBDIR)."""
    if not libdir:
        return current or ""
    parts = [p for p in (current or "").split(os.pathsep) if p and p != libdir]
    return os.pathsep.join([libdir, *parts])


def busy_ports(host: str, ports: Sequence[int]) -> list[int]:
    """The ports someone already listens on: Triton would fail to bind them only after PyTriton
    started waiting for it (and might then talk to whoever holds them)."""
    busy = []
    for port in ports:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        with socket.socket(family, socket.SOCK_STREAM) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind((host, port))
            except OSError:
                busy.append(port)
    return busy


def import_pipeline(spec: str) -> Any:
    module_name, _, attribute = spec.partition(":")
    try:
        return getattr(importlib.import_module(module_name), attribute)
    except (ImportError, AttributeError) as exc:
        raise RepositoryError(f"cannot import the OCR pipeline {spec!r}: {exc}") from exc


def run_rows(pipeline: Pipeline, rows: Sequence[np.ndarray | str]) -> list[list[Section] | str]:
    """Recognize a batch. Rows that failed to decode keep their error; when the model fails on the
    batch (or miscounts its answers), each page is retried alone, so one page that breaks it fails
    only its own request."""
    pages = [row for row in rows if not isinstance(row, str)]
    answers = iter(_recognize(pipeline, pages) if pages else [])
    return [row if isinstance(row, str) else next(answers) for row in rows]


def _recognize(pipeline: Pipeline, pages: Sequence[np.ndarray]) -> list[list[Section] | str]:
    try:
        answers = pipeline(pages)
    except Exception:  # the model's failure is reported per page by the retry, never raised into Triton
        return _one_by_one(pipeline, pages)
    return list(answers) if len(answers) == len(pages) else _one_by_one(pipeline, pages)


def _one_by_one(pipeline: Pipeline, pages: Sequence[np.ndarray]) -> list[list[Section] | str]:
    answers: list[list[Section] | str] = []
    for page in pages:
        try:
            answers.append(pipeline([page])[0])
        except Exception as exc:  # this page's error goes back in its own row
            answers.append(f"the model failed on this {page.shape[0]}x{page.shape[1]} page: {exc!r}")
    return answers


def infer_rows(pipeline: Pipeline, pixels: np.ndarray, size: np.ndarray) -> dict[str, np.ndarray]:
    """The infer function's body, free of PyTriton: request tensors in, response tensors out."""
    rows: list[np.ndarray | str] = []
    for data, shape in zip(pixels[:, 0], size, strict=True):
        try:
            rows.append(wire.decode_page(data, shape))
        except wire.WireError as exc:
            rows.append(str(exc))
    return wire.answer_tensors(run_rows(pipeline, rows))


def load_pipelines(
    repository: Repository, spec: str, precision: str = "auto", threads: int = 0
) -> tuple[str, list[ModelThread]]:
    """One model copy per instance on the configured device and precision, each on its own `ModelThread`
    and warmed up on a blank page."""
    pipeline_class = import_pipeline(spec)
    device = resolve_device(repository.config.instance_kind, _cuda_available())
    pipelines = []
    for _ in range(repository.config.instance_count):
        try:
            pipeline = ModelThread(
                lambda: pipeline_class.load(repository.weights_dir, device=device, precision=precision), threads
            )
            answer = pipeline([np.full(WARMUP_PAGE_SHAPE, 255, dtype=np.uint8)])
        except Exception as exc:  # whatever the weights or model do wrong, it is a clear error at start
            raise RepositoryError(f"cannot load the model from {repository.weights_dir}: {exc}") from exc
        if len(answer) != 1:
            raise RepositoryError(f"the model answered {len(answer)} pages for 1 at warm-up")
        pipelines.append(pipeline)
    return device, pipelines


def _cuda_available() -> bool:
    import torch

    return torch.cuda.is_available()


def _limit_threads(threads: int) -> None:
    """In a pod whose CPU limit is below the node's core count, torch's default thread pool is
    throttled hard; the limit is passed in (the pod spec knows it, the process does not)."""
    if threads:
        import torch

        torch.set_num_threads(threads)


@contextlib.contextmanager
def opened_repository(path: Path | None) -> Iterator[Repository]:
    """`path` checked, or (None) the packaged weights with the default config in a temporary repository."""
    if path is not None:
        yield open_repository(path)
        return
    with tempfile.TemporaryDirectory(prefix="ocr-triton-repo-") as folder:
        yield build_repository(packaged_weights_dir(), Path(folder) / "repository", ServingConfig())


@contextlib.contextmanager
def _stop_signals() -> Iterator[threading.Event]:
    """PyTriton's serve loop stops gracefully on KeyboardInterrupt; SIGTERM (Kubernetes) does the
    same as SIGINT. The event tells a requested stop from Triton dying on its own."""
    requested = threading.Event()

    def interrupt(_signum: int, _frame: object) -> None:
        if requested.is_set():  # a second signal must not cut the graceful stop short
            return
        requested.set()
        raise KeyboardInterrupt

    previous = {sig: signal.signal(sig, interrupt) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield requested
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def canary_verdict(error: str | None, timed_out: bool, completed: int, timeout_s: float) -> tuple[bool, str]:
    """(ready, why) after one canary: `error` is None when it was answered; `completed` is how many model calls
    (batches) finished while the canary waited.

    A canary that waited past its timeout while other requests kept completing met a busy model, not a
    wedged one, and a busy server stays ready: a readiness probe that fails under load takes the pod out of
    its Service (the load moves to the other replicas, which then fail the same way) and hides the very
    replica the autoscaler would measure (measured in the end-to-end test: a queue of 12.8 s, the pod unready,
    the operator holding at "0/1 replicas ready"). Only a model that finished nothing in that time is wedged."""
    if error is None:
        return True, ""
    if timed_out and completed:
        return True, f"busy: the canary waited over {timeout_s:g} s while the model finished {completed} batches"
    return False, f"canary inference failed: {error}"


class Canary:
    """Notices a wedged model, which Triton's own /v2/health/ready does not (it reports the model
    loaded, not answering): every `period_s` one tiny page goes through Triton over gRPC with
    `timeout_s`, and an HTTP endpoint on `health_port` answers GET /ready with 200 only while the
    latest canary was answered, or waited behind requests that completed (`canary_verdict`); 503 before
    the first answer, and after a failed one."""

    def __init__(
        self,
        host: str,
        grpc_port: int,
        health_port: int,
        period_s: float,
        timeout_s: float,
        finished: Callable[[], int],
    ) -> None:
        """`finished`: the model calls finished so far, in this process (Triton's statistics API is behind
        PyTriton's access token)."""
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        self.finished = finished
        self.grpc_target = f"{LOOPBACK_FOR.get(host, host)}:{grpc_port}"
        self.period_s, self.timeout_s = period_s, timeout_s
        self.ready = False
        self.why = "no canary answered yet"
        self._stop = threading.Event()
        canary = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if self.path == "/live":
                    status, body = 200, "live"
                elif self.path == "/ready":
                    status, body = (200, "ready") if canary.ready else (503, f"not ready: {canary.why}")
                    if canary.ready and canary.why:
                        body += f" ({canary.why})"
                else:
                    status, body = 404, "not found"
                data = body.encode()
                self.send_response(status)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *_args: object) -> None:  # probes every few seconds: no log line each
                pass

        self._http = ThreadingHTTPServer((host, health_port), Handler)
        self._threads = [
            threading.Thread(target=self._http.serve_forever, name="health-http", daemon=True),
            threading.Thread(target=self._loop, name="canary", daemon=True),
        ]

    def start(self) -> Canary:
        for thread in self._threads:
            thread.start()
        return self

    def probe(self) -> None:
        """One canary inference; updates `ready`."""
        import tritonclient.grpc as grpcclient
        from tritonclient.utils import InferenceServerException, np_to_triton_dtype

        inputs = []
        for name, array in wire.page_tensors([np.full(CANARY_PAGE_SHAPE, 255, dtype=np.uint8)]).items():
            tensor = grpcclient.InferInput(name, list(array.shape), np_to_triton_dtype(array.dtype))
            tensor.set_data_from_numpy(array)
            inputs.append(tensor)
        client = grpcclient.InferenceServerClient(self.grpc_target)
        error, timed_out, before = None, False, self.finished()
        try:
            client.infer(wire.MODEL_NAME, inputs, client_timeout=self.timeout_s).as_numpy(wire.SECTIONS)
        except InferenceServerException as exc:
            error, timed_out = f"{exc.status()}: {exc.message()}", "DEADLINE_EXCEEDED" in str(exc.status())
        finally:
            client.close()
        completed = self.finished() - before
        ready, why = canary_verdict(error, timed_out, completed, self.timeout_s)
        if (ready, bool(why)) != (self.ready, bool(self.why)):  # answered, busy or failed: a line per change
            if not ready:
                log_event(logger, "triton_canary_failed", logging.WARNING, error=error)
            else:
                log_event(logger, "triton_canary_busy" if why else "triton_canary_answered", detail=why)
        self.ready, self.why = ready, why

    def _loop(self) -> None:
        while not self._stop.is_set():
            self.probe()
            self._stop.wait(self.period_s)

    def stop(self) -> None:
        self._stop.set()
        self._http.shutdown()
        self._http.server_close()


LOOPBACK_FOR = {"0.0.0.0": "127.0.0.1", "::": "::1"}  # where this process reaches its own Triton


def bind_model(triton: Any, config: ServingConfig, infer_functions: Sequence[Callable[..., Any]]) -> None:
    """The model bound with Triton's dynamic batcher and a queue policy that sheds stale requests.

    A request waits in Triton's queue at most its own `timeout` (the client sends what is left of its
    deadline, `TritonBackend`), or `QUEUE_TIMEOUT_US` when it names none; past that Triton rejects it
    (UNAVAILABLE, "Request timeout expired") instead of computing an answer nobody waits for any more.
    Without this, under overload the queue fills with abandoned requests and goodput falls to zero.
    """
    from pytriton.model_config import DynamicBatcher, ModelConfig, QueuePolicy, Tensor, TimeoutAction

    triton.bind(
        model_name=config.model_name,
        infer_func=list(infer_functions),
        inputs=[
            Tensor(name=wire.PIXELS, dtype=np.bytes_, shape=(1,)),
            Tensor(name=wire.SIZE, dtype=np.int64, shape=(2,)),
        ],
        outputs=[
            Tensor(name=wire.SECTIONS, dtype=np.bytes_, shape=(1,)),
            Tensor(name=wire.ERROR, dtype=np.bytes_, shape=(1,)),
        ],
        config=ModelConfig(
            max_batch_size=config.max_batch_size,
            batcher=DynamicBatcher(
                max_queue_delay_microseconds=config.max_queue_delay_us,
                preferred_batch_size=list(config.preferred_batch_sizes) or None,
                default_queue_policy=QueuePolicy(
                    timeout_action=TimeoutAction.REJECT,
                    default_timeout_microseconds=QUEUE_TIMEOUT_US,
                    allow_timeout_override=True,
                ),
            ),
        ),
        strict=True,
    )


def _batched(pipeline: Pipeline) -> Callable[..., Any]:
    from pytriton.decorators import batch

    @batch
    def infer(pixels: np.ndarray, size: np.ndarray) -> dict[str, np.ndarray]:
        return infer_rows(pipeline, pixels, size)

    return infer


def serve(repository_path: Path | None, options: ServeOptions) -> int:
    """Serves until SIGTERM/SIGINT (exit 0) or until Triton dies (exit 1); a failed start, or a
    PyTriton error, exits 3."""
    os.environ["LD_LIBRARY_PATH"] = library_path(os.environ.get("LD_LIBRARY_PATH"), sysconfig.get_config_var("LIBDIR"))
    with _stop_signals() as stop_requested:
        try:
            ports = (options.http_port, options.grpc_port, options.metrics_port, options.health_port)
            busy = busy_ports(options.host, [port for port in ports if port])
            if busy:
                raise ServeFailed(f"ports {busy} on {options.host} are already in use")
            with opened_repository(repository_path) as repository:
                device, pipelines = load_pipelines(repository, options.pipeline, options.precision, options.threads)
                log_event(
                    logger, "triton_model_loaded", repository=str(repository.path), device=device,
                    precision=options.precision,
                    instances=len(pipelines), max_batch_size=repository.config.max_batch_size,
                )  # fmt: skip
                _run_triton(repository.config, pipelines, options)
        except (RepositoryError, ServeFailed) as exc:
            log_event(logger, "triton_failed", logging.ERROR, error=str(exc))
            return STARTUP_FAILURE_EXIT_CODE
        except KeyboardInterrupt:  # a stop requested before Triton's serve loop took over
            pass
    reason = "signal" if stop_requested.is_set() else "triton exited"
    log_event(logger, "triton_stopped", logging.INFO if stop_requested.is_set() else logging.ERROR, reason=reason)
    return 0 if stop_requested.is_set() else 1


def _run_triton(config: ServingConfig, pipelines: Sequence[ModelThread], options: ServeOptions) -> None:
    """Blocks until Triton stops: on a signal (its loop catches the KeyboardInterrupt) or on its own."""
    from pytriton.exceptions import PyTritonError
    from pytriton.triton import Triton, TritonConfig, TritonLifecyclePolicy
    from tritonclient.utils import InferenceServerException

    triton_config = TritonConfig(
        http_address=options.host,
        http_port=options.http_port,
        grpc_address=options.host,
        grpc_port=options.grpc_port,
        metrics_address=options.host,
        metrics_port=options.metrics_port,
        exit_timeout_secs=options.exit_timeout_s,
        strict_readiness=True,
    )
    try:
        with (
            tempfile.TemporaryDirectory(prefix="ocr-triton-") as workspace,
            Triton(
                config=triton_config,
                workspace=Path(workspace) / "pytriton",
                # The model is in Triton's repository before Triton starts, so /v2/health/ready (strict
                # readiness) answers 200 only once the model can serve, never in between.
                triton_lifecycle_policy=TritonLifecyclePolicy(launch_triton_on_startup=False, local_model_store=True),
            ) as triton,
        ):
            bind_model(triton, config, [_batched(p) for p in pipelines])
            log_event(
                logger, "triton_starting", model=config.model_name, host=options.host,
                http_port=options.http_port, grpc_port=options.grpc_port, metrics_port=options.metrics_port,
            )  # fmt: skip
            canary = None
            if options.health_port:
                canary = Canary(
                    options.host, options.grpc_port, options.health_port, options.canary_period_s,
                    options.canary_timeout_s, lambda: sum(p.finished for p in pipelines),
                ).start()  # fmt: skip
            try:
                triton.serve()
            finally:
                if canary is not None:
                    canary.stop()
    except (PyTritonError, InferenceServerException, TimeoutError, OSError) as exc:
        raise ServeFailed(f"Triton failed: {type(exc).__name__}: {exc}; see tritonserver's lines above") from exc
