"""Multi-column pages: two or three columns of wrapped open-vocabulary prose, as newsletters, journals
and magazines print them.

An optional title (and byline) spans the columns, optionally ruled off below; the prose flows from
the foot of one column to the head of the next, broken into lines with the face's real metrics, with
now and then a run-in section heading; the gutters are optionally ruled. One label per printed line.
"""

from __future__ import annotations

import numpy as np

from ocr_subnet.challenge.invoice import PAGE_HEIGHT, PAGE_WIDTH, Layout, Rule, choose
from ocr_subnet.challenge.typeset import Column, any_face, ascent, descent, wrap
from ocr_subnet.challenge.words import date, paragraph, title_words

STOCK_TEXTS: frozenset[str] = frozenset()


def make_layout(rng: np.random.Generator) -> Layout:
    """2 or 3 columns filled from the top margin (or below a spanning title) down to the bottom margin."""
    size = float(rng.integers(8, 12))
    body = any_face(rng, size)
    heading = any_face(rng, float(rng.integers(14, 25)))
    subheading = any_face(rng, size + float(rng.integers(0, 3)))
    leading = float(rng.uniform(1.2, 1.5))
    left = float(rng.uniform(30, 70))
    right = PAGE_WIDTH - float(rng.uniform(30, 70))
    bottom = float(rng.uniform(35, 65))
    top = PAGE_HEIGHT - float(rng.uniform(35, 70))
    count = int(rng.integers(2, 4))
    gutter = float(rng.uniform(12, 30))
    rules: list[Rule] = []

    spanning = Column(left, right, top - ascent(heading), bottom, leading)
    if rng.random() < 0.75:
        align = choose(rng, ("left", "center"))
        for line in wrap(title_words(rng, 2, 9), heading, right - left):
            spanning.put(line, heading, align)
        if rng.random() < 0.5:
            spanning.put(f"{title_words(rng, 2, 3)}, {date(rng)}", body, align)
        top = min(t.baseline - descent(t.font) for t in spanning.texts) - 0.8 * size
        if rng.random() < 0.5:
            rules.append(Rule(left, top, right, top, float(rng.uniform(0.5, 1.5))))
            top -= 0.8 * size
    width = (right - left - (count - 1) * gutter) / count
    columns = [
        Column(left + i * (width + gutter), left + i * (width + gutter) + width, top - ascent(body), bottom, leading)
        for i in range(count)
    ]
    current = 0
    while current < count:
        lines = [(line, body) for line in wrap(paragraph(rng, 2, 7), body, width)]
        if rng.random() < 0.25:
            lines = [(line, subheading) for line in wrap(title_words(rng, 1, 4), subheading, width)] + lines
        for line, font in lines:
            while current < count and not columns[current].put(line, font):
                current += 1
        if current < count:
            columns[current].skip(float(rng.choice((0.0, 0.5, 1.0))), size)
    texts = [*spanning.texts, *(t for column in columns for t in column.texts)]
    if rng.random() < 0.5:
        lowest = min(t.baseline - descent(t.font) for column in columns for t in column.texts)
        rule_width = float(rng.uniform(0.4, 1.0))
        for i in range(1, count):
            x = left + i * (width + gutter) - gutter / 2
            rules.append(Rule(x, top, x, lowest, rule_width))
    return Layout(f"columns-{count}", tuple(texts), tuple(rules))
