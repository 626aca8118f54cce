"""`FakeOcrPipeline`: a stand-in for `ocr_subnet.model.pipeline.OcrPipeline` with the same interface,
so the serving half (Triton, the miner backend, faults) is tested without torch or trained weights.

Its "weights" are one JSON file; missing or unreadable ones raise the real `ModelLoadError`. It
answers one section per page boxing the page's dark pixels (none for a blank page), and can be
told to be slow (`delay_s`), to fail on pages of one width (`fail_width`), or to touch a file
when a call starts (`marker`), to play a slow, broken or busy model. Child processes load it with
`--pipeline tests.unit.test_triton_fake:FakeOcrPipeline` (the repository root on PYTHONPATH).
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest
from ocr_subnet.model.pipeline import ModelLoadError
from ocr_subnet.sections import Font, Section

FAKE_PIPELINE = "tests.unit.test_triton_fake:FakeOcrPipeline"
WEIGHTS_FILE = "fake.json"
DARK = 128


def write_fake_weights(
    folder: Path, delay_s: float = 0.0, fail_width: int | None = None, marker: Path | None = None
) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    settings = {"delay_s": delay_s, "fail_width": fail_width, "marker": None if marker is None else str(marker)}
    (folder / WEIGHTS_FILE).write_text(json.dumps(settings))
    return folder


class FakeOcrPipeline:
    def __init__(self, delay_s: float, fail_width: int | None, device: str, marker: str | None = None) -> None:
        self.delay_s = delay_s
        self.fail_width = fail_width
        self.device = device
        self.marker = marker  # a file touched when a call starts: tells a test the model is busy

    @classmethod
    def load(cls, weights_dir: Path | None = None, device: str = "cpu", precision: str = "auto") -> FakeOcrPipeline:
        if weights_dir is None:
            raise ModelLoadError("the fake pipeline has no packaged weights")
        try:
            settings = json.loads((Path(weights_dir) / WEIGHTS_FILE).read_text())
            return cls(float(settings["delay_s"]), settings["fail_width"], device, settings.get("marker"))
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise ModelLoadError(f"fake weights in {weights_dir} are unreadable: {exc!r}") from exc

    def __call__(self, pages: Sequence[np.ndarray]) -> list[list[Section]]:
        if self.marker:
            Path(self.marker).touch()
        time.sleep(self.delay_s)
        if any(page.shape[1] == self.fail_width for page in pages):
            raise RuntimeError(f"the fake model breaks on pages {self.fail_width} pixels wide")
        return [ink_box(page) for page in pages]


def ink_box(page: np.ndarray) -> list[Section]:
    ys, xs = np.nonzero(page < DARK)
    if len(xs) == 0:
        return []
    box = (float(xs.min()), float(ys.min()), float(xs.max() + 1), float(ys.max() + 1))
    return [Section(text="fake", position=box, font=Font(family="Helvetica", size=10.0))]


def test_the_fake_boxes_dark_pixels_and_answers_nothing_for_a_blank_page(tmp_path: Path) -> None:
    pipeline = FakeOcrPipeline.load(write_fake_weights(tmp_path))
    page = np.full((20, 30), 255, dtype=np.uint8)
    page[5:8, 10:20] = 0
    inked, blank = pipeline([page, np.full((4, 4), 255, dtype=np.uint8)])
    assert [s.position for s in inked] == [(10.0, 5.0, 20.0, 8.0)]
    assert blank == []


def test_the_fake_refuses_missing_or_unreadable_weights_like_the_real_pipeline(tmp_path: Path) -> None:
    with pytest.raises(ModelLoadError):
        FakeOcrPipeline.load(tmp_path)
    (tmp_path / WEIGHTS_FILE).write_text("not json")
    with pytest.raises(ModelLoadError):
        FakeOcrPipeline.load(tmp_path)
