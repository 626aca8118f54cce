"""Pages as the networks learned them: dark ink on light paper, lines running left to right.

Scans and screenshots arrive otherwise: white text on a dark ground (a dark-mode screenshot, a negative), or a page
turned a quarter (a landscape table scanned upright, a phone photo). Read as they come, both lose nearly everything
(90% CER on an inverted prose page, 85-89% on a turned one). Polarity is a pixel statistic; a quarter turn shows in
the detector, which finds whole lines only across the text's own direction, and in how surely the recognizer reads.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

Array = npt.NDArray[np.float64]
Page = npt.NDArray[np.uint8]

TAIL = 2.0  # percent: the darkest and lightest pixels that stand for ink and paper
SAMPLE = 65_536  # pixels at least, on a regular grid, that the polarity is judged on
LINE_ASPECT = 4.0  # a detection at least this many heights long is a line, not a fragment
TURN_CONFIDENCE = 0.7  # a page read less surely than this (mean character probability) may be turned
TURN_EVIDENCE = 2.0  # a quarter turn must show this many times the line length the page shows as it came
TURN_MARGIN = 0.1  # and read this much more surely


def light_paper(page: Page) -> Page:
    """The page with its paper light: inverted where the median pixel (the paper: text covers well under half a
    page) lies nearer the dark tail than the light one, as white text on a dark ground does."""
    step = max(1, math.isqrt(page.size // SAMPLE))  # a sparse grid of the page: as telling, and free on 300 dpi
    dark, middle, light = np.percentile(page[::step, ::step], [TAIL, 50.0, 100.0 - TAIL])
    return 255 - page if middle - dark < light - middle else page


def page_confidence(sure: Sequence[float], texts: Sequence[str]) -> float:
    """How surely a page reads: its crops' confidence (`scales.reading_confidence`), weighted by their text's length
    (0 for no text)."""
    weights = [len(text) for text in texts]
    return float(np.average(sure, weights=weights)) if sum(weights) else 0.0


def line_length(rects: Array) -> float:
    """The total length of a page's line-like detections (at least `LINE_ASPECT` heights long), in its pixels: a
    page's lines show as long boxes only when the detector sees them run left to right."""
    lines = rects[:, 2] >= LINE_ASPECT * rects[:, 3]
    return float(rects[lines, 2].sum())


def may_be_turned(confidence: float, upright: Array, turned: Array) -> bool:
    """Whether a page read at `confidence` is worth reading turned a quarter: unsure, and with `TURN_EVIDENCE` times
    the line length in the turned page's detections (`turned`) as in its own (`upright`)."""
    return confidence < TURN_CONFIDENCE and line_length(turned) > TURN_EVIDENCE * max(line_length(upright), 1.0)


def surest_turn(confidences: Sequence[float]) -> int:
    """Index of the reading to keep among the page as it came (first) and its turns: the most confident turn, where
    it beats the page as it came by `TURN_MARGIN`."""
    best = int(np.argmax(confidences))
    return best if confidences[best] > confidences[0] + TURN_MARGIN else 0


def unturn_box(box: tuple[float, float, float, float], quarters: int, width: int, height: int) -> Array:
    """A box (x0, y0, x1, y1) in `np.rot90(page, quarters)` back in the page's own pixels (`width` x `height`)."""
    x0, y0, x1, y1 = box
    for step in range(quarters % 4, 0, -1):  # undo the quarters one by one, the last first
        before = width if step % 2 else height  # the width of the page before this quarter turn
        x0, y0, x1, y1 = before - y1, x0, before - y0, x1  # (x, y) after a counter-clockwise quarter <- (W - y, x)
    return np.array([x0, y0, x1, y1])
