"""Answers that try to earn reward without reading, plus the reference answers.

Tests and benchmarks score these under our reward and the tutorial's to show which scorer
pays for what; a miner that answers like this must lose to one that reads.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Collection, Iterable, Sequence

import numpy as np

from ocr_subnet.scoring.reward import characters
from ocr_subnet.sections import Font, Section

GUESSED_FONT = Font(family="Helvetica", size=10.0)

# Words any invoice is likely to carry; a reader-free miner can always send these.
STOCK_INVOICE_WORDS: tuple[str, ...] = (
    "INVOICE",
    "Invoice",
    "Invoice #",
    "Date:",
    "Due Date:",
    "Bill To:",
    "Ship To:",
    "Description",
    "Item",
    "Qty",
    "Quantity",
    "Unit Price",
    "Price",
    "Amount",
    "Subtotal",
    "Subtotal:",
    "Tax",
    "Tax:",
    "Total",
    "Total:",
    "Terms",
    "Payment Terms:",
    "Thank you for your business!",
)

Box = tuple[float, float, float, float]


def oracle(labels: Sequence[Section]) -> list[Section]:
    """The labels themselves: the best possible answer."""
    return list(labels)


def duplicated(answer: Sequence[Section], times: int = 5) -> list[Section]:
    """Every section repeated: costs nothing under a scorer without a precision term."""
    return [section for section in answer for _ in range(times)]


def constant_box(texts: Iterable[str], box: Box, font: Font = GUESSED_FONT) -> list[Section]:
    """Each text at the same box: the tutorial's exploit (it sent [0, 0, 0, 0]) when fed stock words
    or another engine's text."""
    return [Section(text=text, position=box, font=font) for text in texts]


def whole_page_empty(width: int, height: int, font: Font = GUESSED_FONT) -> list[Section]:
    """One section covering the page with no text: claims every position, reads nothing."""
    return [Section(text="", position=(0, 0, width, height), font=font)]


def true_boxes_empty_text(labels: Sequence[Section]) -> list[Section]:
    """The labels' boxes and fonts with the text dropped: a perfect detector that reads nothing."""
    return [label.model_copy(update={"text": ""}) for label in labels]


def plausible_text(labels: Sequence[Section], pool: Sequence[str], rng: np.random.Generator) -> list[Section]:
    """The labels' boxes and fonts, each with a string of the same length cut from `pool` (other pages'
    text): a perfect detector with a language model and no recognizer."""
    corpus = " ".join(pool)
    answer = []
    for label in labels:
        start = int(rng.integers(0, max(1, len(corpus) - len(label.text))))
        answer.append(label.model_copy(update={"text": corpus[start : start + len(label.text)]}))
    return answer


def top_part(labels: Sequence[Section], fraction: float, stock: Collection[str] = ()) -> list[Section]:
    """The labels read perfectly from the top of the page down until `fraction` of its characters (as the
    reward weighs them, `stock` strings lighter): a miner that reads part of the page, or one of two
    hotkeys splitting it."""
    order = sorted(labels, key=lambda s: (s.position[1], s.position[0]))
    weights = characters(order, stock)
    within = np.cumsum(weights) <= fraction * weights.sum() + 1e-9
    return [label for label, keep in zip(order, within, strict=True) if keep]


def learned_layout(training: Iterable[Sequence[Section]], min_count: int = 4) -> list[Section]:
    """The attacker who studied many challenges: every text seen at least `min_count` times,
    at its median box in the most common font, sent without looking at the page."""
    boxes: defaultdict[str, list[Box]] = defaultdict(list)
    fonts: defaultdict[str, Counter[Font]] = defaultdict(Counter)
    for labels in training:
        for label in labels:
            boxes[label.text].append(label.position)
            fonts[label.text][label.font] += 1
    return [
        Section(text=text, position=tuple(np.median(seen, axis=0).tolist()), font=fonts[text].most_common(1)[0][0])
        for text, seen in boxes.items()
        if len(seen) >= min_count
    ]
