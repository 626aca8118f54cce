"""`ocr-subnet triton serve` as a real process: a real Triton server (PyTriton) on loopback.

Most tests serve the fake pipeline (tests/unit/test_triton_fake.py), which exercises everything
between the client and the model; the bad-input tests also run against the packaged model once
its weights exist. Start-up failures must end the process at once with a clear message.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import httpx
import numpy as np
import pytest
import tritonclient.grpc as grpcclient
from ocr_subnet.backends.base import BackendError
from ocr_subnet.backends.triton import TritonBackend
from ocr_subnet.challenge.generate import generate_challenge
from ocr_subnet.local.procs import Child, spawn, stop_all, wait_healthy
from ocr_subnet.local.up import ocr_subnet_command
from ocr_subnet.metric_names import (
    TRITON_COMPUTE_INFER_DURATION_US,
    TRITON_PENDING_REQUEST_COUNT,
    TRITON_QUEUE_DURATION_US,
    TRITON_REQUEST_SUCCESS,
)
from ocr_subnet.protocol import MAX_IMAGE_PIXELS, decode_image, encode_image
from ocr_subnet.sections import Section
from ocr_subnet.triton import wire
from ocr_subnet.triton.embedded import EmbeddedTriton
from ocr_subnet.triton.repository import ServingConfig, build_repository, checksum_text, packaged_weights_exist
from ocr_subnet.triton.server import STARTUP_FAILURE_EXIT_CODE
from PIL import Image
from tritonclient.utils import InferenceServerException

from tests.support.ports import free_port
from tests.unit.test_triton_fake import FAKE_PIPELINE, ink_box, write_fake_weights

pytestmark = [pytest.mark.integration, pytest.mark.slow]

HOST = "127.0.0.1"
REPO_ROOT = Path(__file__).resolve().parents[2]
START_TIMEOUT_S = 120.0  # a bound on start-up on a shared CPU, never an assertion about speed
EXIT_TIMEOUT_S = 60.0


@dataclass
class TritonProcess:
    """`ocr-subnet triton serve` on fixed loopback ports, stoppable and restartable on the same ports."""

    model_repo: Path | None
    log_path: Path
    pipeline: str | None = FAKE_PIPELINE
    http_port: int = 0
    grpc_port: int = 0
    metrics_port: int = 0
    child: Child | None = None
    extra_args: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        self.http_port, self.grpc_port, self.metrics_port = (free_port(HOST) for _ in range(3))

    @property
    def grpc_url(self) -> str:
        return f"grpc://{HOST}:{self.grpc_port}"

    @property
    def http_url(self) -> str:
        return f"http://{HOST}:{self.http_port}"

    def launch(self) -> Child:
        argv = [
            *ocr_subnet_command(),
            *("triton", "serve", "--http-port", str(self.http_port), "--grpc-port", str(self.grpc_port)),
            *("--metrics-port", str(self.metrics_port)),
            *(("--model-repo", str(self.model_repo)) if self.model_repo else ()),
            *(("--pipeline", self.pipeline) if self.pipeline else ()),
            *self.extra_args,
        ]
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO_ROOT), os.environ.get("PYTHONPATH", "")])}
        self.child = spawn("triton", argv, self.log_path, env=env)
        return self.child

    def start(self) -> TritonProcess:
        wait_healthy(f"{self.http_url}/v2/health/ready", START_TIMEOUT_S, self.launch())
        return self

    def stop(self) -> int:
        assert self.child is not None
        return stop_all([self.child], grace_s=EXIT_TIMEOUT_S)["triton"]


def fake_repository(folder: Path, delay_s: float = 0.0) -> Path:
    weights = write_fake_weights(folder / "weights", delay_s=delay_s)
    return build_repository(weights, folder / "repository", ServingConfig()).path


@pytest.fixture(scope="module")
def fake_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TritonProcess]:
    folder = tmp_path_factory.mktemp("fake-triton")
    server = TritonProcess(fake_repository(folder), folder / "triton.log").start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module", params=["fake", "packaged"])
def any_server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TritonProcess]:
    """The fake model, and the packaged one (served with no --model-repo) when its weights exist."""
    if request.param == "fake":
        yield request.getfixturevalue("fake_server")
        return
    if not packaged_weights_exist():
        pytest.skip("no packaged model weights yet")
    server = TritonProcess(None, tmp_path_factory.mktemp("packaged-triton") / "triton.log", pipeline=None).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def backend(any_server: TritonProcess) -> Iterator[TritonBackend]:
    engine = TritonBackend(any_server.grpc_url, timeout_s=120.0)
    yield engine
    engine.close()


def test_health_endpoints_answer_on_the_http_port(fake_server: TritonProcess) -> None:
    for path in ("/v2/health/live", "/v2/health/ready", f"/v2/models/{wire.MODEL_NAME}/ready"):
        assert httpx.get(fake_server.http_url + path, timeout=10).status_code == 200


def test_prometheus_metrics_carry_tritons_inference_series(fake_server: TritonProcess) -> None:
    engine = TritonBackend(fake_server.grpc_url)
    try:
        engine.recognize(Image.new("L", (50, 40), 255))
    finally:
        engine.close()
    metrics = httpx.get(f"http://{HOST}:{fake_server.metrics_port}/metrics", timeout=10).text
    names = (
        TRITON_REQUEST_SUCCESS,
        TRITON_QUEUE_DURATION_US,
        TRITON_COMPUTE_INFER_DURATION_US,
        TRITON_PENDING_REQUEST_COUNT,
    )
    for name in names:
        assert f'{name}{{model="{wire.MODEL_NAME}",version="1"}}' in metrics


def test_a_generated_invoice_is_answered_with_valid_sections(backend: TritonBackend) -> None:
    challenge = generate_challenge(seed=5, difficulty=1)
    sections = backend.recognize(decode_image(encode_image(challenge.image)))
    assert sections
    assert all(isinstance(section, Section) for section in sections)


def invoice() -> Image.Image:
    return decode_image(encode_image(generate_challenge(seed=6, difficulty=0).image))


def noise(height: int, width: int) -> Image.Image:
    return Image.fromarray(np.random.default_rng(7).integers(0, 256, (height, width), dtype=np.uint8))


BAD_INPUTS = {
    "blank": lambda: Image.new("L", (612, 792), 255),
    "black": lambda: Image.new("L", (612, 792), 0),
    "all-noise": lambda: noise(792, 612),
    "rotated-90": lambda: invoice().rotate(90, expand=True),
    "rotated-7": lambda: invoice().rotate(7, expand=True, fillcolor=255),
    "tiny-1x1": lambda: Image.new("L", (1, 1), 0),
    "tiny-3x2": lambda: noise(2, 3),
    "thin-strip": lambda: noise(4, 2000),
    "huge": lambda: Image.new("L", (5000, MAX_IMAGE_PIXELS // 5000), 255),
    "colour": lambda: invoice().convert("RGB"),
}


@pytest.mark.parametrize("name", sorted(BAD_INPUTS))
def test_hostile_pages_get_valid_possibly_empty_answers(backend: TritonBackend, name: str) -> None:
    sections = backend.recognize(BAD_INPUTS[name]())
    assert isinstance(sections, list)
    assert all(isinstance(section, Section) for section in sections)


def test_a_malformed_row_fails_alone_and_its_batch_mates_are_answered(fake_server: TritonProcess) -> None:
    tensors = wire.page_tensors([np.zeros((4, 4), dtype=np.uint8), np.zeros((3, 3), dtype=np.uint8)])
    tensors[wire.SIZE][1] = [5, 5]  # claims 25 bytes, carries 9
    client = grpcclient.InferenceServerClient(f"{HOST}:{fake_server.grpc_port}")
    try:
        inputs = []
        for name, array in tensors.items():
            tensor = grpcclient.InferInput(name, list(array.shape), "BYTES" if name == wire.PIXELS else "INT64")
            tensor.set_data_from_numpy(array)
            inputs.append(tensor)
        result = client.infer(wire.MODEL_NAME, inputs, client_timeout=60)
    finally:
        client.close()
    sections, errors = result.as_numpy(wire.SECTIONS)[:, 0], result.as_numpy(wire.ERROR)[:, 0]
    assert len(wire.parse_answer(sections[0], errors[0])) == 1
    with pytest.raises(wire.WireError, match="needs 25 bytes, got 9"):
        wire.parse_answer(sections[1], errors[1])


def write_invoice(folder: Path, seed: int) -> Path:
    challenge = generate_challenge(seed=seed, difficulty=1)
    path = folder / f"invoice-{seed}.{challenge.image_format}"
    path.write_bytes(challenge.image)
    return path


def run_ocr_command(*arguments: str) -> list[dict[str, list[dict[str, object]]]]:
    """`ocr-subnet ocr ... --json` exactly as acceptance calls it: stdout must be the JSON list."""
    done = subprocess.run([*ocr_subnet_command(), "ocr", *arguments, "--json"], capture_output=True, timeout=600)
    assert done.returncode == 0, done.stderr.decode()[-3000:]
    return json.loads(done.stdout)


def test_the_ocr_command_prints_one_sections_object_per_image_through_triton(
    fake_server: TritonProcess, tmp_path: Path
) -> None:
    images = [str(write_invoice(tmp_path, seed)) for seed in (1, 2, 3)]
    answers = run_ocr_command(*images, "--backend", "triton", "--triton-url", fake_server.grpc_url)
    assert len(answers) == 3
    for answer in answers:
        assert list(answer) == ["sections"]
        assert [Section.model_validate(section) for section in answer["sections"]]


@pytest.mark.skipif(not packaged_weights_exist(), reason="no packaged model weights yet")
def test_the_ocr_command_serves_the_packaged_model_by_default(tmp_path: Path) -> None:
    """No --backend, no --triton-url: the packaged model behind a Triton server started for the command."""
    answers = run_ocr_command(str(write_invoice(tmp_path, 4)))
    assert len(answers) == 1
    assert [Section.model_validate(section) for section in answers[0]["sections"]]


def refused_at_start(server: TritonProcess) -> str:
    """Runs a server expected to refuse to start; its log, after checking it exited 3 and bound nothing."""
    child = server.launch()
    assert child.process.wait(timeout=EXIT_TIMEOUT_S) == STARTUP_FAILURE_EXIT_CODE
    with pytest.raises(httpx.TransportError):
        httpx.get(f"{server.http_url}/v2/health/live", timeout=5)
    return server.log_path.read_text()


def test_a_missing_repository_is_a_clear_error_at_start(tmp_path: Path) -> None:
    log = refused_at_start(TritonProcess(tmp_path / "nowhere", tmp_path / "triton.log"))
    assert "triton_failed" in log
    assert "does not exist" in log


def test_corrupt_weights_are_a_clear_error_at_start(tmp_path: Path) -> None:
    repository = fake_repository(tmp_path)
    (repository / "ocr" / "1" / "weights" / "fake.json").write_text('{"delay_s": 0}')
    log = refused_at_start(TritonProcess(repository, tmp_path / "triton.log"))
    assert "weights/fake.json is corrupt" in log


def test_weights_the_model_cannot_load_are_a_clear_error_at_start(tmp_path: Path) -> None:
    repository = fake_repository(tmp_path)
    version = repository / "ocr" / "1"
    (version / "weights" / "fake.json").write_text("{}")
    (version / "SHA256SUMS").write_text(checksum_text(version / "weights"))  # valid sums of bad weights
    log = refused_at_start(TritonProcess(repository, tmp_path / "triton.log"))
    assert "cannot load the model" in log


def test_the_miner_backend_reports_an_embedded_server_that_cannot_start(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # where the failed server's log is kept
    with pytest.raises(BackendError, match="does not exist"):
        TritonBackend(None, model_repo=tmp_path / "nowhere")
    assert [log.name.startswith("ocr-subnet-triton-") for log in tmp_path.glob("*.log")] == [True]


def test_an_embedded_server_serves_on_free_loopback_ports_and_cleans_up(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PYTHONPATH", str(REPO_ROOT))  # the child imports the fake pipeline
    server = EmbeddedTriton.start(fake_repository(tmp_path), extra_args=["--pipeline", FAKE_PIPELINE])
    engine = TritonBackend(server.grpc_url)
    try:
        assert engine.recognize(Image.new("L", (9, 9), 0)) == ink_box(np.zeros((9, 9), dtype=np.uint8))
    finally:
        engine.close()
        code = server.stop()
    assert code == 0
    assert not server.child.log_path.exists()  # a clean stop leaves no temporary log behind


def test_sigterm_lets_the_request_in_flight_finish_then_exits_0(tmp_path: Path) -> None:
    marker = tmp_path / "busy"
    weights = write_fake_weights(tmp_path / "weights", delay_s=2.0, marker=marker)
    repository = build_repository(weights, tmp_path / "repository", ServingConfig()).path
    server = TritonProcess(repository, tmp_path / "triton.log").start()
    assert server.child is not None
    marker.unlink()  # touched by the warm-up
    engine = TritonBackend(server.grpc_url, timeout_s=60.0)
    page = np.zeros((8, 8), dtype=np.uint8)
    try:
        with ThreadPoolExecutor(1) as pool:
            answer = pool.submit(engine.recognize_pages, [page])
            while not marker.exists():  # the model is now busy with our page
                assert not answer.done(), answer.exception()
                time.sleep(0.05)
            server.child.process.send_signal(signal.SIGTERM)
            assert answer.result(timeout=EXIT_TIMEOUT_S) == [
                [Section(**ink_box(np.zeros((8, 8), np.uint8))[0].model_dump())]
            ]
    finally:
        engine.close()
    assert server.child.process.wait(timeout=EXIT_TIMEOUT_S) == 0
    assert '"reason": "signal"' in server.log_path.read_text()


def test_a_request_whose_deadline_passed_in_the_queue_is_rejected_not_computed(tmp_path: Path) -> None:
    """One model instance, batches of one, busy for 2 s with a first request: a second request that
    may wait 0.3 s in the queue is rejected by Triton's queue policy, and the model never runs it."""
    marker = tmp_path / "busy"
    weights = write_fake_weights(tmp_path / "weights", delay_s=2.0, marker=marker)
    config = ServingConfig(max_batch_size=1, preferred_batch_sizes=())
    server = TritonProcess(build_repository(weights, tmp_path / "repository", config).path, tmp_path / "triton.log")
    server.start()
    marker.unlink()  # touched by the warm-up
    client = grpcclient.InferenceServerClient(f"{HOST}:{server.grpc_port}")
    page = np.zeros((8, 8), dtype=np.uint8)

    def request(timeout_us: int | None) -> grpcclient.InferResult:
        inputs = []
        for name, array in wire.page_tensors([page]).items():
            tensor = grpcclient.InferInput(name, list(array.shape), "BYTES" if array.dtype.kind in "SO" else "INT64")
            tensor.set_data_from_numpy(array)
            inputs.append(tensor)
        return client.infer(wire.MODEL_NAME, inputs, client_timeout=60.0, timeout=timeout_us)

    try:
        with ThreadPoolExecutor(2) as pool:
            first = pool.submit(request, None)
            while not marker.exists():  # the model is now busy with the first request
                assert not first.done(), first.exception()
                time.sleep(0.02)
            marker.unlink()
            with pytest.raises(InferenceServerException) as rejected:
                request(300_000)  # 0.3 s in the queue, at most
            assert first.result(timeout=EXIT_TIMEOUT_S) is not None
        assert "timeout expired" in str(rejected.value).lower()
        assert not marker.exists()  # the model never started the second request (the fake touches it per call)
        # The miner's backend sends its deadline along and reads the rejection as shedding, not an outage.
        engine = TritonBackend(server.grpc_url, timeout_s=1.0)
        try:
            with ThreadPoolExecutor(1) as pool:
                busy = pool.submit(request, None)
                while not marker.exists():
                    time.sleep(0.02)
                marker.unlink()
                with pytest.raises(BackendError):
                    engine.recognize_pages([page])
                assert engine.breaker.state.value == "closed"
                busy.result(timeout=EXIT_TIMEOUT_S)
        finally:
            engine.close()
        assert not marker.exists()  # nor the backend's stale one
    finally:
        client.close()
        server.stop()


def test_a_busy_server_stays_ready_while_its_canary_waits_behind_completing_requests(tmp_path: Path) -> None:
    """A model busy 0.5 s a page, one page at a time, with four clients sending without pause: the canary
    queues behind them past its 1 s timeout, but requests keep completing, so /ready stays 200 and says busy.
    (Under load a readiness that fails takes the pod out of its Service and out of the autoscaler's count.)"""
    health_port = free_port(HOST)
    options = ("--health-port", str(health_port), "--canary-timeout", "1.0")
    weights = write_fake_weights(tmp_path / "weights", delay_s=0.5)
    config = ServingConfig(max_batch_size=1, preferred_batch_sizes=())
    repository = build_repository(weights, tmp_path / "repository", config).path
    server = TritonProcess(repository, tmp_path / "triton.log", extra_args=options).start()
    url = f"http://{HOST}:{health_port}/ready"
    stop = threading.Event()

    def load() -> int:
        engine = TritonBackend(server.grpc_url, timeout_s=60.0)
        answered = 0
        try:
            while not stop.is_set():
                engine.recognize_pages([np.zeros((8, 8), dtype=np.uint8)])
                answered += 1
        finally:
            engine.close()
        return answered

    try:
        wait_for_ready = time.monotonic() + 30.0  # the canary runs every 5 s; the first may precede Triton
        while httpx.get(url, timeout=10).status_code != 200:
            assert time.monotonic() < wait_for_ready, "the idle server never turned ready"
            time.sleep(0.5)
        with ThreadPoolExecutor(4) as pool:
            clients = [pool.submit(load) for _ in range(4)]
            answers = []
            until = time.monotonic() + 16.0  # three canaries at least
            while time.monotonic() < until:
                answers.append(httpx.get(url, timeout=10))
                time.sleep(0.5)
            stop.set()
            assert all(client.result(timeout=EXIT_TIMEOUT_S) > 0 for client in clients)
        assert [a.text for a in answers if a.status_code != 200] == []
        assert any("busy" in a.text for a in answers), [a.text for a in answers]
    finally:
        stop.set()
        server.stop()


@pytest.mark.parametrize(("delay_s", "ready"), [(0.0, True), (3.0, False)])
def test_the_health_port_is_ready_only_while_a_canary_inference_answers_in_time(
    tmp_path: Path, delay_s: float, ready: bool
) -> None:
    """A model that takes 3 s for a page, with a 0.5 s canary timeout, stands for a wedged one: Triton's
    own /v2/health/ready still says 200, the health port's /ready says 503 and why."""
    health_port = free_port(HOST)
    options = ("--health-port", str(health_port), "--canary-timeout", "0.5")
    weights = write_fake_weights(tmp_path / "weights", delay_s=delay_s)
    repository = build_repository(weights, tmp_path / "repository", ServingConfig()).path
    server = TritonProcess(repository, tmp_path / "triton.log", extra_args=options).start()
    try:
        assert httpx.get(server.http_url + "/v2/health/ready", timeout=10).status_code == 200
        url = f"http://{HOST}:{health_port}"
        assert httpx.get(url + "/live", timeout=10).status_code == 200
        deadline = time.monotonic() + 30.0  # the canary runs every 5 s; the first may precede Triton
        answer = httpx.get(url + "/ready", timeout=10)
        while (answer.status_code == 200) != ready and time.monotonic() < deadline:
            time.sleep(0.5)
            answer = httpx.get(url + "/ready", timeout=10)
        if ready:
            assert answer.status_code == 200
        else:
            time.sleep(6.0)  # a later canary fails too: the state is not a start-up artefact
            answer = httpx.get(url + "/ready", timeout=10)
            assert answer.status_code == 503
            assert "canary inference failed" in answer.text and "DEADLINE_EXCEEDED" in answer.text
    finally:
        server.stop()
