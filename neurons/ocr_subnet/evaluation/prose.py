"""Prose pages no generator drew: paragraphs of the held-out Apache-2.0 licence (`prior.HELD_OUT`, which the
language prior never fits) set down one column in a published face, rasterized at a density, clean or
scan-degraded. The labels are the drawn lines, so a page's truth is exact; the degraded variant applies level 3's
scan effects, noise and a blur scaled to the density, and no warp, so the labels stay the clean render's.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from ocr_subnet.challenge import corrupt, fonts, levels
from ocr_subnet.challenge.generate import scan_effects
from ocr_subnet.challenge.invoice import PAGE_HEIGHT, PAGE_WIDTH, Layout
from ocr_subnet.challenge.render import draw_pdf, labels, rasterize, to_pixels
from ocr_subnet.challenge.typeset import Column, wrap
from ocr_subnet.evaluation import Variant
from ocr_subnet.model.prior import HELD_OUT, normalized
from ocr_subnet.sections import Font, Section

DEGRADE_LEVEL = 3
DEGRADE_BLUR_PX_PER_PT = 0.4
FONT_SIZE = 11.0


@dataclass(frozen=True)
class ProsePage:
    variant: Variant
    face: str
    px_per_pt: float
    image: npt.NDArray[np.uint8]
    labels: tuple[Section, ...]

    @property
    def source(self) -> str:
        return f"prose {self.variant}"


def paragraphs(path: Path = HELD_OUT) -> list[str]:
    """The text's paragraphs of some length (headings and one-line clauses left out), whitespace normalised."""
    blocks = [normalized(block) for block in path.read_text().split("\n\n")]
    return [block for block in blocks if len(block) > 200]


def prose_page(text: Sequence[str], face: str, px_per_pt: float, variant: Variant, seed: int) -> ProsePage:
    """`text`'s paragraphs set in `face` at 11 pt down one column until the page is full, rasterized."""
    font = Font(family=fonts.register(face), size=FONT_SIZE)
    column = Column(60.0, PAGE_WIDTH - 60.0, PAGE_HEIGHT - 70.0, 60.0, 1.35)
    for block in text:
        if not column.put_lines(wrap(block, font, column.width), font):
            break
        column.skip(0.6, font.size)
    layout = Layout("prose", tuple(column.texts))
    (raster,) = rasterize(draw_pdf([layout]), px_per_pt)
    page_labels = labels(layout, to_pixels(raster))
    if variant is Variant.DEGRADED:
        level = levels.difficulty(DEGRADE_LEVEL)
        rng = np.random.default_rng(seed)
        raster = scan_effects(raster, level, rng)
        raster = corrupt.add_noise(raster, level.noise_density, level.noise_sigma, rng)
        raster = corrupt.blur(raster, DEGRADE_BLUR_PX_PER_PT * px_per_pt)
    return ProsePage(variant, face, px_per_pt, np.asarray(raster, dtype=np.uint8), page_labels)


def side_by_side(left: ProsePage, right: ProsePage) -> ProsePage:
    """Two pages of one face, density and variant as one landscape image (a two-page spread), labels carried over."""
    width = left.image.shape[1]
    moved = []
    for label in right.labels:
        x0, y0, x1, y1 = label.position
        moved.append(label.model_copy(update={"position": (x0 + width, y0, x1 + width, y1)}))
    image = np.concatenate([left.image, right.image], axis=1)
    return ProsePage(left.variant, left.face, left.px_per_pt, image, (*left.labels, *moved))


def prose_pages(
    faces: Sequence[str],
    densities: Sequence[float],
    variants: Sequence[Variant] = tuple(Variant),
    spread: bool = False,
) -> list[ProsePage]:
    """One page per face and variant: page i in `faces[i]`, at `densities` cycled, from the paragraphs rotated by
    i (so each face reads other text); with `spread`, beside it the page that starts 3 paragraphs later."""
    blocks = paragraphs()
    pages = []
    for i, face in enumerate(faces):
        density = densities[i % len(densities)]
        for variant in variants:
            page = prose_page(rotated(blocks, i), face, density, variant, i)
            if spread:
                page = side_by_side(page, prose_page(rotated(blocks, i + 3), face, density, variant, i + len(faces)))
            pages.append(page)
    return pages


def rotated(blocks: Sequence[str], start: int) -> list[str]:
    """The paragraphs from the `start`-th (cyclically) on."""
    start %= len(blocks)
    return [*blocks[start:], *blocks[:start]]
