"""The section schema: the one shape that labels, miner answers and scoring share.

A section is one drawn string: its text, its box in pixels of the image as delivered
(origin top-left, x0 < x1, y0 < y1) and the font it was drawn with (PDF base-font name,
size in points). See DESIGN.md, "Contracts that several parts share".
"""

from __future__ import annotations

import bisect
import itertools
from collections.abc import Sequence
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, field_validator

# Families the generator draws with; answers may name others, which simply never match.
FONT_FAMILIES: tuple[str, ...] = (
    "Helvetica",
    "Helvetica-Bold",
    "Times-Roman",
    "Times-Bold",
    "Courier",
    "Courier-Bold",
)

MAX_TEXT_CHARS = 1_000
MAX_FAMILY_CHARS = 64
MAX_COORDINATE = 100_000.0
MAX_FONT_SIZE = 500.0

Coordinate = Annotated[float, Field(ge=-MAX_COORDINATE, le=MAX_COORDINATE, allow_inf_nan=False)]


class Font(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    family: str = Field(max_length=MAX_FAMILY_CHARS)
    size: float = Field(gt=0, le=MAX_FONT_SIZE, allow_inf_nan=False)


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    text: str = Field(max_length=MAX_TEXT_CHARS)
    position: tuple[Coordinate, Coordinate, Coordinate, Coordinate]
    font: Font

    @field_validator("position")
    @classmethod
    def _box_is_ordered(cls, box: tuple[float, float, float, float]) -> tuple[float, float, float, float]:
        x0, y0, x1, y1 = box
        if not (x0 < x1 and y0 < y1):
            raise ValueError(f"position must satisfy x0 < x1 and y0 < y1, got {list(box)}")
        return box

    @property
    def area(self) -> float:
        x0, y0, x1, y1 = self.position
        return (x1 - x0) * (y1 - y0)


MIN_GUTTER = 0.7  # the white between two columns, in the page's median section heights
MIN_COLUMN_LINES = 3  # lines on each side of a gutter, at least
MIN_COLUMN_WORDS = 2  # words in a column's median line, at least
MIN_COLUMN_FILL = 0.6  # a column's median line spans this share of the column's width, at least


def lines(sections: Sequence[Section]) -> list[list[Section]]:
    """The reading order every page's text is read in (the gateway's answers, the real-PDF evaluation): the
    page's blocks one after another (`blocks`: columns of prose, one after the other), each top to bottom and
    each line left to right."""
    return [line for block in blocks(sections) for line in rows(block)]


def rows(sections: Sequence[Section]) -> list[list[Section]]:
    """Top to bottom, each line left to right: a section whose vertical centre falls inside the previous
    section's band joins its line."""
    grouped: list[list[Section]] = []
    for section in sorted(sections, key=lambda s: (s.position[1] + s.position[3]) / 2):
        centre = (section.position[1] + section.position[3]) / 2
        if grouped and grouped[-1][-1].position[1] <= centre <= grouped[-1][-1].position[3]:
            grouped[-1].append(section)
        else:
            grouped.append([section])
    return [sorted(line, key=lambda s: s.position[0]) for line in grouped]


def blocks(sections: Sequence[Section]) -> list[list[Section]]:
    """The page cut into blocks that are read one after another (an XY cut). A region is cut at the gutters
    between its columns of prose where it has them (`column_cut`); else into its bands (white from side to side
    between them), and consecutive bands that keep a gutter open between them (the rows of two columns whose
    lines align, under a title that spans both) are tried as columns together, else each on its own. Only prose
    makes columns: a table's cells stand apart within their rows, so its rows stay whole. Each section is looked
    at a bounded number of times, so a page of many sections costs O(n log n)."""
    if not sections:
        return []
    heights = sorted(s.position[3] - s.position[1] for s in sections)
    gutter = MIN_GUTTER * heights[len(heights) // 2]
    done: list[list[Section]] = []
    todo: list[tuple[list[Section], bool]] = [(list(sections), True)]  # a stack: (region, may hold several bands)
    while todo:
        region, banded = todo.pop()
        columns = column_cut(region, gutter)
        if columns:
            todo.extend((column, True) for column in reversed(columns))
        elif banded and len(bands := split(region, 1)) > 1:
            for run in reversed(gutter_runs(bands, gutter)):
                parts = column_cut([section for band in run for section in band], gutter) if len(run) > 1 else None
                if parts:
                    todo.extend((part, True) for part in reversed(parts))
                else:
                    todo.extend((band, False) for band in reversed(run))
        else:
            done.append(region)
    return done


def white(spans: Sequence[tuple[float, float]]) -> list[tuple[float, float]]:
    """The white intervals between `spans` (start, end) once overlapping ones are merged."""
    inked = merged(spans)
    return [(before[1], after[0]) for before, after in itertools.pairwise(inked)]


def split(region: Sequence[Section], axis: int, least: float = 0.0) -> list[list[Section]]:
    """`region` cut in the middle of each white interval at least `least` wide along `axis` (0: across, into
    strips; 1: down, into bands), in order."""
    spans = [(s.position[axis], s.position[axis + 2]) for s in region]
    cuts = [(start + end) / 2 for start, end in white(spans) if end - start >= least]
    parts: list[list[Section]] = [[] for _ in range(len(cuts) + 1)]
    for section in region:
        parts[bisect.bisect(cuts, section.position[axis])].append(section)
    return parts


def column_cut(region: Sequence[Section], gutter: float) -> list[list[Section]] | None:
    """The region's columns of prose, left to right, or None where it has no two side by side. The region is
    split at every gutter (white from top to bottom, at least `gutter` wide) into strips; a gutter parts two
    strips only where both are prose (`is_column`) side by side (`side_by_side`), so a table's columns stay
    together and are read in rows."""
    if len(region) < 2 * MIN_COLUMN_LINES:
        return None
    strips = split(region, 0, gutter)
    prose = [is_column(strip, gutter) for strip in strips]
    parts = [strips[0]]
    for i in range(1, len(strips)):
        if prose[i - 1] and prose[i] and side_by_side(strips[i - 1], strips[i]):
            parts.append(strips[i])
        else:
            parts[-1] = parts[-1] + strips[i]
    return parts if len(parts) > 1 else None


def side_by_side(left: Sequence[Section], right: Sequence[Section]) -> bool:
    """Whether two strips share most of their height, as columns do; an address block beside and below a
    letterhead does not."""
    top = [min(s.position[1] for s in strip) for strip in (left, right)]
    bottom = [max(s.position[3] for s in strip) for strip in (left, right)]
    shared = min(bottom) - max(top)
    return shared >= 0.5 * min(b - t for t, b in zip(top, bottom, strict=True))


def is_column(sections: Sequence[Section], gutter: float) -> bool:
    """Lines of prose: at least `MIN_COLUMN_LINES` of them, and the median line holds `MIN_COLUMN_WORDS` words,
    spans `MIN_COLUMN_FILL` of the column's width and has no white inside it as wide as a gutter. A table's
    rows fail the last: their cells stand apart."""
    grouped = rows(sections)
    if len(grouped) < MIN_COLUMN_LINES:
        return False
    width = max(s.position[2] for s in sections) - min(s.position[0] for s in sections)
    words, fills, gaps = [], [], []
    for line in grouped:
        words.append(sum(len(s.text.split()) for s in line))
        fills.append((max(s.position[2] for s in line) - min(s.position[0] for s in line)) / width)
        gaps.append(
            max((end - start for start, end in white([(s.position[0], s.position[2]) for s in line])), default=0.0)
        )
    middle = len(grouped) // 2
    return (
        sorted(words)[middle] >= MIN_COLUMN_WORDS
        and sorted(fills)[middle] >= MIN_COLUMN_FILL
        and sorted(gaps)[middle] < gutter
    )


def gutter_runs(bands: Sequence[Sequence[Section]], gutter: float) -> list[list[Sequence[Section]]]:
    """Consecutive `bands` grouped while they keep the same gutters (white at least `gutter` wide between
    sections): each of a band's gutters lies in white left open down through the run so far, and each of the
    run's gutters in white the band leaves open. Open white is measured across the whole region, so a column's
    short line (its last, or its first where the other column starts lower) leaves the gutters open beside it,
    and a title that crosses a gutter starts a run of its own."""
    left = min(s.position[0] for band in bands for s in band)
    right = max(s.position[2] for band in bands for s in band)

    def wide(spans: list[tuple[float, float]]) -> list[tuple[float, float]]:
        return [(a, b) for a, b in white(spans) if b - a >= gutter]

    def shared(these: list[tuple[float, float]], those: list[tuple[float, float]]) -> list[tuple[float, float]]:
        return [(max(a, c), min(b, d)) for a, b in these for c, d in those if min(b, d) - max(a, c) >= gutter]

    runs: list[list[Sequence[Section]]] = []
    opened: list[tuple[float, float]] = []  # white open down through the whole run
    inner: list[tuple[float, float]] = []  # the run's gutters, merged
    for band in bands:
        spans = sorted((s.position[0], s.position[2]) for s in band)
        gutters, band_open = wide(spans), wide([(left, left), *spans, (right, right)])
        if runs and all(shared([g], opened) for g in gutters) and all(shared([g], band_open) for g in inner):
            runs[-1].append(band)
            opened = shared(opened, band_open)
            inner = merged([*inner, *gutters])
        else:
            runs.append([band])
            opened, inner = band_open, gutters
    return runs


def merged(spans: Sequence[tuple[float, float]]) -> list[tuple[float, float]]:
    """`spans` with overlapping ones joined, in order."""
    out: list[tuple[float, float]] = []
    for start, end in sorted(spans):
        if out and start <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], end))
        else:
            out.append((start, end))
    return out


def lines_text(grouped: Sequence[Sequence[Section]]) -> str:
    """Lines as text: a space between the sections of a line, a newline between lines."""
    return "\n".join(" ".join(section.text for section in line) for line in grouped)


def plain_text(sections: Sequence[Section]) -> str:
    return lines_text(lines(sections))
