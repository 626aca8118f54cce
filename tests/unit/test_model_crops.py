"""The recognizer's source page (`crops.recognition_source`): large renders are read at a normalised line height."""

from __future__ import annotations

import numpy as np
import pytest
from ocr_subnet.model.crops import LINE_PX, MAX_RECOGNITION_WIDTH, recognition_source

LETTER_300_DPI = (3300, 2550)  # height, width
NO_RECTS = np.zeros((0, 6))


def page(shape: tuple[int, int]) -> np.ndarray:
    return np.full(shape, 255, np.uint8)


def test_a_300_dpi_page_is_shrunk_until_its_median_line_is_line_px_tall() -> None:
    lines = np.array([44.0, 44.0, 46.0, 90.0, 30.0])  # body lines, a heading and a footnote, in page pixels
    source, scale = recognition_source(page(LETTER_300_DPI), lines, NO_RECTS)
    assert scale == pytest.approx(LINE_PX / 44.0)
    assert source.shape == (round(3300 * scale), round(2550 * scale))


def test_small_print_and_a_page_without_lines_are_never_enlarged_or_shrunk_below_the_caps() -> None:
    """A validator's 1-px/pt invoice (lines ~10 px) is read as drawn; a page where nothing was found keeps the
    size caps alone, as before."""
    invoice = page((792, 612))
    assert recognition_source(invoice, np.array([9.0, 10.0, 12.0]), NO_RECTS)[1] == 1.0
    assert recognition_source(invoice, np.empty(0), NO_RECTS)[1] == 1.0
    assert recognition_source(page(LETTER_300_DPI), np.empty(0), NO_RECTS)[1] == pytest.approx(
        MAX_RECOGNITION_WIDTH / 2550
    )
    tiny = recognition_source(page(LETTER_300_DPI), np.array([0.0, 0.0, 0.0]), NO_RECTS)[1]  # degenerate boxes
    assert 0 < tiny <= MAX_RECOGNITION_WIDTH / 2550
