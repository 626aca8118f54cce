"""Letters and prose pages: paragraphs of open-vocabulary text in any published face.

Words come uniformly from a 104k-word English list (`words`), with numbers, dates and names mixed
in, wrapped to the page's measure with the face's real metrics; one label per printed line. Two
templates: a letter (sender, date, salutation, body, closing, signature) and a titled prose page.
"""

from __future__ import annotations

import datetime as dt

import numpy as np

from ocr_subnet.challenge import fonts
from ocr_subnet.challenge.invoice import PAGE_HEIGHT, PAGE_WIDTH, Layout, choose
from ocr_subnet.challenge.typeset import Column, wrap
from ocr_subnet.challenge.words import paragraph, title_words
from ocr_subnet.sections import Font

CLOSINGS = ("Sincerely,", "Yours truly,", "Best regards,", "Kind regards,", "Respectfully,")
STREETS = ("Street", "Avenue", "Road", "Lane", "Drive", "Court", "Place")
STOCK_TEXTS: frozenset[str] = frozenset(CLOSINGS)
FIRST_DATE = dt.date(1990, 1, 1)


def make_layout(rng: np.random.Generator) -> Layout:
    """A letter or a prose page filling the page from its top margin down to its bottom margin."""
    body_family = fonts.register(choose(rng, fonts.PUBLISHED_FAMILIES))
    heading_family = fonts.register(choose(rng, fonts.PUBLISHED_FAMILIES))
    size = float(rng.integers(9, 14))
    body = Font(family=body_family, size=size)
    heading = Font(family=heading_family, size=float(min(20, size + rng.integers(2, 7))))
    leading = float(rng.uniform(1.25, 1.6))
    left = float(rng.uniform(40, 90))
    right = PAGE_WIDTH - float(rng.uniform(40, 90))
    bottom = float(rng.uniform(40, 70))
    baseline = PAGE_HEIGHT - float(rng.uniform(40, 80)) - fonts.TTF_ASCENT * heading.size
    page = Column(left, right, baseline, bottom, leading)
    template = choose(rng, ("letter", "prose"))
    if template == "letter":
        page.put_lines(wrap(title_words(rng, 1, 3), heading, right - left), heading)
        page.put(f"{int(rng.integers(1, 9999))} {title_words(rng, 1, 2)} {choose(rng, STREETS)}", body)
        date = FIRST_DATE + dt.timedelta(days=int(rng.integers(0, 365 * 40)))
        fmt = choose(rng, ("%B %d, %Y", "%d %B %Y", "%Y-%m-%d"))
        page.put(date.strftime(fmt), body, choose(rng, ("left", "right")))
        page.skip(1.0, size)
        page.put(f"Dear {title_words(rng, 1, 2)},", body)
        page.skip(0.5, size)
    else:
        page.put_lines(wrap(title_words(rng, 2, 6), heading, right - left), heading)
        page.skip(0.5, size)
    paragraphs = int(rng.integers(2, 7)) if template == "letter" else 50
    for _ in range(paragraphs):
        lines = wrap(paragraph(rng), body, right - left)
        if not page.put_lines(lines, body):
            break
        page.skip(float(rng.choice((0.0, 0.5, 1.0))), size)
    if template == "letter":
        page.skip(0.5, size)
        if page.put(choose(rng, CLOSINGS), body):
            page.put(title_words(rng, 2, 3), body)
    return Layout(template, tuple(page.texts))
