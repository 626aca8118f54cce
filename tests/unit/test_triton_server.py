"""The serving side without starting Triton: the infer body, start-up checks, the libpython fix."""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
from ocr_subnet.sections import Section
from ocr_subnet.triton import wire
from ocr_subnet.triton.repository import (
    InstanceKind,
    RepositoryError,
    ServingConfig,
    build_repository,
    open_repository,
)
from ocr_subnet.triton.server import (
    ModelThread,
    busy_ports,
    canary_verdict,
    infer_rows,
    library_path,
    load_pipelines,
    run_rows,
)

from tests.unit.test_triton_fake import FAKE_PIPELINE, FakeOcrPipeline, write_fake_weights


def inked(height: int, width: int) -> np.ndarray:
    page = np.full((height, width), 255, dtype=np.uint8)
    page[0, 0] = 0
    return page


class CountingPipeline(FakeOcrPipeline):
    def __init__(self, fail_width: int | None) -> None:
        super().__init__(0.0, fail_width, "cpu")
        self.calls: list[int] = []

    def __call__(self, pages: Sequence[np.ndarray]) -> list[list[Section]]:
        self.calls.append(len(pages))
        return super().__call__(pages)


def test_a_page_that_breaks_the_model_fails_alone_and_the_rest_of_its_batch_is_answered() -> None:
    pipeline = CountingPipeline(fail_width=7)
    results = run_rows(pipeline, [inked(5, 5), inked(5, 7), "bad row", inked(5, 9)])
    assert [len(r) for r in results if not isinstance(r, str)] == [1, 1]
    assert "failed on this 5x7 page" in str(results[1])
    assert results[2] == "bad row"
    assert pipeline.calls == [3, 1, 1, 1]  # the batch, then each page alone


def test_a_batch_of_only_undecodable_rows_never_calls_the_model() -> None:
    pipeline = CountingPipeline(fail_width=None)
    assert run_rows(pipeline, ["x", "y"]) == ["x", "y"]
    assert pipeline.calls == []


def test_infer_rows_turns_request_tensors_into_response_tensors_row_by_row() -> None:
    tensors = wire.page_tensors([inked(4, 6), np.full((3, 3), 255, dtype=np.uint8)])
    tensors[wire.SIZE] = np.vstack([tensors[wire.SIZE], [[2, 2]]])
    tensors[wire.PIXELS] = np.vstack([tensors[wire.PIXELS], [[b"\x00"]]])
    out = infer_rows(CountingPipeline(None), tensors[wire.PIXELS], tensors[wire.SIZE])
    rows = list(zip(out[wire.SECTIONS][:, 0], out[wire.ERROR][:, 0], strict=True))
    assert [s.position for s in wire.parse_answer(*rows[0])] == [(0.0, 0.0, 1.0, 1.0)]
    assert wire.parse_answer(*rows[1]) == []
    with pytest.raises(wire.WireError, match="needs 4 bytes"):
        wire.parse_answer(*rows[2])


def test_every_instance_gets_its_own_warmed_up_model(tmp_path: Path) -> None:
    config = ServingConfig(instance_count=2, instance_kind=InstanceKind.CPU)
    repository = build_repository(write_fake_weights(tmp_path / "w"), tmp_path / "repo", config)
    device, pipelines = load_pipelines(repository, FAKE_PIPELINE)
    assert device == "cpu"
    assert len(pipelines) == 2
    assert pipelines[0] is not pipelines[1]


def test_a_model_thread_runs_load_and_every_call_on_one_thread_of_its_own() -> None:
    seen: list[int] = []

    def load() -> Callable[[Sequence[np.ndarray]], list]:
        seen.append(threading.get_ident())
        return lambda pages: seen.append(threading.get_ident()) or [[] for _ in pages]

    model = ModelThread(load, threads=0)
    with ThreadPoolExecutor(4) as callers:  # as PyTriton calls: from threads of its own
        answers = list(callers.map(lambda _: model([np.zeros((2, 2), np.uint8)]), range(8)))
    assert answers == [[[]]] * 8
    assert len(seen) == 9 and len(set(seen)) == 1 and seen[0] != threading.get_ident()


def test_weights_the_model_cannot_load_are_a_start_error_naming_the_folder(tmp_path: Path) -> None:
    repository = build_repository(write_fake_weights(tmp_path / "w"), tmp_path / "repo", ServingConfig())
    (repository.weights_dir / "fake.json").write_text("{}")
    (repository.version_dir / "SHA256SUMS").unlink()  # checksums are not what is tested here
    with pytest.raises(RepositoryError, match=r"cannot load the model from .*weights: .*unreadable"):
        load_pipelines(repository, FAKE_PIPELINE)


def test_a_model_that_breaks_at_warm_up_is_a_start_error(tmp_path: Path) -> None:
    repository = build_repository(write_fake_weights(tmp_path / "w", fail_width=64), tmp_path / "r", ServingConfig())
    with pytest.raises(RepositoryError, match="breaks on pages 64 pixels wide"):
        load_pipelines(open_repository(repository.path), FAKE_PIPELINE)


def test_an_unimportable_pipeline_is_a_start_error(tmp_path: Path) -> None:
    repository = build_repository(write_fake_weights(tmp_path / "w"), tmp_path / "repo", ServingConfig())
    with pytest.raises(RepositoryError, match="cannot import"):
        load_pipelines(repository, "no_such_module:Pipeline")


def test_the_interpreters_libdir_goes_first_on_the_library_path_once() -> None:
    assert library_path(None, "/py/lib") == "/py/lib"
    assert library_path("/a:/py/lib:/b", "/py/lib") == "/py/lib:/a:/b"
    assert library_path("/a", None) == "/a"
    assert library_path(None, None) == ""


def test_busy_ports_are_found_before_triton_tries_them() -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        taken = listener.getsockname()[1]
        with socket.socket() as spare:
            spare.bind(("127.0.0.1", 0))
            free = spare.getsockname()[1]
        assert busy_ports("127.0.0.1", [taken, free]) == [taken]


def test_a_model_that_miscounts_its_answers_is_asked_page_by_page() -> None:
    def miscounting(pages: Sequence[np.ndarray]) -> list[list[Section]]:
        return [[]] if len(pages) > 1 else [FakeOcrPipeline(0.0, None, "cpu")(pages)[0]]

    results = run_rows(miscounting, [inked(3, 3), inked(4, 4)])
    assert [len(r) for r in results] == [1, 1]


def test_a_canary_that_waited_behind_completing_requests_keeps_the_server_ready() -> None:
    assert canary_verdict(None, False, 0, 15.0) == (True, "")
    ready, why = canary_verdict("StatusCode.DEADLINE_EXCEEDED: Deadline Exceeded", True, 7, 15.0)
    assert ready and "busy" in why and "finished 7 batches" in why
    # Nothing finished while it waited: a wedged model.
    ready, why = canary_verdict("StatusCode.DEADLINE_EXCEEDED: Deadline Exceeded", True, 0, 15.0)
    assert not ready and why == "canary inference failed: StatusCode.DEADLINE_EXCEEDED: Deadline Exceeded"
    # Any other failure is a failure whatever else completed.
    ready, why = canary_verdict("StatusCode.INTERNAL: model raised", False, 3, 15.0)
    assert not ready and "INTERNAL" in why
