"""Procedural invoices: seller, buyer, meta fields, a line-item table, totals and notes, in a drawn order.

Unlike the tutorial's four templates (`invoice`), every page draws its own arrangement: the blocks in a
permuted order, small ones (seller, buyer, meta fields, totals) now and then side by side in two columns;
meta labels half from common wordings (`META`, fixed strings the reward weighs down), half from the
words; a line-item table of 3 to 7 columns chosen and ordered per page (numbers right-aligned, ruled or
not, laid out by `table.grid`); notes and terms in open vocabulary. Values come from `form.value` and
`words`, faces from `fonts.PUBLISHED_FAMILIES`.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from reportlab.pdfbase.pdfmetrics import stringWidth

from ocr_subnet.challenge import words
from ocr_subnet.challenge.form import value
from ocr_subnet.challenge.invoice import Layout, Rule, Text, choose, text
from ocr_subnet.challenge.table import grid
from ocr_subnet.challenge.typeset import Column, any_face, ascent, descent, fit, margins, wrap
from ocr_subnet.sections import Font

TITLES = ("INVOICE", "Invoice", "TAX INVOICE", "Tax Invoice", "BILL", "Commercial Invoice", "Pro Forma Invoice")
# (label, the kind of value it asks for, as in `form.value`)
META: tuple[tuple[str, str], ...] = (
    ("Invoice No.", "code"),
    ("Invoice #", "code"),
    ("Invoice number", "code"),
    ("Bill number", "code"),
    ("Reference", "code"),
    ("Our ref.", "code"),
    ("Your ref.", "code"),
    ("Date", "date"),
    ("Invoice date", "date"),
    ("Issued", "date"),
    ("Due", "date"),
    ("Due date", "date"),
    ("Payment due", "date"),
    ("Delivery date", "date"),
    ("PO number", "code"),
    ("Order no.", "code"),
    ("Account", "code"),
    ("Customer ID", "code"),
    ("VAT number", "code"),
    ("Tax ID", "code"),
    ("Terms", "words"),
    ("Sales rep", "name"),
)
PARTIES = ("Bill to", "Billed to", "Sold to", "Ship to", "Customer", "Client", "From", "Seller", "Supplier", "Vendor")
# The line-item columns: (kind, common headers); a page draws 3 to 7 of them in its own order.
COLUMNS: dict[str, tuple[str, ...]] = {
    "description": ("Description", "Item", "Service", "Details", "Product"),
    "code": ("Code", "SKU", "Item no.", "Part no.", "Ref."),
    "qty": ("Qty", "Quantity", "Hours", "Units"),
    "unit": ("Unit", "UoM", "Per"),
    "price": ("Unit price", "Price", "Rate", "Unit cost"),
    "tax": ("Tax %", "VAT", "Tax rate", "GST"),
    "discount": ("Discount", "Disc.", "Less"),
    "amount": ("Amount", "Total", "Line total", "Net"),
}
NUMERIC = frozenset(("qty", "price", "tax", "discount", "amount"))
UNITS = ("pcs", "ea", "hrs", "h", "kg", "m", "box", "set", "day", "month", "lot")
TOTALS = ("Subtotal", "Tax", "VAT", "Discount", "Shipping", "Total", "Total due", "Amount due", "Balance due")
NOTES = ("Notes", "Terms", "Terms and conditions", "Payment terms", "Remarks", "Bank details", "Comments")
STOCK_TEXTS: frozenset[str] = frozenset(
    [
        *TITLES,
        *UNITS,
        *(
            variant
            for name in (*(label for label, _ in META), *PARTIES, *TOTALS, *NOTES)
            for variant in (name, f"{name}:")
        ),
        *(header for headers in COLUMNS.values() for header in headers),
    ]
)
SMALL = frozenset(("seller", "buyer", "meta", "totals"))

Piece = tuple[list[Text], list[Rule], float]


def labelled(rng: np.random.Generator, stock: tuple[str, ...], colon: bool) -> str:
    """A common wording or open-vocabulary words, with a colon or not."""
    name = choose(rng, stock) if rng.random() < 0.5 else words.title_words(rng, 1, 3)
    return f"{name}:" if colon else name


class Page:
    """The invoice being set: faces, margins, style choices, and the texts and rules so far."""

    def __init__(self, rng: np.random.Generator) -> None:
        self.rng = rng
        size = float(rng.integers(8, 12))
        self.body = any_face(rng, size)
        self.label = any_face(rng, size)
        self.heading = any_face(rng, size + float(rng.integers(1, 5)))
        self.colon = rng.random() < 0.6
        self.leading = float(rng.uniform(1.2, 1.5))
        self.left, self.right, self.bottom, self.top = margins(rng)
        self.texts: list[Text] = []
        self.rules: list[Rule] = []
        self.placed: list[str] = []  # the blocks set, in order
        self.columns: tuple[str, ...] = ()  # the line-item table's column kinds, in order

    @property
    def size(self) -> float:
        return self.body.size

    def column(self, x: float, width: float, top: float) -> Column:
        return Column(x, x + width, top - max(ascent(self.heading), ascent(self.body)), self.bottom, self.leading)

    def finish(self, column: Column) -> Piece | None:
        if not column.texts:
            return None
        return column.texts, [], min(t.baseline - descent(t.font) for t in column.texts)

    def party(self, x: float, width: float, top: float, label: bool, align: str) -> Piece | None:
        """A name in the heading face (under its label, if any) and 1-3 lines of address and contacts."""
        column = self.column(x, width, top)
        if label:
            column.put(fit(labelled(self.rng, PARTIES, self.colon), self.label, width), self.label, align)
            column.baseline -= max(0.0, ascent(self.heading) - ascent(self.label))  # the name's taller face
        column.put(fit(value(self.rng, "name"), self.heading, width), self.heading, align)
        kinds = ("address", "place", "phone", "email", "code")
        for kind in self.rng.choice(len(kinds), size=int(self.rng.integers(1, 4)), replace=False):
            column.put(fit(value(self.rng, kinds[kind]), self.body, width), self.body, align)
        return self.finish(column)

    def pairs(self, rows: list[tuple[str, str]], x: float, width: float, top: float) -> Piece | None:
        """Labels in a column, values beside them (left-aligned, or flush right for amounts)."""
        rng = self.rng
        labels = [fit(label, self.label, 0.55 * width) for label, _ in rows]
        span = max(stringWidth(label, self.label.family, self.label.size) for label in labels)
        start = x + span + float(rng.uniform(0.6, 2.5)) * self.size
        flush = rng.random() < 0.5
        baseline = top - max(ascent(self.label), ascent(self.body))
        texts: list[Text] = []
        for label, (_, filled) in zip(labels, rows, strict=True):
            filled = fit(filled, self.body, x + width - start)
            if baseline - descent(self.body) < self.bottom:
                break
            if label:
                texts.append(text(label, self.label, x, baseline))
            if filled:
                advance = stringWidth(filled, self.body.family, self.body.size)
                texts.append(text(filled, self.body, x + width - advance if flush else start, baseline))
            baseline -= self.leading * max(self.label.size, self.body.size)
        if not texts:
            return None
        return texts, [], min(t.baseline - descent(t.font) for t in texts)

    def meta(self, x: float, width: float, top: float) -> Piece | None:
        count = int(self.rng.integers(2, 6))
        rows = []
        for _ in range(count):
            if self.rng.random() < 0.6:
                label, kind = META[int(self.rng.integers(len(META)))]
            else:
                label, kind = words.title_words(self.rng, 1, 3), choose(self.rng, ("code", "date", "number", "words"))
            rows.append((f"{label}:" if self.colon else label, value(self.rng, kind)))
        return self.pairs(rows, x, width, top)

    def totals(self, x: float, width: float, top: float) -> Piece | None:
        picks = self.rng.choice(len(TOTALS), size=int(self.rng.integers(1, 5)), replace=False)
        sign = "$" if self.rng.random() < 0.4 else ""
        rows = [
            (
                labelled(self.rng, (TOTALS[i],), self.colon),
                f"{sign}{self.rng.lognormal(6, 1.5):,.2f}",
            )
            for i in sorted(picks)
        ]
        return self.pairs(rows, x, width, top)

    def notes(self, x: float, width: float, top: float) -> Piece | None:
        column = self.column(x, width, top)
        if self.rng.random() < 0.7:
            column.put(fit(labelled(self.rng, NOTES, self.colon), self.label, width), self.label)
        column.put_lines(wrap(words.paragraph(self.rng, 1, 4), self.body, width), self.body)
        return self.finish(column)

    def items(self, x: float, width: float, top: float) -> Piece | None:
        """The line-item table: 3-7 of `COLUMNS` in a drawn order, 2-15 rows, laid out by `table.grid`."""
        rng = self.rng
        kinds = [tuple(COLUMNS)[i] for i in rng.choice(len(COLUMNS), size=int(rng.integers(3, 8)), replace=False)]
        headers = [choose(rng, COLUMNS[kind]) if rng.random() < 0.6 else words.title_words(rng, 1, 2) for kind in kinds]
        sign = "$" if rng.random() < 0.3 else ""
        cells = [[self.item(kind, sign) for kind in kinds] for _ in range(int(rng.integers(2, 16)))]
        head = self.label if rng.random() < 0.5 else self.body
        numeric = [kind in NUMERIC for kind in kinds]
        piece = grid(rng, headers, cells, numeric, self.body, head, x, x + width, top, self.bottom)
        if piece is not None:
            self.columns = tuple(kinds)
        return piece

    def item(self, kind: str, sign: str) -> str:
        rng = self.rng
        if kind == "description":
            return " ".join(words.words(rng, int(rng.integers(1, 5))))
        if kind == "code":
            return words.code(rng)
        if kind == "qty":
            return str(int(rng.integers(1, 200))) if rng.random() < 0.7 else f"{rng.uniform(0.25, 80):.2f}"
        if kind == "unit":
            return choose(rng, UNITS)
        if kind == "tax":
            return f"{choose(rng, ('0', '5', '7.5', '10', '19', '20', '21'))}%"
        if kind == "discount":
            return f"{rng.uniform(0, 30):.0f}%" if rng.random() < 0.5 else f"{sign}{rng.lognormal(2, 1):,.2f}"
        return f"{sign}{rng.lognormal(4, 1.5):,.2f}"

    def place(self, name: str, x: float, width: float, top: float, right: bool) -> Piece | None:
        blocks: dict[str, Callable[[], Piece | None]] = {
            "seller": lambda: self.party(x, width, top, self.rng.random() < 0.4, "right" if right else "left"),
            "buyer": lambda: self.party(x, width, top, True, "right" if right else "left"),
            "meta": lambda: self.meta(x, width, top),
            "totals": lambda: self.totals(x, width, top),
            "notes": lambda: self.notes(x, width, top),
            "items": lambda: self.items(x, width, top),
        }
        piece = blocks[name]()
        if piece is not None:
            self.placed.append(name)
        return piece


def make_layout(rng: np.random.Generator) -> Layout:
    """A title (or not), then the blocks in a drawn order, small ones paired in two columns now and then;
    a block that no longer fits above the bottom margin is left out. The template names the blocks set
    and the table's columns (as drawn, before any too wide for the page are dropped)."""
    page = Page(rng)
    if rng.random() < 0.7:
        title_font = Font(family=page.heading.family, size=page.heading.size + float(rng.integers(2, 8)))
        head = Column(page.left, page.right, page.top - ascent(title_font), page.bottom, 1.3)
        head.put(choose(rng, TITLES), title_font, choose(rng, ("left", "center", "right")))
        page.texts += head.texts
        page.top = head.texts[0].baseline - descent(title_font) - page.size
    order = [("seller", "buyer", "meta", "items", "totals", "notes")[i] for i in rng.permutation(6)]
    gutter = float(rng.uniform(1.5, 4.0)) * page.size
    half = (page.right - page.left - gutter) / 2
    while order and page.top - page.bottom > 3 * page.size:
        name = order.pop(0)
        if name in SMALL and order and order[0] in SMALL and rng.random() < 0.6:
            pieces = [page.place(name, page.left, half, page.top, False)]
            pieces.append(page.place(order.pop(0), page.right - half, half, page.top, True))
        else:
            pieces = [page.place(name, page.left, page.right - page.left, page.top, False)]
        placed = [piece for piece in pieces if piece is not None]
        for texts, rules, _ in placed:
            page.texts += texts
            page.rules += rules
        if placed:
            page.top = min(piece[2] for piece in placed) - float(rng.uniform(1.0, 2.5)) * page.size
    template = f"invoice-layout:{','.join(page.placed)}:{','.join(page.columns)}"
    return Layout(template, tuple(page.texts), tuple(page.rules))
