"""Pages as the networks learned them: polarity, quarter turns, and the shipped model reading inverted and sideways
pages as well as upright ones."""

from __future__ import annotations

import numpy as np
import pytest
from ocr_subnet.evaluation import Variant
from ocr_subnet.evaluation.prose import prose_pages
from ocr_subnet.evaluation.real_pdfs import word_accuracy
from ocr_subnet.model.orientation import (
    FLIP_CONFIDENCE,
    FLIP_EVIDENCE,
    TURN_CONFIDENCE,
    TURN_MARGIN,
    ascender_balance,
    light_paper,
    line_length,
    shows_turned,
    surest_turn,
    turns_to_try,
    unturn_box,
)
from ocr_subnet.model.pipeline import OcrPipeline
from ocr_subnet.sections import plain_text


def rect(length: float, height: float) -> list[float]:
    return [100.0, 100.0, length, height, 0.0, 1.0]


@pytest.mark.parametrize("quarters", [0, 1, 2, 3, 5])
def test_a_box_found_on_a_turned_page_turns_back_onto_the_same_pixels(quarters: int) -> None:
    page = np.zeros((50, 80), np.uint8)
    page[10:20, 30:70] = 1
    turned = np.rot90(page, quarters)
    rows, cols = np.nonzero(turned)
    box = (cols.min(), rows.min(), cols.max() + 1, rows.max() + 1)
    np.testing.assert_array_equal(unturn_box(box, quarters, 80, 50), [30, 10, 70, 20])


def test_only_a_page_whose_paper_is_dark_is_inverted() -> None:
    page = np.full((100, 100), 240, np.uint8)
    page[10:90:10, 10:90] = 20  # lines of dark ink
    np.testing.assert_array_equal(light_paper(page), page)
    np.testing.assert_array_equal(light_paper(255 - page), page)  # white text on black
    grey = (page * 0.5 + 60).astype(np.uint8)  # grey paper, still lighter than its ink
    np.testing.assert_array_equal(light_paper(grey), grey)
    blank = np.full((10, 10), 0, np.uint8)
    np.testing.assert_array_equal(light_paper(blank), blank)


def test_a_page_is_worth_turning_only_when_unsure_and_its_lines_show_turned() -> None:
    lines = np.array([rect(400, 12)] * 5)
    fragments = np.array([rect(20, 12)] * 40)  # short: not lines, however many
    assert line_length(lines) == 2000 and line_length(fragments) == 0
    assert shows_turned(fragments, lines)
    assert turns_to_try(TURN_CONFIDENCE - 0.1, lambda: shows_turned(fragments, lines), lambda: 0.0) == (1, 3)
    # read surely as it came: not turned a quarter, however its lines look turned
    assert turns_to_try(TURN_CONFIDENCE, lambda: shows_turned(fragments, lines), lambda: 0.0) == ()
    assert not shows_turned(lines, lines)  # as many lines either way: a poor scan, not a turned page
    assert turns_to_try(0.3, lambda: shows_turned(lines, lines), lambda: 0.0) == ()


def test_a_page_is_read_upside_down_only_when_unsure_and_its_ascenders_point_down() -> None:
    def never() -> bool:
        raise AssertionError("a sure page costs no detector pass")

    assert turns_to_try(FLIP_CONFIDENCE - 0.1, lambda: False, lambda: FLIP_EVIDENCE - 0.1) == (2,)
    assert turns_to_try(FLIP_CONFIDENCE - 0.1, lambda: False, lambda: FLIP_EVIDENCE + 0.1) == ()
    assert turns_to_try(FLIP_CONFIDENCE, never, lambda: FLIP_EVIDENCE - 1.0) == ()
    assert surest_turn([0.5, 0.98, 0.8]) == 1
    assert surest_turn([0.5, 0.5 + TURN_MARGIN, 0.3]) == 0  # within the margin: as it came


def test_ascender_balance_tells_upright_lines_from_upside_down_ones() -> None:
    page = np.full((100, 200), 255, np.uint8)
    page[40:50, 20:180] = 0  # the x-height band
    page[28:40, 20:180:8] = 0  # ascenders, every 8 px
    page[50:58, 20:180:32] = 0  # fewer descenders
    line = np.array([[100.0, 44.0, 170.0, 30.0, 0.0, 1.0]])
    assert ascender_balance(page, line) > 1.0
    flipped = np.ascontiguousarray(page[::-1, ::-1])
    assert ascender_balance(flipped, np.array([[100.0, 56.0, 170.0, 30.0, 0.0, 1.0]])) < FLIP_EVIDENCE
    assert ascender_balance(page, np.array([[100.0, 44.0, 100.0, 30.0, 0.0, 1.0]])) == 0.0  # not a line: no say


@pytest.fixture(scope="module")
def shipped() -> OcrPipeline:
    return OcrPipeline.load()


@pytest.mark.parametrize("change", ["inverted", "turned left", "turned right", "upside down"])
def test_shipped_weights_read_an_inverted_or_sideways_page_like_the_upright_one(
    shipped: OcrPipeline, change: str
) -> None:
    """Read as they came, such pages lost every word (their plain text's line order stays the given page's: a turned
    page's lines come out in another order, which the word accuracy does not count)."""
    (page,) = prose_pages(["Helvetica"], (1.0,), (Variant.CLEAN,))
    image = {
        "inverted": 255 - page.image,
        "turned left": np.rot90(page.image, 1),
        "turned right": np.rot90(page.image, 3),
        "upside down": np.rot90(page.image, 2),
    }[change]
    (sections,) = shipped([np.ascontiguousarray(image)])
    assert word_accuracy(plain_text(list(page.labels)), plain_text(sections)) > 0.97
    ink = light_paper(np.ascontiguousarray(image))
    for section in sections:  # every box lies on the given page's ink
        x0, y0, x1, y1 = (int(v) for v in section.position)
        assert ink[y0:y1, x0:x1].min() < 128
