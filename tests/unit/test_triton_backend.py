"""The miner's Triton backend against a scripted gRPC client: retries, deadlines, the breaker, errors."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any, ClassVar

import numpy as np
import pytest
from ocr_subnet.backends import triton as triton_backend
from ocr_subnet.backends.base import BackendError, recognize_within
from ocr_subnet.backends.triton import TritonBackend, TritonShed, grpc_target, to_page
from ocr_subnet.local.procs import StartupFailed
from ocr_subnet.sections import Font, Section
from ocr_subnet.triton import wire
from ocr_subnet.triton.resilience import BreakerPolicy, BreakerState, RetryPolicy
from PIL import Image
from tritonclient.utils import InferenceServerException

SECTION = Section(text="Invoice", position=(1.0, 2.0, 30.0, 12.0), font=Font(family="Times-Roman", size=11.0))
UNAVAILABLE = "StatusCode.UNAVAILABLE"


class ScriptedClient:
    """Answers `infer` from a script: a gRPC status string fails that call, "ok" answers, "row error"
    answers with a failed row, "shed" is Triton's queue-policy rejection. Records each call's
    client_timeout and the queue `timeout` (microseconds) it sent Triton."""

    script: ClassVar[list[str]] = []
    ready = True

    def __init__(self, url: str, channel_args: list[tuple[str, Any]]) -> None:
        self.url = url
        self.timeouts: list[float] = []
        self.queue_timeouts_us: list[int | None] = []

    def is_model_ready(self, model_name: str, client_timeout: float) -> bool:
        if not self.ready:
            raise InferenceServerException("connection refused", status=UNAVAILABLE)
        return True

    def infer(
        self, model_name: str, inputs: list[Any], outputs: list[Any], client_timeout: float, timeout: int | None = None
    ) -> Any:
        self.timeouts.append(client_timeout)
        self.queue_timeouts_us.append(timeout)
        step = self.script.pop(0)
        if step == "shed":
            raise InferenceServerException("Request timeout expired", status=UNAVAILABLE)
        if step.startswith("StatusCode."):
            raise InferenceServerException("scripted failure", status=step)
        rows = inputs[0].shape()[0]
        return ScriptedResult(wire.answer_tensors([[SECTION] if step == "ok" else "the model broke"] * rows))

    def close(self) -> None:
        pass


class ScriptedResult:
    def __init__(self, tensors: dict[str, np.ndarray]) -> None:
        self.tensors = tensors

    def as_numpy(self, name: str) -> np.ndarray:
        return self.tensors[name]


class Clock:
    def __init__(self) -> None:
        self.now = 100.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def backend(monkeypatch: pytest.MonkeyPatch, clock: Clock) -> Iterator[TritonBackend]:
    monkeypatch.setattr(triton_backend.grpcclient, "InferenceServerClient", ScriptedClient)
    monkeypatch.setattr(ScriptedClient, "script", [])
    engine = TritonBackend(
        "grpc://127.0.0.1:8001",
        timeout_s=5.0,
        retry=RetryPolicy(max_attempts=3, base_delay_s=0.05, max_delay_s=0.5),
        breaker=BreakerPolicy(failure_threshold=2, cooldown_s=10.0),
        sleep=clock.sleep,
        clock=clock,
    )
    yield engine
    engine.close()


def page() -> Image.Image:
    return Image.new("L", (40, 20), 255)


def test_a_page_is_answered_with_the_models_sections(backend: TritonBackend) -> None:
    ScriptedClient.script[:] = ["ok"]
    assert backend.recognize(page()) == [SECTION]
    assert backend.breaker.state is BreakerState.CLOSED


def test_transient_failures_are_retried_with_backoff_within_the_budget(backend: TritonBackend, clock: Clock) -> None:
    ScriptedClient.script[:] = [UNAVAILABLE, UNAVAILABLE, "ok"]
    assert backend.recognize(page()) == [SECTION]
    assert clock.sleeps == [0.05, 0.1]
    timeouts = backend._client.timeouts  # type: ignore[attr-defined]
    assert timeouts[0] == pytest.approx(5.0)
    assert timeouts[2] == pytest.approx(5.0 - 0.15)  # each attempt gets what is left of the budget


def test_each_attempt_tells_triton_how_long_it_may_queue(backend: TritonBackend, clock: Clock) -> None:
    ScriptedClient.script[:] = [UNAVAILABLE, "ok"]
    backend.recognize(page())
    client = backend._client  # type: ignore[attr-defined]
    assert client.queue_timeouts_us[0] == int(5.0 * triton_backend.QUEUE_SHARE * 1e6)
    assert client.queue_timeouts_us[1] == int((5.0 - 0.05) * triton_backend.QUEUE_SHARE * 1e6)
    assert all(queue / 1e6 < total for queue, total in zip(client.queue_timeouts_us, client.timeouts, strict=True))


def test_a_request_triton_shed_is_not_retried_and_does_not_open_the_breaker(
    backend: TritonBackend, clock: Clock
) -> None:
    ScriptedClient.script[:] = ["shed"] * 3
    for _ in range(3):  # the breaker's threshold is 2
        with pytest.raises(TritonShed, match="overloaded"):
            backend.recognize(page())
    assert clock.sleeps == []
    assert backend.breaker.state is BreakerState.CLOSED


def test_a_slow_triton_is_not_retried(backend: TritonBackend, clock: Clock) -> None:
    ScriptedClient.script[:] = ["StatusCode.DEADLINE_EXCEEDED"]
    with pytest.raises(BackendError, match=r"1 attempt\(s\)\) \(no answer within the deadline\).*DEADLINE_EXCEEDED"):
        backend.recognize(page())
    assert clock.sleeps == []


def test_triton_down_opens_the_breaker_then_answers_fail_fast_until_a_probe_succeeds(
    backend: TritonBackend, clock: Clock
) -> None:
    ScriptedClient.script[:] = [UNAVAILABLE] * 6
    for _ in range(2):
        with pytest.raises(BackendError, match="3 attempt"):
            backend.recognize(page())
    assert backend.breaker.state is BreakerState.OPEN
    with pytest.raises(BackendError, match="not calling it"):
        backend.recognize(page())
    assert ScriptedClient.script == []  # the open breaker made no call
    clock.now += 10.0
    ScriptedClient.script[:] = ["ok"]
    assert backend.recognize(page()) == [SECTION]
    assert backend.breaker.state is BreakerState.CLOSED


def test_a_page_the_model_could_not_read_fails_but_triton_counts_as_healthy(backend: TritonBackend) -> None:
    ScriptedClient.script[:] = ["row error", "row error"]
    for _ in range(2):
        with pytest.raises(BackendError, match="the model broke"):
            backend.recognize(page())
    assert backend.breaker.state is BreakerState.CLOSED


def test_several_pages_go_in_one_request_and_come_back_in_order(backend: TritonBackend) -> None:
    ScriptedClient.script[:] = ["ok"]
    pages = [np.zeros((3, 4), dtype=np.uint8), np.zeros((5, 6), dtype=np.uint8)]
    assert backend.recognize_pages(pages) == [[SECTION], [SECTION]]


def test_a_triton_that_is_not_ready_at_start_is_a_warning_not_a_failure(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(triton_backend.grpcclient, "InferenceServerClient", ScriptedClient)
    monkeypatch.setattr(ScriptedClient, "ready", False)
    with caplog.at_level(logging.WARNING, logger=triton_backend.__name__):
        TritonBackend("triton:8001").close()
    assert any(record.getMessage() == "triton_not_ready" for record in caplog.records)


def test_an_embedded_server_that_cannot_start_is_a_backend_error_at_start(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*_args: object) -> None:
        raise StartupFailed("triton exited with 3 before it was ready: weights missing")

    monkeypatch.setattr(triton_backend.EmbeddedTriton, "start", refuse)
    with pytest.raises(BackendError, match=r"embedded Triton server did not start: .*weights missing"):
        TritonBackend(None)


@pytest.mark.parametrize(
    ("url", "target"),
    [
        ("grpc://127.0.0.1:8001", "127.0.0.1:8001"),
        ("127.0.0.1:8001", "127.0.0.1:8001"),
        ("triton.default.svc:8001/", "triton.default.svc:8001"),
        ("dns:///triton-headless:8001", "dns:///triton-headless:8001"),
    ],
)
def test_triton_urls_become_grpc_targets(url: str, target: str) -> None:
    assert grpc_target(url) == target


@pytest.mark.parametrize(("url", "problem"), [("http://127.0.0.1:8000", "gRPC port"), ("grpc://triton", "no port")])
def test_urls_tritonclient_cannot_dial_over_grpc_are_refused(url: str, problem: str) -> None:
    with pytest.raises(BackendError, match=problem):
        grpc_target(url)


def test_colour_images_are_read_as_grayscale_pages() -> None:
    array = to_page(Image.new("RGB", (7, 3), (255, 0, 0)))
    assert array.shape == (3, 7)
    assert array.dtype == np.uint8


def test_the_callers_remaining_time_bounds_the_attempt_and_triton_s_queue(backend: TritonBackend) -> None:
    ScriptedClient.script[:] = ["ok", "ok"]
    assert recognize_within(backend, page(), 2.0) == [SECTION]
    assert recognize_within(backend, page(), 60.0) == [SECTION]  # never more than the backend's own 5 s
    client = backend._client  # type: ignore[attr-defined]
    assert client.timeouts == [pytest.approx(2.0), pytest.approx(5.0)]
    assert client.queue_timeouts_us == [
        int(2.0 * triton_backend.QUEUE_SHARE * 1e6),
        int(5.0 * triton_backend.QUEUE_SHARE * 1e6),
    ]
