"""Receipts: a narrow monospace column of items and prices, anywhere on the page.

Item names are open-vocabulary words (`words`), prices, quantities, dates and card digits are
drawn per page; only the few register labels (SUBTOTAL, TAX, ...) are fixed, and they are
`STOCK_TEXTS`, weighed down by the reward. Item names and prices are separate labels, as a
register prints them: left-aligned and right-aligned in the column.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
from reportlab.pdfbase.pdfmetrics import stringWidth

from ocr_subnet.challenge import fonts, words
from ocr_subnet.challenge.invoice import PAGE_HEIGHT, PAGE_WIDTH, Layout, Rule, Text, choose, text
from ocr_subnet.sections import Font

TOTALS = ("SUBTOTAL", "TAX", "TOTAL")
PAYMENTS = ("CASH", "CHANGE", "VISA", "MASTERCARD", "DEBIT")
FOOTERS = ("THANK YOU", "THANK YOU FOR SHOPPING", "PLEASE COME AGAIN", "HAVE A NICE DAY")
STOCK_TEXTS: frozenset[str] = frozenset((*TOTALS, *PAYMENTS, *FOOTERS))
FIRST_DATE = dt.date(2005, 1, 1)


def item_name(rng: np.random.Generator, columns: int) -> str:
    name = " ".join(words.words(rng, int(rng.integers(1, 4)))).upper()
    return name[: max(4, columns - 10)].rstrip()


def make_layout(rng: np.random.Generator) -> Layout:
    """A receipt: store, address, date, items, totals, payment and a footer, in one monospace face."""
    font = Font(family=fonts.register(choose(rng, fonts.MONOSPACE)), size=float(rng.integers(8, 12)))
    columns = int(rng.integers(28, 43))
    width = columns * stringWidth("0", font.family, font.size)
    left = float(rng.uniform(30, PAGE_WIDTH - 30 - width))
    right = left + width
    leading = float(rng.uniform(1.1, 1.4)) * font.size
    baseline = PAGE_HEIGHT - float(rng.uniform(30, 200)) - fonts.TTF_ASCENT * font.size
    texts: list[Text] = []
    rules: list[Rule] = []

    def line(left_text: str, right_text: str = "", align: str = "left") -> None:
        nonlocal baseline
        if align == "center":
            advance = stringWidth(left_text, font.family, font.size)
            texts.append(text(left_text, font, left + (width - advance) / 2, baseline))
        elif left_text:
            texts.append(text(left_text, font, left, baseline))
        if right_text:
            texts.append(text(right_text, font, right - stringWidth(right_text, font.family, font.size), baseline))
        baseline -= leading

    def rule() -> None:
        nonlocal baseline
        rules.append(Rule(left, baseline + 0.3 * font.size, right, baseline + 0.3 * font.size, 0.6))
        baseline -= leading

    line(" ".join(words.words(rng, int(rng.integers(1, 4)))).upper(), align="center")
    line(f"{int(rng.integers(1, 9999))} {words.words(rng, 1)[0].upper()} ST", align="center")
    when = dt.datetime.combine(FIRST_DATE, dt.time()) + dt.timedelta(minutes=int(rng.integers(0, 60 * 24 * 365 * 20)))
    line(when.strftime(choose(rng, ("%m/%d/%Y", "%Y-%m-%d", "%d.%m.%y"))), when.strftime("%H:%M"))
    rule()
    subtotal = 0.0
    limit = 60.0 + 8 * leading
    for _ in range(int(rng.integers(3, 16))):
        if baseline < limit:
            break
        price = float(np.round(rng.lognormal(1.5, 1.0), 2))
        quantity = int(rng.integers(1, 4)) if rng.random() < 0.25 else 1
        subtotal += quantity * price
        if quantity > 1:
            line(item_name(rng, columns))
            line(f"{quantity} @ {price:.2f}", f"{quantity * price:.2f}")
        else:
            line(item_name(rng, columns), f"{price:.2f}")
    rule()
    tax = round(subtotal * float(rng.uniform(0.0, 0.1)), 2)
    for label, amount in zip(TOTALS, (subtotal, tax, subtotal + tax), strict=True):
        line(label, f"{amount:.2f}")
    payment = choose(rng, PAYMENTS[2:]) if rng.random() < 0.6 else "CASH"
    line(payment, f"{subtotal + tax:.2f}" if payment != "CASH" else f"{np.ceil(subtotal + tax):.2f}")
    if payment != "CASH":
        line(f"****{int(rng.integers(0, 10_000)):04d}")
    rule()
    line(choose(rng, FOOTERS), align="center")
    return Layout("receipt", tuple(texts), tuple(rules))
