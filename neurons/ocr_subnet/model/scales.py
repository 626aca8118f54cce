"""Text too tall for the detector's canonical canvas: which coarser detections to read, and which reading to keep.

The canonical canvas puts a letter page's body text at ~1 px per point, where the detector learned its strings. A
string much taller than `LARGE_TEXT` there (a 40 pt title, a slide's heading, a poster) comes out in fragments, which
read as junk ("Annual Report" at 40 px read "PllllllGl I63OID"). Coarser passes (the canvas halved, quartered) see
such a string at a height the detector knows. They also see small text as blobs that swallow whole paragraphs, so they
run only on pages whose canonical reading holds suspects (tall strings read unsurely), and the recognizer arbitrates:
a coarse string replaces the finer strings whose centres it holds only where those include a suspect and it reads
more surely than they do.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
import torch

from ocr_subnet.model import charset
from ocr_subnet.model.geometry import quad_bounds, rect_corners

Array = npt.NDArray[np.float64]

LARGE_TEXT = 22.0  # canvas px: taller strings the detector finds only in fragments (its boxes stop at ~25 px)
COARSE_CEILING = 1.5 * LARGE_TEXT  # canvas px: the tallest string a coarse pass keeps (unless it is the coarsest)
COARSE_SHRINKS = (0.5, 0.25, 0.125)  # coarser detector canvases, for strings up to ~8x `LARGE_TEXT` tall
SUSPECT_HEIGHT = 14.0  # canvas px: a canonical string taller than body text, read unsurely, may be a fragment
SURE = 0.8  # mean character probability of a sure reading: a coarse string must reach it to be kept
MARGIN = 0.05  # and read this much more surely than the finer strings it replaces


def too_tall(rects: Array, finer: float, scale: float, coarsest: bool) -> npt.NDArray[np.bool_]:
    """Which rectangles (page px) of a coarse pass at `scale` (canvas px per page px) hold a string too tall for the
    finer pass at `finer`, and not too tall for this one (`COARSE_CEILING`, unless no coarser pass follows). The
    windows of successive passes overlap: a box measured a little taller on one canvas than on the next (an 80 px
    heading at 23 px on the quartered canvas, 22 px on the eighthed one's scale) is kept by both, never dropped
    between them, and `settle_scales` keeps the surer copy."""
    tall = rects[:, 3] * finer > LARGE_TEXT
    return tall & (coarsest | (rects[:, 3] * scale <= COARSE_CEILING))


def line_heights(rects: Array, scale: float) -> Array:
    """The heights (page px) that set a page's recognition source (`crops.recognition_source`): those of the strings
    the canonical canvas (at `scale`) holds whole, no taller than `LARGE_TEXT` there, or all where none is. A title
    slide's heading comes out in many tall fragments, which otherwise outnumber two lines of body text and shrink
    the source until those lines are a few pixels tall ("The quick" read as "The qaik")."""
    heights = rects[:, 3]
    whole = heights * scale <= LARGE_TEXT
    return heights[whole] if whole.any() else heights


def landing_shrink(height: float) -> float:
    """The canvas (1, or one of `COARSE_SHRINKS`) whose pass finds a string `height` canonical canvas px tall
    (`too_tall`): the canonical one up to `LARGE_TEXT`, else the finest coarse one where it is no taller, else the
    coarsest. Training draws a page with a headline on this canvas, so the detector learns the regime it meets there."""
    for shrink in (1.0, *COARSE_SHRINKS):
        if height * shrink <= LARGE_TEXT:
            return shrink
    return COARSE_SHRINKS[-1]


def reading_confidence(log_probs: torch.Tensor) -> float:
    """The mean probability of the characters a crop's greedy path emits (0 where it emits none)."""
    if not len(log_probs):
        return 0.0
    best, path = log_probs.max(dim=-1)
    emitted = (path != charset.BLANK) & torch.cat([torch.ones(1, dtype=torch.bool), path[1:] != path[:-1]])
    return float(best[emitted].exp().mean()) if bool(emitted.any()) else 0.0


def suspects(rects: Array, confidence: Sequence[float], scale: float) -> npt.NDArray[np.bool_]:
    """Which strings of the canonical pass (page px; the canvas at `scale`) may be fragments of a taller one: tall
    there (over `SUSPECT_HEIGHT`) and read unsurely (under `SURE`). Body text is neither, so most pages never run the
    coarse passes."""
    return (rects[:, 3] * scale > SUSPECT_HEIGHT) & (np.asarray(confidence, dtype=np.float64) < SURE)


def settle_scales(
    rects: Array, suspect: npt.NDArray[np.bool_], confidence: Sequence[float], texts: Sequence[str]
) -> list[int]:
    """The indices of the strings to keep: the first `len(suspect)` from the canonical pass, the rest from coarser
    passes (finest first), each with its reading's confidence. A coarse string that reads at least `SURE`ly and holds
    the centre of a suspect (or of no string kept so far) is weighed against the strings kept so far whose centres
    it holds (their mean confidence, weighted by length); it replaces them where it reads more surely by `MARGIN`, or
    where it reads as the sure strings it holds read together (a heading read whole on both canvases, flanked by
    fragments on the finer one: "1 INVOICE - 2").
    A coarse string over surely read lines alone (a paragraph seen as one blob) never displaces them, nor does one
    that cuts across half the height of a surely read line whose centre it does not hold (a blob of that line's
    text on a coarse canvas, read as "---")."""
    bounds = quad_bounds(rect_corners(rects)) if len(rects) else np.zeros((0, 4))
    kept = list(range(len(suspect)))
    doubtful = set(np.flatnonzero(suspect).tolist())
    for j in range(len(suspect), len(rects)):
        if confidence[j] < SURE:
            continue
        x0, y0, x1, y1 = bounds[j]
        inside = [i for i in kept if x0 <= rects[i, 0] <= x1 and y0 <= rects[i, 1] <= y1]
        if inside and not doubtful.intersection(inside):
            continue
        if any(crosses(bounds[j], bounds[i]) for i in kept if i not in inside and i not in doubtful):
            continue
        whole = sorted((i for i in inside if i not in doubtful), key=lambda i: rects[i, 0])
        if inside and not (whole and same_text(" ".join(texts[i] for i in whole), texts[j])):
            rival = float(np.average([confidence[i] for i in inside], weights=[rects[i, 2] for i in inside]))
            if confidence[j] <= rival + MARGIN:
                continue
        kept = [i for i in kept if i not in inside] + [j]
        doubtful.add(j)
    return kept


def same_text(a: str, b: str) -> bool:
    """Whether two readings differ at most in their spaces."""
    return "".join(a.split()) == "".join(b.split())


def crosses(box: Array, line: Array) -> bool:
    """Whether `box` (x0, y0, x1, y1) overlaps `line` across the line's width at all and half its height."""
    overlap_x = min(box[2], line[2]) - max(box[0], line[0])
    overlap_y = min(box[3], line[3]) - max(box[1], line[1])
    return overlap_x > 0 and overlap_y >= 0.5 * (line[3] - line[1])
