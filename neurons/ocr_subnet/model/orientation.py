"""Pages as the networks learned them: dark ink on light paper, lines running left to right.

Scans and screenshots arrive otherwise: white text on a dark ground (a dark-mode screenshot, a negative), or a page
turned a quarter (a landscape table scanned upright, a phone photo) or upside down (a sheet fed the wrong way). Read as
they come, all of them lose every word. Polarity is a pixel statistic; a quarter turn shows in the detector, which
finds whole lines only across the text's own direction; upside down shows in where a line's ink lies around its
x-height band; each turn is then confirmed by how much more surely the recognizer reads the page turned back.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np
import numpy.typing as npt

from ocr_subnet.model.geometry import quad_bounds, rect_corners

Array = npt.NDArray[np.float64]
Page = npt.NDArray[np.uint8]

TAIL = 2.0  # percent: the darkest and lightest pixels that stand for ink and paper
SAMPLE = 65_536  # pixels at least, on a regular grid, that the polarity is judged on
LINE_ASPECT = 4.0  # a detection at least this many heights long is a line, not a fragment
TURN_CONFIDENCE = 0.7  # a page read less surely than this (mean character probability) may be turned
TURN_EVIDENCE = 2.0  # a quarter turn must show this many times the line length the page shows as it came
TURN_MARGIN = 0.1  # and read this much more surely
FLIP_CONFIDENCE = 0.9  # an upside-down page reads less surely than this (0.67-0.85 measured; upright 0.84-0.98)
FLIP_EVIDENCE = -0.6  # `ascender_balance` under this: upside down (clean print: +0.7..+1.8 upright, mirrored flipped)
BAND = 0.5  # a line's x-height band: its rows with at least this share of its densest row's ink


def sparse_grid(page: Page, sample: int) -> Page:
    """A regular grid of the page's pixels, `sample` of them at least: as telling as the page for its percentiles,
    and free on a 300-dpi page."""
    step = max(1, math.isqrt(page.size // sample))
    return page[::step, ::step]


def light_paper(page: Page) -> Page:
    """The page with its paper light: inverted where the median pixel (the paper: text covers well under half a
    page) lies nearer the dark tail than the light one, as white text on a dark ground does."""
    dark, middle, light = np.percentile(sparse_grid(page, SAMPLE), [TAIL, 50.0, 100.0 - TAIL])
    return 255 - page if middle - dark < light - middle else page


def page_confidence(sure: Sequence[float], texts: Sequence[str]) -> float:
    """How surely a page reads: its crops' confidence (`scales.reading_confidence`), weighted by their text's length
    (0 for no text)."""
    weights = [len(text) for text in texts]
    return float(np.average(sure, weights=weights)) if sum(weights) else 0.0


def line_like(rects: Array) -> Array:
    """A page's detections at least `LINE_ASPECT` heights long: lines, not fragments. A page's lines show as long
    boxes only when the detector sees them run left to right."""
    return rects[rects[:, 2] >= LINE_ASPECT * rects[:, 3]]


def line_length(rects: Array) -> float:
    """The total length of a page's line-like detections, in its pixels."""
    return float(line_like(rects)[:, 2].sum())


def shows_turned(upright: Array, turned: Array) -> bool:
    """Whether a page's detections turned a quarter (`turned`) hold `TURN_EVIDENCE` times the line length of its
    own (`upright`): its lines run up or down the page."""
    return line_length(turned) > TURN_EVIDENCE * max(line_length(upright), 1.0)


def turns_to_try(confidence: float, lines_turned: Callable[[], bool], balance: Callable[[], float]) -> tuple[int, ...]:
    """The quarter turns (counter-clockwise) worth reading a page in besides its own, for a page read at `confidence`:
    either way a quarter where it reads under `TURN_CONFIDENCE` and its lines show only turned (`lines_turned`:
    `shows_turned`, which costs a detector pass), upside down where it reads under `FLIP_CONFIDENCE` and its
    `ascender_balance` is under `FLIP_EVIDENCE`; none otherwise. The evidence is asked for only where needed."""
    if confidence >= FLIP_CONFIDENCE:
        return ()
    if confidence < TURN_CONFIDENCE and lines_turned():
        return (1, 3)
    return (2,) if balance() < FLIP_EVIDENCE else ()


def ascender_balance(page: Page, rects: Array) -> float:
    """Log ratio of the ink above its lines' x-height bands to the ink below them, over the page's line-like
    detections (page px): Latin print has more ascenders (b d f h k l t, capitals) than descenders (g j p q y), so
    upright text is positive and text upside down negative. Scan noise pulls both towards 0 (measured: 0.1-0.4 on
    degraded pages either way up), so only a clearly negative balance says anything."""
    above = below = 0.0
    for x0, y0, x1, y1 in quad_bounds(rect_corners(line_like(rects), 0.0, 0.15)).astype(int):
        ink = 255.0 - page[max(y0, 0) : y1 + 1, max(x0, 0) : x1 + 1]
        profile = ink.sum(axis=1)
        if not profile.size or profile.max() <= 0:
            continue
        band = np.flatnonzero(profile >= BAND * profile.max())
        above += float(profile[: band[0]].sum())
        below += float(profile[band[-1] + 1 :].sum())
    return math.log((above + 1.0) / (below + 1.0))


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
