"""What an invoice says and where each string goes, decided from a seed before anything is drawn.

Pure decisions: a seeded Faker instance supplies names and addresses, a numpy Generator
everything else (template, fonts, sizes, offsets, column positions). Positions are PDF points
(origin bottom-left, y up) and widths come from ReportLab's font metrics, so each string's label
box is known exactly without rendering. Templates and random offsets keep positions
unpredictable: a miner has to read the page to find the text.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

import numpy as np
from faker import Faker
from reportlab.lib.pagesizes import letter
from reportlab.pdfbase.pdfmetrics import stringWidth

from ocr_subnet.challenge import fonts
from ocr_subnet.challenge.geometry import ASCENT, DESCENT, Box, label_box
from ocr_subnet.sections import FONT_FAMILIES, Font

PAGE_WIDTH, PAGE_HEIGHT = letter
MIN_SIZE, MAX_SIZE = 8, 14
BOLD = {"Helvetica": "Helvetica-Bold", "Times-Roman": "Times-Bold", "Courier": "Courier-Bold"}

# (description, typical unit cost); the drawn cost varies around it.
CATALOGUE: tuple[tuple[str, float], ...] = (
    ("Web hosting", 120.0),
    ("Domain renewal", 18.0),
    ("SSL certificate", 65.0),
    ("Logo design", 350.0),
    ("Website redesign", 2400.0),
    ("Server maintenance", 180.0),
    ("Database backup", 45.0),
    ("Security audit", 900.0),
    ("Copywriting", 75.0),
    ("Photography session", 480.0),
    ("Office chairs", 210.0),
    ("Printer toner", 89.5),
    ("Laptop repair", 160.0),
    ("Network cabling", 12.75),
    ("Consulting hours", 150.0),
    ("Staff training", 1200.0),
    ("Software license", 299.0),
    ("Cloud storage plan", 9.99),
    ("Email marketing", 150.0),
    ("Search advertising", 500.0),
    ("Video editing", 420.0),
    ("Translation services", 120.0),
    ("Courier delivery", 35.0),
    ("Cleaning service", 95.0),
    ("Catering", 640.0),
    ("Equipment rental", 275.0),
    ("Support plan", 80.0),
    ("Data migration", 1100.0),
    ("Market research", 1800.0),
    ("Brand guidelines", 750.0),
)
TERMS = (
    "Payment due within 30 days",
    "Net 15",
    "Net 30",
    "Due on receipt",
    "Payment due within 14 days",
    "2% 10, Net 30",
    "Please pay within 45 days",
    "Late payments incur a 1.5% monthly fee",
)
DATE_FORMATS = ("%B %d, %Y", "%b %d, %Y", "%Y-%m-%d", "%m/%d/%Y", "%d.%m.%Y")
FIRST_DATE = dt.date(2015, 1, 1)

LABELS = {
    "number": ("Invoice #:", "Invoice No.:", "Invoice Number:", "Reference:"),
    "date": ("Invoice Date:", "Date:", "Issued:"),
    "due": ("Due Date:", "Due:", "Payment Due:"),
    "bill_to": ("Bill To:", "Billed To:", "Customer:", "Client:"),
    "description": ("Description", "Item", "Service", "Details"),
    "quantity": ("Qty", "Quantity", "Units", "Hours"),
    "cost": ("Cost", "Unit Price", "Price", "Rate"),
    "total": ("Total:", "Total Due:", "Amount Due:", "Balance Due:"),
    "terms": ("Terms:", "Payment Terms:", "Note:"),
    "title": ("INVOICE", "Invoice", "TAX INVOICE", "BILL"),
    "footer": ("Thank you for your business!", "We appreciate your prompt payment.", "Questions? Call us."),
}

# Every string the generator draws from a fixed list: a miner can send these without reading the
# page, so the reward weighs them down (`scoring.reward`, `stock_weight`).
STOCK_TEXTS: frozenset[str] = frozenset(
    [*(label for options in LABELS.values() for label in options), "Subtotal:", *TERMS]
    + [description for description, _ in CATALOGUE]
)


@dataclass(frozen=True)
class Item:
    description: str
    quantity: int
    unit_cost: float


@dataclass(frozen=True)
class Invoice:
    company: str
    company_lines: tuple[str, ...]
    number: str
    date: str
    due: str
    customer: str
    customer_lines: tuple[str, ...]
    items: tuple[Item, ...]
    terms: str
    tax_rate: float

    @property
    def subtotal(self) -> float:
        return sum(item.quantity * item.unit_cost for item in self.items)

    @property
    def tax(self) -> float:
        return round(self.subtotal * self.tax_rate, 2)


@dataclass(frozen=True)
class Text:
    """One `drawString`: its text, font and start point, and its advance width (`word_space` points added at
    each space, PDF's Tw, as justified or tightly set lines have)."""

    text: str
    font: Font
    x: float
    baseline: float
    advance: float
    word_space: float = 0.0

    @property
    def box(self) -> Box:
        return label_box(self.x, self.baseline, self.advance, self.font.size, *fonts.extent(self.font.family))


@dataclass(frozen=True)
class Rule:
    """A drawn line (table rules): ink that belongs to no section."""

    x0: float
    y0: float
    x1: float
    y1: float
    width: float


@dataclass(frozen=True)
class Layout:
    template: str
    texts: tuple[Text, ...]
    rules: tuple[Rule, ...] = ()


@dataclass(frozen=True)
class Style:
    body: Font
    label: Font
    heading: Font
    leading: float  # baseline-to-baseline distance, in font sizes
    left: float  # page x of the left margin
    right: float  # page x of the right margin
    top: float  # page y where the first box starts
    bottom: float  # page y no box may go below


@dataclass(frozen=True)
class Block:
    """Texts and rules relative to the block's top-left corner (baselines are negative)."""

    texts: tuple[Text, ...]
    rules: tuple[Rule, ...] = ()

    @property
    def width(self) -> float:
        return max((t.x + t.advance for t in self.texts), default=0.0)

    @property
    def height(self) -> float:
        return -min((t.baseline - DESCENT * t.font.size for t in self.texts), default=0.0)

    def at(self, x: float, top: float) -> Block:
        return Block(
            tuple(replace(t, x=t.x + x, baseline=t.baseline + top) for t in self.texts),
            tuple(Rule(r.x0 + x, r.y0 + top, r.x1 + x, r.y1 + top, r.width) for r in self.rules),
        )


def money(amount: float) -> str:
    return f"${amount:,.2f}"


def text(value: str, font: Font, x: float = 0.0, baseline: float = 0.0, word_space: float = 0.0) -> Text:
    advance = stringWidth(value, font.family, font.size) + word_space * value.count(" ")
    return Text(value, font, x, baseline, advance, word_space)


def make_invoice(fake: Faker, rng: np.random.Generator) -> Invoice:
    """The invoice's content: Faker for names and places, `rng` for numbers, dates and items."""
    picks = rng.choice(len(CATALOGUE), size=int(rng.integers(3, 13)), replace=False)
    items = tuple(
        Item(CATALOGUE[i][0], int(rng.integers(1, 11)), round(CATALOGUE[i][1] * rng.uniform(0.8, 1.25), 2))
        for i in sorted(picks)
    )
    issued = FIRST_DATE + dt.timedelta(days=int(rng.integers(0, 4000)))
    date_format = DATE_FORMATS[rng.integers(len(DATE_FORMATS))]
    number = int(rng.integers(1, 100_000))
    number_format = ("INV{:06d}", "INV-{:05d}", str(issued.year) + "-{:05d}", "#{:d}")[rng.integers(4)]
    customer = fake.company() if rng.random() < 0.4 else fake.name()
    return Invoice(
        company=fake.company(),
        company_lines=(
            fake.street_address(),
            f"{fake.city()}, {fake.state_abbr()} {fake.zipcode()}",
            fake.phone_number(),
        )[: int(rng.integers(2, 4))],
        number=number_format.format(number),
        date=issued.strftime(date_format),
        due=(issued + dt.timedelta(days=int(rng.choice([14, 15, 30, 45])))).strftime(date_format),
        customer=customer,
        customer_lines=(fake.street_address(), f"{fake.city()}, {fake.state_abbr()} {fake.zipcode()}"),
        items=items,
        terms=TERMS[rng.integers(len(TERMS))],
        tax_rate=float(rng.choice([0.0, 0.05, 0.0725, 0.08, 0.1])),
    )


def choose(rng: np.random.Generator, options: Sequence[str]) -> str:
    return options[int(rng.integers(len(options)))]


def make_style(rng: np.random.Generator) -> Style:
    """Fonts drawn from the six families at 8-14 pt, leading and margins drawn per page."""
    family = choose(rng, FONT_FAMILIES)
    size = float(rng.integers(MIN_SIZE, 13))
    label_family = BOLD.get(family, family) if rng.random() < 0.7 else choose(rng, FONT_FAMILIES)
    heading_size = float(min(MAX_SIZE, size + rng.integers(1, 5)))
    return Style(
        body=Font(family=family, size=size),
        label=Font(family=label_family, size=size),
        heading=Font(family=choose(rng, FONT_FAMILIES), size=heading_size),
        leading=float(rng.uniform(1.25, 1.6)),
        left=float(rng.uniform(28, 72)),
        right=PAGE_WIDTH - float(rng.uniform(28, 60)),
        top=PAGE_HEIGHT - float(rng.uniform(30, 80)),
        bottom=float(rng.uniform(30, 60)),
    )


def stack(lines: Sequence[tuple[str, Font]], leading: float, align_right: bool = False) -> Block:
    """Lines one under another, left-aligned at 0 or right-aligned to the widest line."""
    texts: list[Text] = []
    baseline = 0.0
    for i, (value, font) in enumerate(lines):
        baseline -= ASCENT * font.size if i == 0 else leading * max(font.size, lines[i - 1][1].size)
        texts.append(text(value, font, 0.0, baseline))
    if align_right:
        width = max(t.advance for t in texts)
        texts = [replace(t, x=width - t.advance) for t in texts]
    return Block(tuple(texts))


def pairs(rows: Sequence[tuple[str, str]], style: Style, rng: np.random.Generator, joined: bool | None = None) -> Block:
    """Label/value rows: one string per row ("Date: ...") or labels and values in two columns."""
    if joined is None:
        joined = bool(rng.random() < 0.5)
    if joined:
        return stack([(f"{label} {value}", style.body) for label, value in rows], style.leading)
    labels = stack([(label, style.label) for label, _ in rows], style.leading)
    gap = float(rng.uniform(6, 24))
    values = stack([(value, style.body) for _, value in rows], style.leading).at(labels.width + gap, 0.0)
    return Block(labels.texts + values.texts)


def beside(left: Block, right: Block, style: Style, rng: np.random.Generator) -> Block:
    """Two blocks side by side, the right one at a random column; stacked where the page is too narrow."""
    room = style.right - style.left - left.width - right.width
    if room < 24:
        return Block(left.texts + right.at(0.0, -left.height - style.leading * style.body.size).texts)
    x = left.width + 24 + float(rng.uniform(0.0, 1.0)) * (room - 24)
    return Block(left.texts + right.at(x, 0.0).texts)


def company_block(invoice: Invoice, style: Style, align_right: bool = False) -> Block:
    lines = [(invoice.company, style.heading), *((line, style.body) for line in invoice.company_lines)]
    return stack(lines, style.leading, align_right)


def bill_to_block(invoice: Invoice, style: Style, rng: np.random.Generator) -> Block:
    """The customer, with its label inline (as in the tutorial) or on a line of its own."""
    label = choose(rng, LABELS["bill_to"])
    customer = [(line, style.body) for line in (invoice.customer, *invoice.customer_lines)]
    if rng.random() < 0.5:
        return stack([(label, style.label), *customer], style.leading)
    head = stack([(label, style.label)], style.leading)
    # Align the customer's first baseline with the label's, whatever their sizes.
    top = head.texts[0].baseline + ASCENT * style.body.size
    rest = stack(customer, style.leading).at(head.width + float(rng.uniform(8, 60)), top)
    return Block(head.texts + rest.texts)


def meta_rows(invoice: Invoice, rng: np.random.Generator) -> list[tuple[str, str]]:
    return [
        (choose(rng, LABELS["number"]), invoice.number),
        (choose(rng, LABELS["date"]), invoice.date),
        (choose(rng, LABELS["due"]), invoice.due),
    ][: int(rng.integers(2, 4))]


def table_block(invoice: Invoice, style: Style, rng: np.random.Generator) -> Block:
    """Header, a rule, one row per item; columns spread over a random share of the free width."""
    header = style.label
    cells = [
        [choose(rng, LABELS["description"]), *(item.description for item in invoice.items)],
        [choose(rng, LABELS["quantity"]), *(str(item.quantity) for item in invoice.items)],
        [choose(rng, LABELS["cost"]), *(money(item.unit_cost) for item in invoice.items)],
    ]
    widths = [
        max(text(column[0], header).advance, *(text(v, style.body).advance for v in column[1:])) for column in cells
    ]
    room = max(0.0, style.right - style.left - sum(widths) - 2 * 18)
    spread = rng.dirichlet([2.0, 2.0, 1.0]) * room * float(rng.uniform(0.4, 1.0))
    lefts = [0.0, widths[0] + 18 + spread[0], widths[0] + widths[1] + 36 + spread[0] + spread[1]]
    right_align_numbers = bool(rng.random() < 0.5)

    def cell(column: int, value: str, font: Font, baseline: float) -> Text:
        placed = text(value, font, lefts[column], baseline)
        if column and right_align_numbers:
            return replace(placed, x=lefts[column] + widths[column] - placed.advance)
        return placed

    texts = [cell(c, cells[c][0], header, -ASCENT * header.size) for c in range(3)]
    rule_y = -(ASCENT + DESCENT + 0.15) * header.size
    baseline = rule_y - (0.3 + ASCENT) * style.body.size
    for row in range(1, len(cells[0])):
        texts.extend(cell(c, cells[c][row], style.body, baseline) for c in range(3))
        baseline -= style.leading * style.body.size
    rule = Rule(0.0, rule_y, lefts[2] + widths[2], rule_y, float(rng.uniform(0.3, 1.0)))
    return Block(tuple(texts), (rule,))


def totals_block(invoice: Invoice, style: Style, rng: np.random.Generator) -> Block:
    total = (choose(rng, LABELS["total"]), money(invoice.subtotal + invoice.tax))
    if not invoice.tax_rate:
        return pairs([total], style, rng)
    tax = (f"Tax ({invoice.tax_rate:.2%}):", money(invoice.tax))
    return pairs([("Subtotal:", money(invoice.subtotal)), tax, total], style, rng)


def terms_block(invoice: Invoice, style: Style, rng: np.random.Generator) -> Block:
    return pairs([(choose(rng, LABELS["terms"]), invoice.terms)], style, rng)


class Flow:
    """Places blocks top to bottom between the style's margins, with random gaps and indents."""

    def __init__(self, style: Style, rng: np.random.Generator) -> None:
        self.style, self.rng = style, rng
        self.top = style.top
        self.texts: list[Text] = []
        self.rules: list[Rule] = []

    def add(self, block: Block, where: str = "left", gap: float | None = None) -> None:
        """Place at the left margin (plus a small indent), flush right, centred, or at a random column."""
        free = max(0.0, self.style.right - self.style.left - block.width)
        shift = {
            "left": min(free, float(self.rng.uniform(0, 20))),
            "right": free,
            "center": free / 2 + float(self.rng.uniform(-10, 10)),
            "column": float(self.rng.uniform(0.3, 1.0)) * free,
        }[where]
        placed = block.at(self.style.left + max(0.0, shift), self.top)
        self.texts.extend(placed.texts)
        self.rules.extend(placed.rules)
        if gap is None:
            gap = float(self.rng.uniform(0.8, 2.5)) * self.style.body.size
        self.top -= block.height + gap

    def layout(self, template: str) -> Layout:
        return Layout(template, tuple(self.texts), tuple(self.rules))


def row(blocks: Sequence[Block], style: Style, rng: np.random.Generator) -> Block:
    """Blocks left to right on one band, wrapping onto the next band where the page is too narrow."""
    band = blocks[0]
    for block in blocks[1:]:
        band = beside(band, block, style, rng)
    return band


def classic(invoice: Invoice, style: Style, rng: np.random.Generator) -> Layout:
    """The tutorial's arrangement: company and invoice details side by side, then bill-to, table, total."""
    flow = Flow(style, rng)
    flow.add(row([company_block(invoice, style), pairs(meta_rows(invoice, rng), style, rng)], style, rng))
    flow.add(bill_to_block(invoice, style, rng))
    flow.add(table_block(invoice, style, rng))
    flow.add(totals_block(invoice, style, rng), "column")
    flow.add(terms_block(invoice, style, rng))
    return flow.layout("classic")


def letterhead(invoice: Invoice, style: Style, rng: np.random.Generator) -> Layout:
    """A title, details left and the company flush right, summary rows and a footer."""
    flow = Flow(style, rng)
    title = Font(family=style.heading.family, size=float(MAX_SIZE))
    flow.add(stack([(choose(rng, LABELS["title"]), title)], style.leading), choose(rng, ("left", "right")))
    details = pairs(meta_rows(invoice, rng), style, rng, joined=False)
    flow.add(row([details, company_block(invoice, style, align_right=True)], style, rng))
    flow.add(bill_to_block(invoice, style, rng))
    flow.add(table_block(invoice, style, rng))
    flow.add(totals_block(invoice, style, rng), "right")
    flow.add(terms_block(invoice, style, rng))
    flow.add(stack([(choose(rng, LABELS["footer"]), style.body)], style.leading), "column")
    return flow.layout("letterhead")


def centered(invoice: Invoice, style: Style, rng: np.random.Generator) -> Layout:
    """Company centred over the page, details in one row, then the customer and the table."""
    flow = Flow(style, rng)
    for value, font in ((invoice.company, style.heading), *((v, style.body) for v in invoice.company_lines)):
        flow.add(stack([(value, font)], style.leading), "center", gap=(style.leading - 1.0) * font.size)
    details = [pairs([detail], style, rng, joined=True) for detail in meta_rows(invoice, rng)]
    flow.add(row(details, style, rng))
    flow.add(bill_to_block(invoice, style, rng))
    flow.add(table_block(invoice, style, rng))
    flow.add(totals_block(invoice, style, rng), "right")
    flow.add(terms_block(invoice, style, rng), "column")
    return flow.layout("centered")


def statement(invoice: Invoice, style: Style, rng: np.random.Generator) -> Layout:
    """Customer first, company to its right, details in two columns, terms anchored at the bottom."""
    flow = Flow(style, rng)
    flow.add(row([bill_to_block(invoice, style, rng), company_block(invoice, style)], style, rng))
    flow.add(pairs(meta_rows(invoice, rng), style, rng, joined=False), "column")
    flow.add(table_block(invoice, style, rng))
    flow.add(totals_block(invoice, style, rng), "column")
    terms = terms_block(invoice, style, rng)
    flow.top = min(flow.top, style.bottom + terms.height)
    flow.add(terms)
    return flow.layout("statement")


TEMPLATES: dict[str, Callable[[Invoice, Style, np.random.Generator], Layout]] = {
    "classic": classic,
    "letterhead": letterhead,
    "centered": centered,
    "statement": statement,
}


def lowest(layout: Layout) -> float:
    return min(t.box[1] for t in layout.texts)


def make_layout(fake: Faker, rng: np.random.Generator) -> Layout:
    """A whole page: content, template and style; items are dropped until the page fits its margins."""
    invoice = make_invoice(fake, rng)
    template = TEMPLATES[choose(rng, tuple(TEMPLATES))]
    style = make_style(rng)
    layout = template(invoice, style, rng)
    while lowest(layout) < style.bottom and len(invoice.items) > 1:
        invoice = replace(invoice, items=invoice.items[:-1])
        layout = template(invoice, style, rng)
    return layout
