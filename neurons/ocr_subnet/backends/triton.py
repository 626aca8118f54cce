"""The OCR model served by Triton, as an `OcrBackend`: tritonclient over gRPC.

Each page is one request (Triton's dynamic batcher groups concurrent ones); every attempt carries
the time left of a per-page budget as its gRPC deadline, failures that may pass (unreachable,
shed) are retried a bounded number of times, and a circuit breaker answers at once while Triton
is down, so the miner's slots are not held by doomed calls and it answers 503 within its deadline.
With no URL the backend starts its own server (`EmbeddedTriton`) serving the packaged weights.

URLs: `grpc://HOST:PORT`, `HOST:PORT`, or a gRPC target such as `dns:///triton-headless:8001`
(with round-robin balancing over every address the name resolves to: several Triton pods).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import tritonclient.grpc as grpcclient
from PIL import Image
from tritonclient.utils import InferenceServerException, np_to_triton_dtype

from ocr_subnet.backends.base import BackendError, PermanentBackendError
from ocr_subnet.local.procs import StartupFailed
from ocr_subnet.logs import log_event
from ocr_subnet.sections import Section
from ocr_subnet.triton import wire
from ocr_subnet.triton.embedded import EmbeddedTriton
from ocr_subnet.triton.resilience import BreakerPolicy, CircuitBreaker, RetryPolicy, is_retryable, retry_delay

logger = logging.getLogger(__name__)

DEFAULT_TIMEOUT_S = 10.0  # per page, retries included; below the validators' usual 12 s deadline
READY_CHECK_TIMEOUT_S = 2.0
# The share of an attempt's remaining time a request may spend waiting in Triton's queue (sent as the
# request's `timeout`, which Triton's queue policy enforces by rejecting it): the rest is left for
# computing the answer, so a request Triton does start computing can still finish within the deadline.
QUEUE_SHARE = 0.75
SHED_MESSAGE = "timeout expired"  # in Triton's rejection of a request whose queue time ran out
MAX_MESSAGE_BYTES = 2**31 - 1  # Triton's own gRPC limit; pages are bounded by the protocol long before
CHANNEL_ARGS = [
    ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
    ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
    # Reconnect quickly once Triton is back (gRPC's default backoff grows to two minutes).
    ("grpc.initial_reconnect_backoff_ms", 100),
    ("grpc.min_reconnect_backoff_ms", 100),
    ("grpc.max_reconnect_backoff_ms", 1_000),
    ("grpc.lb_policy_name", "round_robin"),
]


def grpc_target(url: str) -> str:
    """A Triton URL -> the gRPC target tritonclient dials; HTTP URLs are refused with a hint."""
    scheme, separator, rest = url.partition("://")
    if not separator:
        target = url
    elif scheme == "grpc":
        target = rest
    elif scheme == "dns":
        target = url
    else:
        raise BackendError(f"Triton URL {url!r}: use grpc://HOST:PORT (Triton's gRPC port, 8001 by default)")
    if not target.rstrip("/").rpartition(":")[2].isdigit():
        raise BackendError(f"Triton URL {url!r} names no port: use grpc://HOST:PORT")
    return target.rstrip("/")


def to_page(image: Image.Image) -> np.ndarray:
    """The model reads uint8 grayscale pages."""
    return np.asarray(image if image.mode == "L" else image.convert("L"), dtype=np.uint8)


class TritonShed(BackendError):
    """Triton rejected the request unanswered: its time in the queue ran out (the server is overloaded)."""


class TritonBackend:
    """Pages to a Triton server (`url`), or to one it starts itself when `url` is None."""

    name = "triton"

    def __init__(
        self,
        url: str | None = None,
        *,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        retry: RetryPolicy | None = None,
        breaker: BreakerPolicy | None = None,
        model_repo: Path | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        propagate_deadline: bool = True,
    ) -> None:
        """`propagate_deadline=False` leaves Triton unaware of the deadline (a benchmark's baseline)."""
        self._embedded: EmbeddedTriton | None = None
        if url is None:
            try:
                self._embedded = EmbeddedTriton.start(model_repo)
            except StartupFailed as exc:
                raise BackendError(f"the embedded Triton server did not start: {exc}") from exc
            url = self._embedded.grpc_url
            log_event(logger, "embedded_triton_started", url=url, log=str(self._embedded.child.log_path))
        self.url = url
        self._client = grpcclient.InferenceServerClient(grpc_target(url), channel_args=CHANNEL_ARGS)
        self._timeout_s = timeout_s
        self._retry = retry or RetryPolicy()
        self.breaker = CircuitBreaker(breaker or BreakerPolicy(), clock)
        self._sleep = sleep
        self._clock = clock
        self._propagate_deadline = propagate_deadline
        self._warn_unless_ready()

    def _warn_unless_ready(self) -> None:
        """A remote Triton may start after the miner (pods start in any order): warn, do not fail."""
        try:
            ready = self._client.is_model_ready(wire.MODEL_NAME, client_timeout=READY_CHECK_TIMEOUT_S)
        except InferenceServerException as exc:
            ready, why = False, f"{exc.status()}: {exc.message()}"
        else:
            why = "model not ready"
        if not ready:
            log_event(logger, "triton_not_ready", logging.WARNING, url=self.url, model=wire.MODEL_NAME, why=why)

    def recognize(self, image: Image.Image) -> list[Section]:
        """Blocking; at most `timeout_s`, retries included."""
        return self.recognize_pages([to_page(image)])[0]

    def recognize_within(self, image: Image.Image, timeout_s: float) -> list[Section]:
        """`recognize` within the caller's remaining `timeout_s` (at most the backend's own timeout):
        the miner's per-request deadline, propagated into Triton's queue policy."""
        return self.recognize_pages([to_page(image)], timeout_s=timeout_s)[0]

    def recognize_pages(self, pages: Sequence[np.ndarray], timeout_s: float | None = None) -> list[list[Section]]:
        """Several pages in one request (at most the model's max batch size), answers in order."""
        if not pages:
            return []
        if self._embedded is not None and not self._embedded.child.alive:
            code = self._embedded.child.process.returncode
            raise PermanentBackendError(
                f"the embedded Triton server exited with {code}; log {self._embedded.child.log_path}"
            )
        if not self.breaker.admit():
            raise BackendError(f"Triton at {self.url} is failing; not calling it until its cooldown has passed")
        try:
            budget = self._timeout_s if timeout_s is None else min(max(timeout_s, 0.001), self._timeout_s)
            result = self._infer(wire.page_tensors(pages), budget)
        except TritonShed:
            self.breaker.succeeded()  # Triton answered: it is up, only busy; shedding is not an outage
            raise
        except BackendError:
            self.breaker.failed()
            raise
        self.breaker.succeeded()
        sections, errors = result.as_numpy(wire.SECTIONS), result.as_numpy(wire.ERROR)
        try:
            return [wire.parse_answer(s, e) for s, e in zip(sections[:, 0], errors[:, 0], strict=True)]
        except wire.WireError as exc:
            raise PermanentBackendError(f"the model could not read this page: {exc}") from exc

    def _infer(self, tensors: dict[str, np.ndarray], budget_s: float) -> grpcclient.InferResult:
        inputs = []
        for name, array in tensors.items():
            tensor = grpcclient.InferInput(name, list(array.shape), np_to_triton_dtype(array.dtype))
            tensor.set_data_from_numpy(array)
            inputs.append(tensor)
        outputs = [grpcclient.InferRequestedOutput(name) for name in (wire.SECTIONS, wire.ERROR)]
        deadline = self._clock() + budget_s
        attempts = 0
        while True:
            attempts += 1
            try:
                remaining = max(deadline - self._clock(), 0.001)
                queue_us = max(int(remaining * QUEUE_SHARE * 1e6), 1) if self._propagate_deadline else None
                return self._client.infer(
                    wire.MODEL_NAME, inputs, outputs=outputs, client_timeout=remaining, timeout=queue_us
                )
            except InferenceServerException as exc:
                status = exc.status()
                if SHED_MESSAGE in (exc.message() or "").lower():
                    raise TritonShed(
                        f"Triton at {self.url} is overloaded: the request's deadline passed while it was queued"
                    ) from exc
                delay = retry_delay(self._retry, attempts, is_retryable(status), deadline - self._clock())
                if delay is None:
                    late = " (no answer within the deadline)" if status == "StatusCode.DEADLINE_EXCEEDED" else ""
                    raise BackendError(
                        f"Triton at {self.url} failed ({attempts} attempt(s)){late}: {status}: {exc.message()}"
                    ) from exc
                self._sleep(delay)

    def close(self) -> None:
        self._client.close()
        if self._embedded is not None:
            self._embedded.stop()
