"""Text too tall for the canonical canvas: coarse detections, the recognizer's arbitration, and the shipped model
reading headings from body size up to poster size."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from ocr_subnet.evaluation.headings import BODY, heading_page
from ocr_subnet.model import charset
from ocr_subnet.model.pipeline import OcrPipeline
from ocr_subnet.model.scales import (
    LARGE_TEXT,
    SURE,
    landing_shrink,
    line_heights,
    reading_confidence,
    settle_scales,
    suspects,
    too_tall,
)
from ocr_subnet.sections import plain_text
from rapidfuzz.distance import Levenshtein


def rect(cx: float, cy: float, length: float, height: float) -> list[float]:
    return [cx, cy, length, height, 0.0, 1.0]


def test_a_coarse_pass_keeps_only_strings_too_tall_for_the_finer_one() -> None:
    rects = np.array([rect(100, 100, 200, h) for h in (20, 50, 100, 200)])
    # finer canvas at 1.0, this one at 0.2: 50 and 100 px are too tall for the finer, not for this one (<= 165 px)
    np.testing.assert_array_equal(too_tall(rects, 1.0, 0.2, coarsest=False), [False, True, True, False])
    np.testing.assert_array_equal(too_tall(rects, 1.0, 0.2, coarsest=True), [False, True, True, True])
    assert not too_tall(np.array([rect(0, 0, 10, LARGE_TEXT)]), 1.0, 0.5, coarsest=True)[0]
    # a string a little over LARGE_TEXT on the quartered canvas is kept there and by the eighthed pass after it
    heading = np.array([rect(100, 100, 300, 1.1 * LARGE_TEXT / 0.25)])
    assert too_tall(heading, 0.5, 0.25, coarsest=False)[0] and too_tall(heading, 0.25, 0.125, coarsest=True)[0]


@pytest.mark.parametrize(
    ("height", "shrink"), [(10, 1.0), (22, 1.0), (30, 0.5), (44, 0.5), (60, 0.25), (150, 0.125), (400, 0.125)]
)
def test_a_string_lands_on_the_finest_canvas_that_shows_it_no_taller_than_large_text(
    height: float, shrink: float
) -> None:
    assert landing_shrink(height) == shrink


def test_the_recognition_source_is_set_by_the_strings_the_canonical_canvas_holds_whole() -> None:
    """A title slide: seven fragments of a heading outnumber two body lines; the body lines set the source's scale."""
    fragments = [rect(100, 100, 40, h) for h in (26, 47, 25, 46, 33, 29, 37)]
    body = [rect(200, 200, 300, 12), rect(200, 216, 300, 13)]
    np.testing.assert_array_equal(line_heights(np.array([*fragments, *body]), 1.0), [12, 13])
    np.testing.assert_array_equal(line_heights(np.array(fragments), 1.0), [26, 47, 25, 46, 33, 29, 37])  # all tall
    assert len(line_heights(np.array([*fragments, *body]), 0.4)) == 9  # on a canvas at 0.4 every string is whole


def test_suspects_are_tall_strings_read_unsurely() -> None:
    rects = np.array([rect(0, 0, 100, h) for h in (12, 20, 20, 40)])
    np.testing.assert_array_equal(suspects(rects, [0.3, 0.95, 0.5, 0.79], 1.0), [False, False, True, True])
    np.testing.assert_array_equal(suspects(rects, [0.3, 0.95, 0.5, 0.79], 0.5), [False, False, False, True])


def test_a_coarse_string_replaces_the_fragments_it_holds_only_where_it_reads_more_surely() -> None:
    fragments = [rect(60, 50, 40, 20), rect(140, 50, 40, 20)]
    line_below = rect(100, 200, 200, 12)
    heading = rect(100, 50, 200, 60)
    rects = np.array([*fragments, line_below, heading])
    doubtful = np.array([True, True, False])
    texts = ["PllI", "G1", "The line below", "Annual Report"]
    assert settle_scales(rects, doubtful, [0.4, 0.5, 0.99, 0.95], texts) == [2, 3]  # junk gives way, the line stays
    assert settle_scales(rects, doubtful, [0.4, 0.5, 0.99, SURE - 0.01], texts) == [0, 1, 2]  # an unsure heading not
    assert settle_scales(rects, doubtful, [0.76, 0.78, 0.99, SURE], texts) == [0, 1, 2]  # nor one within the margin
    assert settle_scales(rects, np.zeros(3, bool), [0.97, 0.96, 0.99, 0.99], texts) == [0, 1, 2]  # no suspect: kept
    blob = rect(100, 200, 220, 80)  # a coarse box swallowing a paragraph's lines, however surely it reads
    assert settle_scales(np.array([line_below, blob]), np.array([False]), [0.9, 0.99], ["line", "blob"]) == [0]
    crossing = rect(line_below[0] - line_below[2] / 2, line_below[1], 60, 40)  # a blob over the line's left end
    assert settle_scales(np.array([line_below, crossing]), np.array([False]), [0.9, 0.9], ["line", "---"]) == [0]
    alone = np.array([rect(300, 300, 100, 60)])
    none = np.zeros(0, bool)
    assert settle_scales(alone, none, [SURE], ["Go"]) == [0] and settle_scales(alone, none, [SURE - 0.01], ["Go"]) == []
    # a heading read whole on the canonical canvas, flanked by fragments, and read the same on a coarse one
    flanked = np.array([rect(100, 50, 150, 50), rect(20, 52, 10, 46), rect(182, 50, 6, 24), rect(100, 50, 180, 50)])
    reads = ["INVOICE", "1", "-", "INVOICE"]
    assert settle_scales(flanked, np.array([False, True, True]), [0.979, 0.757, 0.796, 0.991], reads) == [3]
    reads[3] = "INVOIC8"  # read otherwise, the coarse string must beat the margin, and does not
    assert settle_scales(flanked, np.array([False, True, True]), [0.979, 0.757, 0.796, 0.991], reads) == [0, 1, 2]


def test_reading_confidence_is_the_mean_probability_of_the_emitted_characters() -> None:
    a, b = charset.encode("ab")
    probs = torch.full((5, charset.NUM_CLASSES), 1e-6)
    for frame, (index, p) in enumerate([(a, 0.9), (a, 0.8), (charset.BLANK, 0.99), (b, 0.5), (charset.BLANK, 0.7)]):
        probs[frame, index] = p
    assert reading_confidence(probs.log()) == pytest.approx((0.9 + 0.5) / 2)  # each character at its first frame
    silent = torch.full((3, charset.NUM_CLASSES), -math.inf)
    silent[:, charset.BLANK] = 0.0
    assert reading_confidence(silent) == 0.0
    assert reading_confidence(torch.empty(0, charset.NUM_CLASSES)) == 0.0


@pytest.fixture(scope="module")
def shipped() -> OcrPipeline:
    return OcrPipeline.load()


@pytest.mark.parametrize(
    ("size", "heading"),
    [(12, "Annual Report"), (30, "Annual Report"), (50, "Annual Report"), (80, "Report"), (150, "Report")],
)
def test_shipped_weights_read_a_heading_at_any_size_and_the_body_below_it(
    shipped: OcrPipeline, size: int, heading: str
) -> None:
    """On a 1 px/pt page the canonical canvas reads body text; a heading over ~35 px came out as fragments
    ("PllllllGl I63OID") before the coarse passes, and the passes must not cost the body its lines. The body is
    held to a character a line: at 11 px the sixth fine-tune reads this line's last period as a colon on some
    renderings (it reads such body text at 1.5% CER where the fourth read 1.7%)."""
    (sections,) = shipped([np.asarray(heading_page(heading, size))])
    read = plain_text(sections).split("\n")
    assert read[0] == heading and len(read) == 1 + len(BODY), read
    assert all(Levenshtein.distance(line, truth) <= 1 for line, truth in zip(read[1:], BODY, strict=True)), read
