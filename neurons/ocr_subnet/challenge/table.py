"""Table pages: one or more tables of 2 to 8 columns, each with a header row and typed cells.

Each column has a kind (words, codes, dates, integers, amounts, decimals, percentages) drawn per
table: numbers are right-aligned, as printed tables set them, words and codes left-aligned. Headers
are open vocabulary or, now and then, a common header for the kind (`HEADERS`, fixed strings the
reward weighs down). Ruling is a full grid, horizontal rules only (booktabs-like, or every row), or
none; a table may carry a caption above or a note below, and a short paragraph may sit between
tables. One label per cell; rules sit midway between rows and columns, clear of every label box.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from reportlab.pdfbase.pdfmetrics import stringWidth

from ocr_subnet.challenge import words
from ocr_subnet.challenge.invoice import PAGE_HEIGHT, PAGE_WIDTH, Layout, Rule, Text, choose, text
from ocr_subnet.challenge.typeset import Column, any_face, ascent, descent, fit, wrap
from ocr_subnet.sections import Font

KINDS = ("word", "words", "code", "date", "integer", "amount", "decimal", "percent")
NUMERIC = frozenset(("integer", "amount", "decimal", "percent"))
HEADERS: dict[str, tuple[str, ...]] = {
    "word": ("Name", "Type", "Category", "Status", "Region", "Item"),
    "words": ("Description", "Title", "Remarks", "Location", "Notes"),
    "code": ("Code", "ID", "Ref.", "SKU", "Account", "No."),
    "date": ("Date", "Issued", "Due", "Updated", "Period"),
    "integer": ("Qty", "Count", "Units", "Total", "Population"),
    "amount": ("Amount", "Price", "Balance", "Cost", "Revenue"),
    "decimal": ("Value", "Mean", "Change", "Score", "Ratio"),
    "percent": ("Share", "Rate", "Growth", "Margin", "Yield"),
}
CAPTIONS = ("Table", "TABLE", "Tab.", "Exhibit")
RULINGS = ("grid", "horizontal", "rows", "none")
STOCK_TEXTS: frozenset[str] = frozenset(header for options in HEADERS.values() for header in options)


@dataclass(frozen=True)
class Spec:
    """What a table's columns hold: their kinds and a format per column (a date column's strftime
    format, an amount column's currency sign or "")."""

    kinds: tuple[str, ...]
    formats: tuple[str, ...]


def cell(rng: np.random.Generator, kind: str, fmt: str) -> str:
    if kind == "word":
        word = words.words(rng, 1)[0]
        return words.capitalized(word) if rng.random() < 0.6 else word
    if kind == "words":
        return (
            words.title_words(rng, 1, 3) if rng.random() < 0.5 else " ".join(words.words(rng, int(rng.integers(1, 4))))
        )
    if kind == "code":
        return words.code(rng)
    if kind == "date":
        return words.date(rng, fmt)
    if kind == "integer":
        return f"{int(rng.lognormal(4, 2.5)):,}"
    if kind == "amount":
        return f"{fmt}{rng.lognormal(5, 2):,.2f}"
    if kind == "decimal":
        return f"{rng.normal(0, 30):.{int(rng.integers(1, 4))}f}"
    return f"{rng.uniform(-20, 100):.1f}%"


def header(rng: np.random.Generator, kind: str) -> str:
    return choose(rng, HEADERS[kind]) if rng.random() < 0.4 else words.title_words(rng, 1, 2)


def make_spec(rng: np.random.Generator) -> Spec:
    count = int(rng.integers(2, 9))
    first = choose(rng, ("word", "words", "code", "date"))
    kinds = (first, *(choose(rng, KINDS) for _ in range(count - 1)))
    formats = tuple(
        choose(rng, words.DATE_FORMATS) if kind == "date" else ("$" if rng.random() < 0.3 else "") for kind in kinds
    )
    return Spec(kinds, formats)


def draw_table(
    rng: np.random.Generator, body: Font, head: Font, left: float, right: float, top: float, bottom: float
) -> tuple[list[Text], list[Rule], float] | None:
    """A table whose top edge is at `top`: its cells, its rules and its bottom edge, or None when fewer than
    two rows fit above `bottom`."""
    spec = make_spec(rng)
    rows = int(rng.integers(3, 31))
    headers = [header(rng, kind) for kind in spec.kinds]
    cells = [[cell(rng, kind, fmt) for kind, fmt in zip(spec.kinds, spec.formats, strict=True)] for _ in range(rows)]
    numeric = [kind in NUMERIC for kind in spec.kinds]
    return grid(rng, headers, cells, numeric, body, head, left, right, top, bottom)


def grid(
    rng: np.random.Generator,
    headers: list[str],
    cells: list[list[str]],
    numeric: list[bool],
    body: Font,
    head: Font,
    left: float,
    right: float,
    top: float,
    bottom: float,
) -> tuple[list[Text], list[Rule], float] | None:
    """Lays out given headers and cells (numeric columns right-aligned) whose top edge is at `top`: the last
    columns are dropped while too wide, rows while below `bottom`; None when fewer than two rows fit."""
    pad = float(rng.uniform(0.6, 1.6)) * body.size
    widths = [
        max(stringWidth(h, head.family, head.size), *(stringWidth(row[i], body.family, body.size) for row in cells))
        + 2 * pad
        for i, h in enumerate(headers)
    ]
    while sum(widths) > right - left and len(widths) > 2:
        widths.pop()
    if sum(widths) > right - left:
        return None
    count = len(widths)
    if rng.random() < 0.4:  # stretched to the full measure
        extra = (right - left - sum(widths)) / count
        widths = [w + extra for w in widths]
    x0 = left if rng.random() < 0.6 else left + (right - left - sum(widths)) / 2
    edges = [x0 + sum(widths[:i]) for i in range(count + 1)]
    above = max(ascent(body), ascent(head))
    below = max(descent(body), descent(head))
    gap = float(rng.uniform(0.2, 0.55)) * body.size
    pitch = above + below + 2 * gap
    aligns = ["right" if flag else "left" for flag in numeric[:count]]
    texts: list[Text] = []
    lines = [top]  # the horizontal boundaries of the rows drawn so far
    for values, font in [(headers, head), *((row, body) for row in cells)]:
        if lines[-1] - pitch < bottom:
            break
        baseline = lines[-1] - gap - above
        for i, (value, align) in enumerate(zip(values[:count], aligns, strict=True)):
            advance = stringWidth(value, font.family, font.size)
            start = edges[i] + pad if align == "left" else edges[i + 1] - pad - advance
            texts.append(text(value, font, start, baseline))
        lines.append(lines[-1] - pitch)
    if len(lines) < 4:  # the header and at least two rows
        return None
    ruling = choose(rng, RULINGS)
    weight = float(rng.uniform(0.4, 1.0))
    heavy = weight * float(rng.uniform(1.0, 2.0))
    rules: list[Rule] = []
    left_edge, right_edge = edges[0], edges[-1]
    if ruling in ("grid", "rows"):
        rules += [Rule(left_edge, y, right_edge, y, weight) for y in lines]
    elif ruling == "horizontal":
        rules += [
            Rule(left_edge, y, right_edge, y, heavy if y != lines[1] else weight)
            for y in (lines[0], lines[1], lines[-1])
        ]
    if ruling == "grid":
        rules += [Rule(x, lines[0], x, lines[-1], weight) for x in edges]
    return texts, rules, lines[-1]


def make_layout(rng: np.random.Generator) -> Layout:
    """A page of tables stacked from the top margin down, with captions, notes and a paragraph between."""
    size = float(rng.integers(8, 12))
    body = any_face(rng, size)
    head = any_face(rng, size)
    caption_font = any_face(rng, size + float(rng.integers(0, 4)))
    left = float(rng.uniform(30, 80))
    right = PAGE_WIDTH - float(rng.uniform(30, 80))
    bottom = float(rng.uniform(35, 70))
    top = PAGE_HEIGHT - float(rng.uniform(35, 80))
    leading = float(rng.uniform(1.2, 1.5))
    label = choose(rng, CAPTIONS)
    number = int(rng.integers(1, 40))
    texts: list[Text] = []
    rules: list[Rule] = []
    while top - bottom > 4 * size:
        notes = Column(left, right, top - ascent(caption_font), bottom, leading)
        if rng.random() < 0.6:
            notes.put(
                fit(f"{label} {number}. {words.title_words(rng, 1, 6)}", caption_font, right - left), caption_font
            )
            notes.skip(0.3, size)
        start = min((t.baseline - descent(t.font) for t in notes.texts), default=top + 0.4 * size) - 0.4 * size
        table = draw_table(rng, body, head, left, right, start, bottom)
        if table is None:
            break
        texts += notes.texts + table[0]
        rules += table[1]
        number += 1
        after = Column(left, right, table[2] - 0.6 * size - ascent(body), bottom, leading)
        if rng.random() < 0.3:  # a note under the table
            after.put_lines(wrap(words.sentence(rng), body, right - left), body)
        if rng.random() < 0.3:  # a paragraph before the next table
            after.skip(0.5, size)
            after.put_lines(wrap(words.paragraph(rng, 1, 3), body, right - left), body)
        texts += after.texts
        top = (
            min((t.baseline - descent(t.font) for t in after.texts), default=table[2])
            - float(rng.uniform(1.2, 3.0)) * size
        )
    return Layout("table", tuple(texts), tuple(rules))
