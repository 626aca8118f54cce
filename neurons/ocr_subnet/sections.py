"""The section schema: the one shape that labels, miner answers and scoring share.

A section is one drawn string: its text, its box in pixels of the image as delivered
(origin top-left, x0 < x1, y0 < y1) and the font it was drawn with (PDF base-font name,
size in points). See DESIGN.md, "Contracts that several parts share".
"""

from __future__ import annotations

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


def lines(sections: Sequence[Section]) -> list[list[Section]]:
    """The reading order every page's text is read in (the gateway's answers, the real-PDF evaluation).

    Top to bottom, each line left to right: a section whose vertical centre falls inside the previous
    section's band joins its line."""
    grouped: list[list[Section]] = []
    for section in sorted(sections, key=lambda s: (s.position[1] + s.position[3]) / 2):
        centre = (section.position[1] + section.position[3]) / 2
        if grouped and grouped[-1][-1].position[1] <= centre <= grouped[-1][-1].position[3]:
            grouped[-1].append(section)
        else:
            grouped.append([section])
    return [sorted(line, key=lambda s: s.position[0]) for line in grouped]


def reading_order(sections: Sequence[Section]) -> list[Section]:
    return [section for line in lines(sections) for section in line]


def lines_text(grouped: Sequence[Sequence[Section]]) -> str:
    """Lines as text: a space between the sections of a line, a newline between lines."""
    return "\n".join(" ".join(section.text for section in line) for line in grouped)


def plain_text(sections: Sequence[Section]) -> str:
    return lines_text(lines(sections))
