"""Letters and prose pages: paragraphs of open-vocabulary text in any published face.

Words come uniformly from a 104k-word English list (`words`), with numbers, dates and names mixed
in, wrapped to the page's measure with the face's real metrics; one label per printed line. Two
templates: a letter (sender, date, salutation, body, closing, signature) and a titled prose page.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
from reportlab.pdfbase.pdfmetrics import stringWidth

from ocr_subnet.challenge import fonts, words
from ocr_subnet.challenge.invoice import PAGE_HEIGHT, PAGE_WIDTH, Layout, Text, choose, text
from ocr_subnet.sections import Font

CLOSINGS = ("Sincerely,", "Yours truly,", "Best regards,", "Kind regards,", "Respectfully,")
STREETS = ("Street", "Avenue", "Road", "Lane", "Drive", "Court", "Place")
STOCK_TEXTS: frozenset[str] = frozenset(CLOSINGS)
FIRST_DATE = dt.date(1990, 1, 1)


def title_words(rng: np.random.Generator, low: int, high: int) -> str:
    return " ".join(w[:1].upper() + w[1:] for w in words.words(rng, int(rng.integers(low, high + 1))))


def token(rng: np.random.Generator) -> str:
    """Mostly a word; sometimes a number, an amount, a year or a code."""
    kind = rng.random()
    if kind < 0.9:
        return words.words(rng, 1)[0]
    if kind < 0.94:
        return str(int(rng.integers(1, 10_000)))
    if kind < 0.97:
        return f"${rng.uniform(1, 5000):,.2f}"
    return f"{int(rng.integers(1900, 2030))}"


def sentence(rng: np.random.Generator) -> str:
    tokens = [token(rng) for _ in range(int(rng.integers(4, 17)))]
    for i in range(1, len(tokens) - 1):
        if rng.random() < 0.08:
            tokens[i] += ","
    tokens[0] = tokens[0][:1].upper() + tokens[0][1:]
    return " ".join(tokens) + choose(rng, (".", ".", ".", "?", "!", ";", ":"))


def wrap(paragraph: str, font: Font, width: float) -> list[str]:
    """Greedy line breaking at spaces with the face's own advance widths."""
    lines: list[str] = []
    line = ""
    for word in paragraph.split(" "):
        candidate = f"{line} {word}" if line else word
        if line and stringWidth(candidate, font.family, font.size) > width:
            lines.append(line)
            line = word
        else:
            line = candidate
    return [*lines, line] if line else lines


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
    texts: list[Text] = []

    def put(value: str, font: Font, align: str = "left") -> bool:
        nonlocal baseline
        if baseline - fonts.TTF_DESCENT * font.size < bottom:
            return False
        advance = stringWidth(value, font.family, font.size)
        x = right - advance if align == "right" else left
        texts.append(text(value, font, max(left, x), baseline))
        baseline -= leading * font.size
        return True

    def skip(lines: float = 1.0) -> None:
        nonlocal baseline
        baseline -= lines * leading * size

    template = choose(rng, ("letter", "prose"))
    if template == "letter":
        put(title_words(rng, 1, 3), heading)
        put(f"{int(rng.integers(1, 9999))} {title_words(rng, 1, 2)} {choose(rng, STREETS)}", body)
        date = FIRST_DATE + dt.timedelta(days=int(rng.integers(0, 365 * 40)))
        put(date.strftime(choose(rng, ("%B %d, %Y", "%d %B %Y", "%Y-%m-%d"))), body, choose(rng, ("left", "right")))
        skip()
        put(f"Dear {title_words(rng, 1, 2)},", body)
        skip(0.5)
    else:
        put(title_words(rng, 2, 6), heading)
        skip(0.5)
    paragraphs = int(rng.integers(2, 7)) if template == "letter" else 50
    for _ in range(paragraphs):
        lines = wrap(" ".join(sentence(rng) for _ in range(int(rng.integers(2, 7)))), body, right - left)
        if not all(put(line, body) for line in lines):
            break
        skip(float(rng.choice((0.0, 0.5, 1.0))))
    if template == "letter":
        skip(0.5)
        if put(choose(rng, CLOSINGS), body):
            put(title_words(rng, 2, 3), body)
    return Layout(template, tuple(texts))
