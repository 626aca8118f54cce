"""Labelled pages for training and evaluation: our generator's invoices and tutorial-like ones.

A `Sample` is a delivered image with, per drawn string, its text, base family, size and label
rectangle (four corners in image pixels; its axis-aligned bounds are the section's position).
Pages come from the challenge generator's layouts, optionally redrawn with other glyph sources
(`glyphs`), rendered by pdfium at a drawn resolution or by poppler's `pdftoppm`, and corrupted
by the challenge's own steps at a difficulty level, so labels move with every transform exactly
as challenge labels do.
"""

from __future__ import annotations

import datetime as dt
import functools
import io
import subprocess
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import numpy.typing as npt
from faker import Faker
from PIL import Image

from ocr_subnet.challenge import corrupt, levels
from ocr_subnet.challenge.generate import Page, corrupt_page, invoice_layout, plan_distortion
from ocr_subnet.challenge.invoice import Layout, Rule, text
from ocr_subnet.challenge.levels import RENDER_PX_PER_PT
from ocr_subnet.challenge.render import draw_pdf, rasterize, to_pixels
from ocr_subnet.model import glyphs
from ocr_subnet.model.geometry import label_quad, quad_bounds
from ocr_subnet.sections import Font, Section

Raster = npt.NDArray[np.uint8]
Rasterizer = Callable[[bytes], Raster]

TUTORIAL_DPI = 78  # 1.083 px/pt; the tutorial's 95% rescale then delivers ~1.03 px/pt
TUTORIAL_FAMILIES = ("Helvetica", "Times-Roman")
TUTORIAL_SIZES = (10.0, 11.0, 12.0)
TUTORIAL_ITEMS = (
    "Web hosting",
    "Domain registration",
    "SSL certificate",
    "Web design",
    "Web development",
    "SEO",
    "Content creation",
    "Social media marketing",
    "Email marketing",
    "PPC advertising",
    "Analytics",
    "Consulting",
    "Training",
    "Maintenance",
    "Support",
    "Graphic design",
    "Logo design",
    "Branding",
)
TUTORIAL_LEVEL = 1  # the tutorial's corruption is our difficulty 1


@dataclass(frozen=True)
class Sample:
    """A delivered page and its strings' labels."""

    image: Raster
    texts: tuple[str, ...]
    families: tuple[str, ...]
    sizes: npt.NDArray[np.float64]  # points
    quads: npt.NDArray[np.float64]  # (n, 4, 2) label rectangles in image pixels: TL, TR, BR, BL

    def sections(self) -> list[Section]:
        """The labels as sections, exactly as the challenge generator would state them."""
        boxes = quad_bounds(self.quads) if len(self.quads) else np.zeros((0, 4))
        return [
            Section(text=t, position=tuple(round(float(v), 2) for v in box), font=Font(family=f, size=float(s)))
            for t, f, s, box in zip(self.texts, self.families, self.sizes, boxes, strict=True)
        ]


def redraw(layout: Layout, fonts: dict[str, str]) -> tuple[Layout, Layout]:
    """The layout to draw (fonts replaced) and the layout to label (base families, the drawn advances)."""
    drawn, labelled = [], []
    for item in layout.texts:
        name = fonts.get(item.font.family, item.font.family)
        placed = text(item.text, Font(family=name, size=item.font.size), item.x, item.baseline, item.word_space)
        drawn.append(placed)
        labelled.append(replace(placed, font=item.font))
    return replace(layout, texts=tuple(drawn)), replace(layout, texts=tuple(labelled))


def pick_fonts(rng: np.random.Generator, base_share: float) -> dict[str, str]:
    """One glyph source per family for a page: the base font with probability `base_share`."""
    chosen = {}
    for family, names in glyphs.sources().items():
        use_base = len(names) == 1 or rng.random() < base_share
        chosen[family] = names[0] if use_base else names[int(rng.integers(1, len(names)))]
    return chosen


def rasterize_poppler(pdf: bytes, dpi: int) -> Raster:
    """Rasterize a one-page PDF with poppler's `pdftoppm` (another rasterizer, URW glyphs via fontconfig)."""
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "page"
        subprocess.run(
            ["pdftoppm", "-r", str(dpi), "-gray", "-singlefile", "-", str(root)],
            input=pdf,
            check=True,
            capture_output=True,
            timeout=60,
        )
        return np.asarray(Image.open(root.with_suffix(".pgm")).convert("L"))


def deliver(raster: Raster, labelled: Layout, level: int, rng: np.random.Generator) -> Sample:
    """Corrupt a clean render at `level` with the challenge's steps, encode as a miner would receive it."""
    difficulty = levels.difficulty(level)
    page = Page(labelled, raster, to_pixels(raster))
    height, width = raster.shape
    distortion = plan_distortion(difficulty, width, height, rng)
    corrupted = corrupt_page(page, difficulty, distortion, rng)
    image = np.asarray(Image.open(io.BytesIO(corrupt.encode(corrupted, difficulty.jpeg_quality))).convert("L"))
    matrix = distortion.matrix @ page.to_pixels
    items = labelled.texts
    return Sample(
        image=image,
        texts=tuple(t.text for t in items),
        families=tuple(t.font.family for t in items),
        sizes=np.array([t.font.size for t in items], dtype=np.float64),
        quads=np.array([label_quad(t.box, matrix) for t in items]).reshape(-1, 4, 2),
    )


def pdfium(px_per_pt: float) -> Rasterizer:
    """Our generator's rasterizer at a density."""
    return lambda pdf: rasterize(pdf, px_per_pt)[0]


def poppler(dpi: int = TUTORIAL_DPI) -> Rasterizer:
    """The tutorial validator's rasterizer (pdf2image calls pdftoppm)."""
    return lambda pdf: rasterize_poppler(pdf, dpi)


def render(
    layout: Layout, fonts: dict[str, str], rasterizer: Rasterizer, level: int, rng: np.random.Generator
) -> Sample:
    """Draw `layout` with `fonts` (base family -> font name), rasterize, corrupt at `level`."""
    drawn, labelled = redraw(layout, fonts)
    return deliver(rasterizer(draw_pdf([drawn])), labelled, level, rng)


@functools.cache
def _faker() -> tuple[Faker, threading.Lock]:
    return Faker("en_US"), threading.Lock()


def tutorial_layout(seed: int) -> Layout:
    """The tutorial validator's invoice: its fixed arrangement, content drawn from `seed`, one font per page."""
    rng = np.random.default_rng([seed, 7])
    font = Font(family=str(rng.choice(TUTORIAL_FAMILIES)), size=float(rng.choice(TUTORIAL_SIZES)))
    fake, lock = _faker()
    with lock:
        fake.seed_instance(int(rng.integers(2**63)))
        company, street, city, zipcode, customer = (
            fake.company(),
            fake.street_address(),
            fake.city(),
            fake.zipcode(),
            fake.name(),
        )
    issued = dt.date(2008, 1, 1) + dt.timedelta(days=int(rng.integers(0, 5800)))
    picks = sorted(rng.choice(len(TUTORIAL_ITEMS), size=int(rng.integers(3, 16)), replace=False))
    items = [
        (TUTORIAL_ITEMS[i], int(rng.integers(1, 6)), float(rng.choice([5.5, 10, 80, 100, 140, 150, 500])))
        for i in picks
    ]
    placed = [
        (30, 750, company),
        (30, 735, street),
        (30, 720, f"{city}, {zipcode}"),
        (400, 750, "Invoice Date: " + issued.strftime("%B %d, %Y")),
        (400, 735, f"Invoice #: INV{int(rng.integers(1, 10_001)):06d}"),
        (30, 690, "Bill To:"),
        (120, 690, customer),
        (30, 650, "Description"),
        (300, 650, "Qty"),
        (460, 650, "Cost"),
    ]
    baseline = 625
    for description, quantity, cost in items:
        placed += [(30, baseline, description), (300, baseline, str(quantity)), (460, baseline, f"${cost:.2f}")]
        baseline -= 15
    total = sum(q * c for _, q, c in items)
    placed += [(400, baseline - 15, f"Total: ${total:,.2f}"), (30, baseline - 45, "Terms:")]
    placed += [(120, baseline - 45, "Payment due within 30 days")]
    return Layout(
        template="tutorial",
        texts=tuple(text(value, font, float(x), float(y)) for x, y, value in placed),
        rules=(Rule(30.0, 645.0, 560.0, 645.0, 0.3),),
    )


def tutorial_sample(seed: int) -> Sample:
    """A tutorial-like challenge: the tutorial's layout, rasterized by poppler, corrupted as the tutorial does."""
    return render(tutorial_layout(seed), {}, poppler(), TUTORIAL_LEVEL, np.random.default_rng([seed, 8]))


def generator_sample(seed: int, level: int) -> Sample:
    """Our challenge's page for `seed` as pdfium draws it, at `level` (for evaluation; training draws its own)."""
    return render(invoice_layout(seed), {}, pdfium(RENDER_PX_PER_PT), level, np.random.default_rng([seed, 9, level]))
