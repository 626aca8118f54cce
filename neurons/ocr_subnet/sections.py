"""The section schema: the one shape that labels, miner answers and scoring share.

A section is one drawn string: its text, its box in pixels of the image as delivered
(origin top-left, x0 < x1, y0 < y1) and the font it was drawn with (PDF base-font name,
size in points). See DESIGN.md, "Contracts that several parts share".
"""

from __future__ import annotations

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
