"""Forms: labelled fields filled in, checkboxes, boxed sections and a signature line.

A field's label is a common one (`LABELS`, fixed strings the reward weighs down, each with the kind
of value it asks for) or made of open-vocabulary words; values are open: names, dates, numbers,
codes, addresses, e-mail addresses, phone numbers, words. Fields sit in one to three columns per
section, with the label beside its value (on a ruled line or not) or above it (in a box or not);
checkbox groups tick some of their options. Labels and values are separate labels, as printed;
underlines, boxes and ticks are rules, clear of every label box.
"""

from __future__ import annotations

import numpy as np
from reportlab.pdfbase.pdfmetrics import stringWidth

from ocr_subnet.challenge import words
from ocr_subnet.challenge.invoice import Layout, Rule, Text, choose, text
from ocr_subnet.challenge.typeset import Column, any_face, ascent, descent, fit, frame, margins, wrap
from ocr_subnet.sections import Font

# (label, the kind of value it asks for)
LABELS: tuple[tuple[str, str], ...] = (
    ("Name", "name"),
    ("Full name", "name"),
    ("First name", "word"),
    ("Last name", "word"),
    ("Surname", "word"),
    ("Given names", "name"),
    ("Maiden name", "word"),
    ("Date of birth", "date"),
    ("Place of birth", "place"),
    ("Nationality", "word"),
    ("Occupation", "words"),
    ("Employer", "name"),
    ("Job title", "words"),
    ("Department", "words"),
    ("Address", "address"),
    ("Street address", "address"),
    ("Mailing address", "address"),
    ("City", "place"),
    ("State", "place"),
    ("County", "place"),
    ("Country", "place"),
    ("Postal code", "code"),
    ("ZIP code", "number"),
    ("Phone", "phone"),
    ("Telephone", "phone"),
    ("Mobile", "phone"),
    ("Fax", "phone"),
    ("Email", "email"),
    ("E-mail address", "email"),
    ("Date", "date"),
    ("Start date", "date"),
    ("End date", "date"),
    ("Date of issue", "date"),
    ("Expiry date", "date"),
    ("Date of arrival", "date"),
    ("Reference", "code"),
    ("Reference no.", "code"),
    ("Account number", "code"),
    ("Policy number", "code"),
    ("Customer ID", "code"),
    ("Passport number", "code"),
    ("Licence number", "code"),
    ("Case number", "code"),
    ("Serial number", "code"),
    ("Amount", "number"),
    ("Total amount", "number"),
    ("Annual income", "number"),
    ("Quantity", "number"),
    ("Age", "number"),
    ("Height", "number"),
    ("Weight", "number"),
    ("Number of children", "number"),
    ("Signature date", "date"),
    ("Witness", "name"),
    ("Emergency contact", "name"),
    ("Relationship", "word"),
    ("Reason for visit", "words"),
    ("Purpose", "words"),
    ("Comments", "words"),
    ("Description", "words"),
    ("Project", "words"),
    ("Approved by", "name"),
    ("Prepared by", "name"),
    ("Received by", "name"),
)
SECTIONS = (
    "Personal details",
    "Personal information",
    "Contact details",
    "Employment",
    "Applicant",
    "Declaration",
    "For office use only",
    "Payment details",
    "Additional information",
)
SIGNATURES = ("Signature", "Signature of applicant", "Authorized signature", "Applicant's signature", "Signed")
CHOICES = ("Yes", "No", "Other", "N/A", "Male", "Female", "Single", "Married", "Daily", "Weekly", "Monthly")
KINDS = ("name", "word", "words", "date", "place", "address", "code", "number", "phone", "email")
STYLES = ("beside", "ruled", "above", "boxed")
STOCK_TEXTS: frozenset[str] = frozenset(
    [*(variant for label, _ in LABELS for variant in (label, f"{label}:")), *SECTIONS, *SIGNATURES, *CHOICES]
)


def value(rng: np.random.Generator, kind: str) -> str:
    """A filled-in value of `kind`, drawn per page."""
    if kind == "name":
        return words.title_words(rng, 2, 3)
    if kind == "word":
        return words.capitalized(words.words(rng, 1)[0])
    if kind == "words":
        return " ".join(words.words(rng, int(rng.integers(1, 6))))
    if kind == "date":
        return words.date(rng)
    if kind == "place":
        return words.title_words(rng, 1, 2)
    if kind == "address":
        return f"{int(rng.integers(1, 9999))} {words.title_words(rng, 1, 2)}, {words.title_words(rng, 1, 1)}"
    if kind == "code":
        return words.code(rng)
    if kind == "number":
        return words.number(rng)
    if kind == "phone":
        return f"({int(rng.integers(200, 1000))}) {int(rng.integers(200, 1000))}-{int(rng.integers(0, 10_000)):04d}"
    user, host = (w.lower().replace("'", "") for w in words.words(rng, 2))
    return f"{user}@{host}.{choose(rng, ('com', 'org', 'net', 'edu'))}"


def label_and_kind(rng: np.random.Generator, colon: bool) -> tuple[str, str]:
    """A common label with its kind, or one of open-vocabulary words asking for any kind."""
    if rng.random() < 0.5:
        label, kind = LABELS[int(rng.integers(len(LABELS)))]
    else:
        label, kind = words.title_words(rng, 1, 3), choose(rng, KINDS)
    return (f"{label}:" if colon else label), kind


class Form:
    """The page being filled: fonts, style, margins, the texts and rules so far, and the next free height."""

    def __init__(self, rng: np.random.Generator) -> None:
        self.rng = rng
        size = float(rng.integers(8, 12))
        self.label = any_face(rng, size)
        self.value = any_face(rng, size + float(rng.integers(0, 3)))
        self.heading = any_face(rng, size + float(rng.integers(1, 5)))
        self.style = choose(rng, STYLES)
        self.colon = rng.random() < 0.7
        self.boxed = rng.random() < 0.6
        self.rule_width = float(rng.uniform(0.4, 1.0))
        self.left, self.right, self.bottom, self.top = margins(rng)
        self.texts: list[Text] = []
        self.rules: list[Rule] = []

    @property
    def size(self) -> float:
        return self.label.size

    def line_height(self, font: Font) -> float:
        return ascent(font) + descent(font) + 0.5 * self.size

    def field(self, x: float, width: float, top: float) -> tuple[list[Text], list[Rule], float]:
        """One label and its value in a cell `width` wide whose top is at `top`; returns its bottom."""
        label, kind = label_and_kind(self.rng, self.colon)
        label = fit(label, self.label, 0.6 * width)  # empty when its first word is too wide: left out
        texts: list[Text] = []
        rules: list[Rule] = []
        if self.style in ("beside", "ruled"):
            baseline = top - max(ascent(self.label), ascent(self.value))
            start = x
            if label:
                texts.append(text(label, self.label, x, baseline))
                start = x + texts[-1].advance + 0.6 * self.size
            filled = fit(value(self.rng, kind), self.value, x + width - start - 0.3 * self.size)
            if filled:
                texts.append(text(filled, self.value, start, baseline))
            low = baseline - max(descent(self.label), descent(self.value)) - 0.25 * self.size
            if self.style == "ruled":
                rules.append(Rule(start - 0.2 * self.size, low, x + width, low, self.rule_width))
            return texts, rules, low
        baseline = top - ascent(self.label)
        if label:
            texts.append(text(label, self.label, x, baseline))
        box_top = baseline - descent(self.label) - 0.2 * self.size
        inset = 0.4 * self.size if self.style == "boxed" else 0.0
        value_baseline = box_top - inset - ascent(self.value)
        filled = fit(value(self.rng, kind), self.value, width - 2 * inset - 0.3 * self.size)
        if filled:
            texts.append(text(filled, self.value, x + inset, value_baseline))
        low = value_baseline - descent(self.value) - inset
        if self.style == "boxed":
            rules += frame(x, low, x + width, box_top, self.rule_width)
        return texts, rules, low

    def checkboxes(self, x: float, width: float, top: float) -> tuple[list[Text], list[Rule], float]:
        """A question and its options, each behind a square, some of them ticked; returns its bottom."""
        asked = [words.title_words(self.rng, 1, 3), *words.words(self.rng, int(self.rng.integers(0, 4)))]
        question = " ".join(asked) + choose(self.rng, ("?", ":", ""))
        options = [
            choose(self.rng, CHOICES) if self.rng.random() < 0.3 else words.title_words(self.rng, 1, 2)
            for _ in range(int(self.rng.integers(2, 7)))
        ]
        side = 0.7 * self.size
        baseline = top - ascent(self.label)
        cursor = x
        texts: list[Text] = []
        rules: list[Rule] = []
        question = fit(question, self.label, width)
        if question:
            texts.append(text(question, self.label, x, baseline))
            cursor = x + texts[-1].advance + 1.2 * self.size
        for option in dict.fromkeys(options):
            advance = stringWidth(option, self.label.family, self.label.size)
            if cursor + side + 0.5 * self.size + advance > x + width:
                cursor = x
                baseline -= self.line_height(self.label) + 0.2 * self.size
            y0 = baseline - 0.05 * self.size
            rules += frame(cursor, y0, cursor + side, y0 + side, self.rule_width)
            if self.rng.random() < 0.35:
                inset = 0.15 * side
                rules += [
                    Rule(cursor + inset, y0 + inset, cursor + side - inset, y0 + side - inset, self.rule_width),
                    Rule(cursor + inset, y0 + side - inset, cursor + side - inset, y0 + inset, self.rule_width),
                ]
            texts.append(text(option, self.label, cursor + side + 0.5 * self.size, baseline))
            cursor += side + 0.5 * self.size + advance + 1.2 * self.size
        return texts, rules, baseline - descent(self.label) - 0.1 * self.size

    def section(self) -> bool:
        """A heading and rows of fields or checkboxes in 1-3 columns, boxed or not; False once the page is full."""
        rng = self.rng
        pad = 0.6 * self.size if self.boxed else 0.0
        head = Column(self.left + pad, self.right - pad, self.top - pad - ascent(self.heading), self.bottom, 1.3)
        if rng.random() < 0.8:
            name = choose(rng, SECTIONS) if rng.random() < 0.4 else words.title_words(rng, 1, 4)
            if rng.random() < 0.4:
                name = (
                    f"{int(rng.integers(1, 10))}. {name}"
                    if rng.random() < 0.5
                    else f"Part {words.code(rng)[:3]} {name}"
                )
            head.put(fit(name, self.heading, head.width), self.heading)
        texts, rules = list(head.texts), []
        y = min((t.baseline - descent(t.font) for t in texts), default=self.top - pad) - 0.5 * self.size
        count = int(rng.integers(1, 4))
        gap = 1.5 * self.size
        width = (head.width - (count - 1) * gap) / count
        low = y
        for _ in range(int(rng.integers(1, 6))):
            if rng.random() < 0.2:
                row = [self.checkboxes(self.left + pad, head.width, y)]
            else:
                row = [self.field(self.left + pad + i * (width + gap), width, y) for i in range(count)]
            row_low = min(piece[2] for piece in row)
            if row_low - pad < self.bottom:
                break
            for piece_texts, piece_rules, _ in row:
                texts += piece_texts
                rules += piece_rules
            low = row_low
            y = low - float(rng.uniform(0.3, 1.0)) * self.size
        if len(texts) <= len(head.texts):
            return False
        low -= pad
        if self.boxed:
            rules += frame(self.left, low, self.right, self.top, self.rule_width)
        self.texts += texts
        self.rules += rules
        self.top = low - float(rng.uniform(0.8, 2.0)) * self.size
        return True

    def signature(self) -> None:
        """A signature line (and a dated line beside it), labelled underneath."""
        rng = self.rng
        length = float(rng.uniform(140, 240))
        y = self.top - 2.5 * self.size
        label = choose(rng, SIGNATURES)
        baseline = y - 0.3 * self.size - ascent(self.label)
        self.texts.append(text(label, self.label, self.left, baseline))
        self.rules.append(Rule(self.left, y, self.left + length, y, self.rule_width))
        x = self.left + length + 2 * self.size
        date_label = fit("Date" if rng.random() < 0.6 else words.title_words(rng, 1, 2), self.label, 100)
        dated = text(words.date(rng), self.value, x + 0.3 * self.size, y + 0.4 * self.size + descent(self.value))
        if rng.random() < 0.7 and date_label and dated.x + dated.advance + self.size <= self.right:
            self.rules.append(Rule(x, y, dated.x + dated.advance + 0.6 * self.size, y, self.rule_width))
            self.texts += [text(date_label, self.label, x, baseline), dated]


def make_layout(rng: np.random.Generator) -> Layout:
    """A form: title, optional form number and instructions, sections until the page is full, a signature."""
    form = Form(rng)
    title = words.title_words(rng, 1, 4) + choose(rng, ("", " Form", " Application", " Registration", " Request"))
    align = choose(rng, ("left", "center"))
    title_font = Font(family=form.heading.family, size=form.heading.size + float(rng.integers(2, 7)))
    page = Column(form.left, form.right, form.top - ascent(title_font), form.bottom, 1.3)
    page.put(fit(title, title_font, page.width), title_font, align)
    if rng.random() < 0.6:
        page.put(f"Form {words.code(rng)}", form.label, "right" if align == "left" else "center")
    if rng.random() < 0.5:
        page.skip(0.3, form.size)
        page.put_lines(wrap(words.paragraph(rng, 1, 3), form.label, page.width), form.label)
    form.texts += page.texts
    form.top = min(t.baseline - descent(t.font) for t in page.texts) - 1.2 * form.size
    signature = rng.random() < 0.8
    if signature:
        form.bottom += 5 * form.size  # room kept for the signature line
    while form.top - form.bottom > 4 * form.size and form.section():
        pass
    if signature:
        form.bottom -= 5 * form.size
        form.signature()
    return Layout(f"form-{form.style}", tuple(form.texts), tuple(form.rules))
