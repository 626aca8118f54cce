"""The section schema: the one shape that labels, miner answers and scoring share.

A section is one drawn string: its text, its box in pixels of the image as delivered
(origin top-left, x0 < x1, y0 < y1) and the font it was drawn with (PDF base-font name,
size in points). See DESIGN.md, "Contracts that several parts share".
"""

from __future__ import annotations

import bisect
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
    """The page cut into blocks that are read one after another (an XY cut): a region is cut at a gutter between
    two columns of prose where it has one, else at its widest band of white from side to side, until neither
    is left. Only prose makes columns: the cells of a table or a form are short, so its rows stay whole."""
    if not sections:
        return []
    heights = sorted(s.position[3] - s.position[1] for s in sections)
    gutter = MIN_GUTTER * heights[len(heights) // 2]
    done: list[list[Section]] = []
    todo = [list(sections)]  # a stack, the next region to read last
    while todo:
        region = todo.pop()
        parts = column_cut(region, gutter) or band_cut(region)
        if parts is None:
            done.append(region)
        else:
            todo.extend(reversed(parts))
    return done


def white(spans: Sequence[tuple[float, float]]) -> list[tuple[float, float]]:
    """The white intervals between `spans` (start, end) once overlapping ones are merged."""
    gaps = []
    ordered = sorted(spans)
    reach = ordered[0][1]
    for start, end in ordered[1:]:
        if start > reach:
            gaps.append((reach, start))
        reach = max(reach, end)
    return gaps


def column_cut(region: Sequence[Section], gutter: float) -> list[list[Section]] | None:
    """The region's columns of prose, left to right, or None where it has no two side by side. The region is
    split at every gutter (white from top to bottom, at least `gutter` wide) into strips; a gutter parts two
    strips only where both are prose (`is_column`), so a table's columns stay together and are read in rows."""
    if len(region) < 2 * MIN_COLUMN_LINES:
        return None
    cuts = [
        (start + end) / 2
        for start, end in white([(s.position[0], s.position[2]) for s in region])
        if end - start >= gutter
    ]
    strips: list[list[Section]] = [[] for _ in range(len(cuts) + 1)]
    for section in region:
        strips[bisect.bisect(cuts, section.position[0])].append(section)
    prose = [is_column(strip, gutter) for strip in strips]
    parts = [strips[0]]
    for strip, left, right in zip(strips[1:], prose[:-1], prose[1:], strict=True):
        if left and right:
            parts.append(strip)
        else:
            parts[-1] = parts[-1] + strip
    return parts if len(parts) > 1 else None


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


def band_cut(region: Sequence[Section]) -> list[list[Section]] | None:
    """The region above and below its widest band of white from side to side; None where it has none."""
    gaps = white([(s.position[1], s.position[3]) for s in region])
    if not gaps:
        return None
    start, end = max(gaps, key=lambda gap: gap[1] - gap[0])
    middle = (start + end) / 2
    return [[s for s in region if s.position[3] <= middle], [s for s in region if s.position[1] >= middle]]


def reading_order(sections: Sequence[Section]) -> list[Section]:
    return [section for line in lines(sections) for section in line]


def lines_text(grouped: Sequence[Sequence[Section]]) -> str:
    """Lines as text: a space between the sections of a line, a newline between lines."""
    return "\n".join(" ".join(section.text for section in line) for line in grouped)


def plain_text(sections: Sequence[Section]) -> str:
    return lines_text(lines(sections))
