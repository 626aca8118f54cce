"""Rows of dot leaders counted from their pixels.

Tables of contents, price lists and forms lead a title to its page number with a row of dots. Set tight (DocBook
through FOP prints one every quarter em), the dots stand about two of the recognizer's frames apart, and CTC must
emit a blank between two equal characters: it writes a run of dots, but a shorter one (about half), and the page's
text loses a character for every dot it drops. The dots themselves are easy to count: each is a small blob of ink on
the baseline with nothing else between it and the next. So a reading's runs of dots take their length from the
crop's rows of dots, where the two agree on how many rows there are. TeX spaces its dots (about two thirds of the
letters' height apart, a quarter em of space between them), and its text layer holds them spaced: such a row is
written ". . .", and tight ones "...".
"""

from __future__ import annotations

import re
from typing import NamedTuple

import numpy as np
import numpy.typing as npt
from scipy import ndimage

INK = 0.5  # a normalised crop's ink (paper is 0, the darkest ink ~1)
MIN_DOTS = 4  # a row of dots holds at least this many; "..." is an ellipsis
DOT_HEIGHT = 0.35  # a dot is at most this share of the line's letters' height tall
DOT_ASPECT = 2.0  # and at most this many times as wide as it is tall (a dash or rule is wider)
DOT_SPREAD = 2.0  # a row's dots are no more than this many times its median dot's width or height (+1 px)
BASELINE_SLACK = 0.15  # of the letters' height: a dot's foot sits this close to the row's
SPACED_PITCH = 0.5  # of the letters' height: dots further apart than this are spaced (TeX: ~0.6; DocBook: ~0.4)
TIGHT_RUN = re.compile(rf"\.{{{MIN_DOTS},}}(?:[ .]*\.)?")  # a tight row as read: four dots in a row at least


class DotRow(NamedTuple):
    dots: int
    spaced: bool

    def text(self) -> str:
        return (" " if self.spaced else "").join("." * self.dots)


def dot_rows(crop: npt.NDArray[np.floating]) -> list[DotRow]:
    """The rows of dots in a normalised (H, W) crop, left to right. A row is a run of dot blobs (short, not wide,
    their feet on the letters' baseline) with no other blob between them, `MIN_DOTS` long at least. Specks of a
    scan's noise sit anywhere, so few of them line up on the baseline."""
    labels, count = ndimage.label(crop > INK)
    if count < MIN_DOTS:
        return []
    boxes = sorted((s[1].start, s[1].stop, s[0].start, s[0].stop) for s in ndimage.find_objects(labels))
    letters = max(y1 - y0 for _, _, y0, y1 in boxes)  # a row of dots may hold most of the crop's blobs
    tall = [y1 for _, _, y0, y1 in boxes if y1 - y0 > DOT_HEIGHT * letters]
    baseline, slack = float(np.median(tall)), max(1.0, BASELINE_SLACK * letters)
    runs: list[list[tuple[int, int, int]]] = [[]]  # the left edge, width and height of consecutive dots
    for x0, x1, y0, y1 in boxes:
        if y1 - y0 <= DOT_HEIGHT * letters and x1 - x0 <= DOT_ASPECT * (y1 - y0) + 1 and abs(y1 - baseline) <= slack:
            runs[-1].append((x0, x1 - x0, y1 - y0))
        elif runs[-1]:
            runs.append([])
    spaced = SPACED_PITCH * letters
    rows = [[x0 for x0, _, _ in dots] for run in runs for dots in alike(run)]
    return [DotRow(len(row), float(np.median(np.diff(row))) > spaced) for row in rows if len(row) >= MIN_DOTS]


def alike(run: list[tuple[int, int, int]]) -> list[list[tuple[int, int, int]]]:
    """A run of dot-sized blobs (left edge, width, height) split at each blob over `DOT_SPREAD` times the run's
    median width or height: a row repeats one glyph, and a thin digit's stroke that the ink threshold cut off
    its glyph ("2"'s foot, as one renderer draws it) is dot-sized but not a dot."""
    if not run:
        return []
    width, height = np.median([w for _, w, _ in run]), np.median([h for _, _, h in run])
    parts: list[list[tuple[int, int, int]]] = [[]]
    for x0, w, h in run:
        if w > DOT_SPREAD * width + 1 or h > DOT_SPREAD * height + 1:
            parts.append([])
        else:
            parts[-1].append((x0, w, h))
    return parts


def recount_leaders(text: str, crop: npt.NDArray[np.floating]) -> str:
    """`text` with each tight run of dots rewritten as the crop's row of dots it reads (as many dots, tight or
    spaced), where the text has as many such runs as the crop has rows and no row holds fewer dots than its run
    (CTC drops dots, it does not add them); otherwise `text` as it is."""
    runs = list(TIGHT_RUN.finditer(text))
    if not runs:
        return text
    rows = dot_rows(crop)
    if len(rows) != len(runs) or any(row.dots < run.group().count(".") for row, run in zip(rows, runs, strict=True)):
        return text
    out, start = [], 0
    for row, run in zip(rows, runs, strict=True):
        out += [text[start : run.start()], row.text()]
        start = run.end()
    return "".join([*out, text[start:]])
