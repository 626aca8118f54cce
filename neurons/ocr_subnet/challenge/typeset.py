"""Typesetting shared by the open families: lines broken with the face's real metrics, a column that
sets lines down the page, and frames drawn from rules.

Only text is labelled; rules (underlines, table ruling, boxes, checkboxes) are ink that belongs to no
section, so the families keep every rule clear of every label box.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from reportlab.pdfbase.pdfmetrics import stringWidth

from ocr_subnet.challenge import fonts
from ocr_subnet.challenge.invoice import PAGE_HEIGHT, PAGE_WIDTH, Rule, Text, choose, text
from ocr_subnet.sections import Font


def any_face(rng: np.random.Generator, size: float) -> Font:
    """A published face drawn uniformly, registered, at `size`."""
    return Font(family=fonts.register(choose(rng, fonts.PUBLISHED_FAMILIES)), size=size)


def margins(rng: np.random.Generator) -> tuple[float, float, float, float]:
    """A page's text area, drawn per page: left, right, bottom and top, in points."""
    left = float(rng.uniform(30, 75))
    right = PAGE_WIDTH - float(rng.uniform(30, 75))
    bottom = float(rng.uniform(35, 65))
    return left, right, bottom, PAGE_HEIGHT - float(rng.uniform(35, 75))


def wrap(paragraph: str, font: Font, width: float) -> list[str]:
    """Greedy line breaking at spaces with the face's own advance widths; a word wider than `width` on
    its own is left out, so every line fits the measure."""
    lines: list[str] = []
    line = ""
    for word in paragraph.split(" "):
        if stringWidth(word, font.family, font.size) > width:
            continue
        candidate = f"{line} {word}" if line else word
        if line and stringWidth(candidate, font.family, font.size) > width:
            lines.append(line)
            line = word
        else:
            line = candidate
    return [*lines, line] if line else lines


def fit(value: str, font: Font, width: float) -> str:
    """`value` less its last words until it fits `width` (empty if even its first word does not)."""
    tokens = value.split(" ")
    while tokens and stringWidth(" ".join(tokens), font.family, font.size) > width:
        tokens.pop()
    return " ".join(tokens)


def descent(font: Font) -> float:
    """How far below the baseline a label box in `font` reaches, in points."""
    return fonts.extent(font.family)[0] * font.size


def ascent(font: Font) -> float:
    """How far above the baseline a label box in `font` reaches, in points."""
    return fonts.extent(font.family)[1] * font.size


def frame(x0: float, y0: float, x1: float, y1: float, width: float) -> tuple[Rule, ...]:
    """The four sides of a rectangle (PDF points, y up)."""
    return (
        Rule(x0, y0, x1, y0, width),
        Rule(x1, y0, x1, y1, width),
        Rule(x1, y1, x0, y1, width),
        Rule(x0, y1, x0, y0, width),
    )


@dataclass
class Column:
    """Sets lines from `baseline` down to `bottom` between `left` and `right`, `leading` sizes apart."""

    left: float
    right: float
    baseline: float
    bottom: float
    leading: float
    texts: list[Text] = field(default_factory=list)

    @property
    def width(self) -> float:
        return self.right - self.left

    def put(self, value: str, font: Font, align: str = "left") -> bool:
        """Set one line (left, right or center); False, setting nothing, once the column is full."""
        if self.baseline - descent(font) < self.bottom:
            return False
        advance = stringWidth(value, font.family, font.size)
        x = {"left": self.left, "right": self.right - advance, "center": self.left + (self.width - advance) / 2}[align]
        self.texts.append(text(value, font, max(self.left, x), self.baseline))
        self.baseline -= self.leading * font.size
        return True

    def put_lines(self, lines: list[str], font: Font) -> bool:
        """Set `lines` left-aligned until the column is full; False if some did not fit."""
        return all(self.put(line, font) for line in lines)

    def skip(self, lines: float, size: float) -> None:
        self.baseline -= lines * self.leading * size
