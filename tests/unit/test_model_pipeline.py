"""The inference pipeline: loading errors, odd pages, batching, and the shipped weights reading a challenge."""

from __future__ import annotations

import io
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from ocr_subnet.challenge.generate import generate_challenge
from ocr_subnet.evaluation import Variant
from ocr_subnet.evaluation.prose import prose_pages, side_by_side
from ocr_subnet.evaluation.real_pdfs import page_cer
from ocr_subnet.model.geometry import Calibration
from ocr_subnet.model.nets import DETECTOR_OUTPUTS, Detector, DetectorConfig, Recognizer, RecognizerConfig
from ocr_subnet.model.pipeline import (
    DETECTOR_FILE,
    MANIFEST,
    RECOGNIZER_FILE,
    WEIGHTS_DIR,
    ModelLoadError,
    OcrPipeline,
    Reading,
    resolve_precision,
    to_sections,
)
from ocr_subnet.scoring.cer import character_error_rate
from ocr_subnet.sections import FONT_FAMILIES, Section, plain_text
from PIL import Image

SMALL_DETECTOR = DetectorConfig(widths=(4, 4, 4, 4), neck=4)
SMALL_RECOGNIZER = RecognizerConfig(widths=(4, 4, 4, 4), hidden=8)


class EverywhereDetector(torch.nn.Module):
    """Claims text on every cell, 4 px below and above: the pipeline must still answer sanely."""

    def forward(self, page: torch.Tensor) -> torch.Tensor:
        b, _, h, w = page.shape
        maps = torch.full((b, DETECTOR_OUTPUTS, h // 2, w // 2), 0.5)
        maps[:, 0] = 5.0
        return maps


def page(challenge_seed: int, level: int = 1) -> np.ndarray:
    challenge = generate_challenge(challenge_seed, level)
    return np.asarray(Image.open(io.BytesIO(challenge.image)).convert("L"))


def odd_pages() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    level1 = page(3)
    return {
        "blank": np.full((816, 631), 255, np.uint8),
        "black": np.zeros((400, 300), np.uint8),
        "noise": rng.integers(0, 256, (816, 631), dtype=np.uint8),
        "rotated": np.asarray(Image.fromarray(level1).rotate(30, expand=True, fillcolor=0)),
        "upside_down": level1[::-1, ::-1].copy(),
        "tiny": rng.integers(0, 256, (8, 8), dtype=np.uint8),
        "one_pixel": np.zeros((1, 1), np.uint8),
        "line": np.full((3, 2000), 128, np.uint8),
        "huge": np.asarray(Image.fromarray(level1).resize((4000, 5000))),
    }


def assert_valid(answers: list[list[Section]], pages: int) -> None:
    assert len(answers) == pages
    for sections in answers:
        for section in sections:
            Section.model_validate(section.model_dump())  # every answer is a valid contract object


@pytest.fixture(scope="module")
def untrained() -> OcrPipeline:
    torch.manual_seed(0)
    return OcrPipeline(Detector(SMALL_DETECTOR).eval(), Recognizer(SMALL_RECOGNIZER).eval(), Calibration())


@pytest.fixture(scope="module")
def greedy() -> OcrPipeline:
    torch.manual_seed(0)
    return OcrPipeline(EverywhereDetector(), Recognizer(SMALL_RECOGNIZER).eval(), Calibration())


@pytest.fixture(scope="module")
def shipped() -> OcrPipeline:
    return OcrPipeline.load()


def test_missing_weights_dir_is_a_clear_load_error(tmp_path: Path) -> None:
    with pytest.raises(ModelLoadError, match="no model manifest"):
        OcrPipeline.load(tmp_path / "nowhere")


def test_corrupt_manifest_is_a_clear_load_error(tmp_path: Path) -> None:
    (tmp_path / MANIFEST).write_text("{not json")
    with pytest.raises(ModelLoadError, match="corrupt"):
        OcrPipeline.load(tmp_path)
    (tmp_path / MANIFEST).write_text(json.dumps({"calibration": {"no_such_knob": 1}}))
    with pytest.raises(ModelLoadError, match="corrupt"):
        OcrPipeline.load(tmp_path)


def test_missing_or_corrupt_weight_files_are_clear_load_errors(tmp_path: Path) -> None:
    (tmp_path / MANIFEST).write_text(json.dumps({"calibration": {}}))
    with pytest.raises(ModelLoadError, match=f"{DETECTOR_FILE} are missing"):
        OcrPipeline.load(tmp_path)
    (tmp_path / DETECTOR_FILE).write_bytes(b"\x00garbage" * 100)
    (tmp_path / RECOGNIZER_FILE).write_bytes(b"PK\x03\x04truncated")
    with pytest.raises(ModelLoadError, match="unreadable"):
        OcrPipeline.load(tmp_path)


def test_a_truncated_copy_of_the_shipped_weights_fails_at_load(tmp_path: Path) -> None:
    for name in (MANIFEST, DETECTOR_FILE, RECOGNIZER_FILE):
        shutil.copy(WEIGHTS_DIR / name, tmp_path / name)
    data = (tmp_path / RECOGNIZER_FILE).read_bytes()
    (tmp_path / RECOGNIZER_FILE).write_bytes(data[: len(data) // 2])
    with pytest.raises(ModelLoadError, match=RECOGNIZER_FILE):
        OcrPipeline.load(tmp_path)


@pytest.mark.parametrize("name", list(odd_pages()))
def test_odd_pages_get_valid_answers(untrained: OcrPipeline, greedy: OcrPipeline, name: str) -> None:
    image = odd_pages()[name]
    for pipeline in (untrained, greedy):
        assert_valid(pipeline([image]), 1)


def test_greedy_detections_stay_inside_the_page(greedy: OcrPipeline) -> None:
    image = np.full((300, 200), 255, np.uint8)
    (sections,) = greedy([image])
    for s in sections:
        x0, y0, x1, y1 = s.position
        assert 0 <= x0 < x1 <= 200 and 0 <= y0 < y1 <= 300


def test_empty_input_and_empty_pages(untrained: OcrPipeline) -> None:
    assert untrained([]) == []
    assert untrained([np.zeros((0, 10), np.uint8), np.full((50, 50), 255, np.uint8)])[0] == []


def test_colour_and_float_pages_are_accepted(untrained: OcrPipeline) -> None:
    assert_valid(untrained([np.full((64, 48, 3), 255, np.uint8), np.full((64, 48), 255.0)]), 2)
    with pytest.raises(ValueError, match="2-D"):
        untrained([np.zeros((2, 2, 2, 2))])


def test_shipped_weights_read_a_level_1_challenge(shipped: OcrPipeline) -> None:
    challenge = generate_challenge(987_654_321, 1)
    image = np.asarray(Image.open(io.BytesIO(challenge.image)).convert("L"))
    (sections,) = shipped([image])
    assert character_error_rate(challenge.sections, sections) < 0.10
    assert all(s.font.family in FONT_FAMILIES for s in sections)


def test_precision_auto_takes_bf16_only_where_it_is_native() -> None:
    assert resolve_precision("auto", native=True) is torch.bfloat16
    assert resolve_precision("auto", native=False) is torch.float32
    assert resolve_precision("bf16", native=False) is torch.bfloat16
    assert resolve_precision("fp32", native=True) is torch.float32
    with pytest.raises(ValueError, match="precision must be"):
        resolve_precision("int8", native=True)


def test_bf16_and_fp32_read_a_page_alike() -> None:
    image = page(987_654_322)
    answers = {p: OcrPipeline.load(precision=p)([image])[0] for p in ("fp32", "bf16")}
    assert len(answers["fp32"]) > 20
    assert character_error_rate(answers["fp32"], answers["bf16"]) < 0.02
    np.testing.assert_allclose([s.position for s in answers["fp32"]], [s.position for s in answers["bf16"]], atol=1.0)


def test_shipped_weights_answer_odd_pages(shipped: OcrPipeline) -> None:
    pages = odd_pages()
    answers = shipped(list(pages.values()))
    assert_valid(answers, len(pages))
    by_name = dict(zip(pages, answers, strict=True))
    assert by_name["blank"] == [] and by_name["one_pixel"] == []


def test_a_page_reads_the_same_alone_or_batched_with_other_pages(shipped: OcrPipeline) -> None:
    larger = np.asarray(Image.fromarray(page(13)).resize((900, 1164)))
    pages = [page(11), larger, page(12), page(14, level=0)]
    together = shipped(pages)
    alone = [shipped([p])[0] for p in pages]
    for batched, single in zip(together, alone, strict=True):
        assert [(s.text, s.font) for s in batched] == [(s.text, s.font) for s in single]
        np.testing.assert_allclose([s.position for s in batched], [s.position for s in single], atol=0.05)


def test_shipped_weights_read_a_two_page_spread_as_well_as_its_pages(shipped: OcrPipeline) -> None:
    """A landscape image (two 1 px/pt prose pages side by side) is read at a portrait page's scale: scaled by its
    width, its 11 px text became 6 px in the detector's canvas and half of the spread went unread."""
    left, right = prose_pages(["Times-Roman", "Helvetica"], (1.0,), (Variant.CLEAN,))
    spread = side_by_side(left, right)
    assert spread.image.shape == (792, 1224)
    (sections,) = shipped([spread.image])
    read, truth = plain_text(sections), plain_text(list(spread.labels))
    assert page_cer(truth, read) < 0.02


def test_sections_come_in_reading_order_whatever_order_they_were_found_in() -> None:
    # a table's header row found right to left, its cells a pixel apart in height, a line below found first
    rects = np.array(
        [
            [300.0, 60.0, 80.0, 12.0, 0.0, 1.0],
            [400.0, 20.0, 40.0, 12.0, 0.0, 1.0],
            [220.0, 19.0, 60.0, 12.0, 0.0, 1.0],
            [80.0, 21.0, 50.0, 12.0, 0.0, 1.0],
        ]
    )
    texts = ["Total", "Price", "Quantity", "Item"]
    reading = Reading(rects, texts, np.full((4, len(FONT_FAMILIES)), 1 / len(FONT_FAMILIES), np.float32))
    assert [s.text for s in to_sections(reading, 612, 792, Calibration())] == ["Item", "Quantity", "Price", "Total"]
