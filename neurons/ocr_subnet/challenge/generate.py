"""Challenges from seeds: draw the page, rasterize it, corrupt it, carry its labels along.

A seed fixes everything: its document family (drawn from the mix asked for, see `families`), the
page (content, template, fonts, positions) depends on the seed alone, the resolution (tutorial or
scan, see `levels`) and the corruption on the seed and the difficulty. Each gets its own numpy
stream, derived from the seed, and Faker draws from its own seeded instance, so no global random
state is read or written and the same seed and difficulty give the same bytes and labels anywhere.

Seeds are the validator's secret: a miner that knew one could regenerate the labels. Draw them
with `random_seed()` (or derive them from one with `derive_seeds`); the challenge id is a
one-way hash, safe to send.
"""

from __future__ import annotations

import functools
import hashlib
import secrets
import threading
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from faker import Faker

from ocr_subnet.challenge import band, columns, corrupt, form, geometry, invoice, letter, levels, receipt, table
from ocr_subnet.challenge import invoice_layout as procedural_invoice
from ocr_subnet.challenge.api import Challenge
from ocr_subnet.challenge.families import check_families
from ocr_subnet.challenge.invoice import Layout, make_layout
from ocr_subnet.challenge.levels import (
    POINTS_PER_INCH,
    RENDER_PX_PER_PT,
    SCAN_DPI,
    SPOT_RADIUS_PT,
    SPOT_STRENGTH,
    TUTORIAL_SHARE,
    Difficulty,
    blur_px,
)
from ocr_subnet.challenge.render import draw_pdf, labels, rasterize, to_pixels
from ocr_subnet.sections import Section

# Domain separation: each stream of a seed gets its own tag.
CONTENT, GEOMETRY, PHOTOMETRY, FAMILY, RESOLUTION, BAND = 0, 1, 2, 3, 4, 5
# The named task that is the tutorial's challenge: always drawn at the tutorial's resolution.
TUTORIAL_TASK = ("invoice", 1)

_FAKER_LOCK = threading.Lock()
# Each family's fixed strings: a miner can send them unread, so the reward weighs them down.
STOCK: dict[str, frozenset[str]] = {
    "invoice": invoice.STOCK_TEXTS,
    "letter": letter.STOCK_TEXTS,
    "receipt": receipt.STOCK_TEXTS,
    "columns": columns.STOCK_TEXTS,
    "table": table.STOCK_TEXTS,
    "form": form.STOCK_TEXTS,
    "invoice-layout": procedural_invoice.STOCK_TEXTS,
}


@functools.cache
def _faker() -> Faker:
    """One Faker per process: building one costs ~20 ms, reseeding it costs nothing."""
    return Faker("en_US")


@dataclass(frozen=True)
class Page:
    """The clean render of a seed's invoice."""

    layout: Layout
    raster: corrupt.Raster
    to_pixels: geometry.Matrix  # PDF points -> pixels of `raster`

    @functools.cached_property
    def labels(self) -> tuple[Section, ...]:
        """Ground truth in the clean render's pixels (for checks; challenges map from points directly)."""
        return labels(self.layout, self.to_pixels)


@dataclass(frozen=True)
class Distortion:
    """A challenge's geometric draws and the one matrix they compose to."""

    scale: float
    rotation_deg: float
    corners: tuple[tuple[float, float], ...]  # where perspective sends the scaled page's corners
    matrix: geometry.Matrix  # pixels of the clean render -> pixels of the delivered image
    size: tuple[int, int]  # delivered width, height


def random_seed() -> int:
    """A seed no miner can guess."""
    return secrets.randbits(64)


def derive_seeds(seed: int, count: int) -> list[int]:
    """`count` independent seeds from one; the first k are the same whatever the count."""
    return [int(s) for s in np.random.SeedSequence(seed).generate_state(count, dtype=np.uint64)]


def challenge_id(seed: int, difficulty: int) -> str:
    digest = hashlib.blake2b(f"{seed}:{difficulty}".encode(), digest_size=8, person=b"ocr-challenge")
    return digest.hexdigest()


def stream(seed: int, *tags: int) -> np.random.Generator:
    if seed < 0:
        raise ValueError(f"seed must be non-negative, got {seed}")
    return np.random.default_rng([seed, *tags])


def invoice_layout(seed: int) -> Layout:
    """The seed's invoice: content, template, fonts and positions, before anything is drawn."""
    rng = stream(seed, CONTENT)
    with _FAKER_LOCK:
        fake = _faker()
        fake.seed_instance(int(rng.integers(2**63)))
        return make_layout(fake, rng)


def page_layout(seed: int, family: str = "invoice") -> Layout:
    """The seed's page of `family`, before anything is drawn."""
    if family == "invoice":
        return invoice_layout(seed)
    maker = {
        "letter": letter.make_layout,
        "receipt": receipt.make_layout,
        "columns": columns.make_layout,
        "table": table.make_layout,
        "form": form.make_layout,
        "invoice-layout": procedural_invoice.make_layout,
    }[family]
    return maker(stream(seed, CONTENT))


def family_of(seed: int, families: Sequence[str] = ("invoice",)) -> str:
    """The family a seed draws from the mix `families`, each equally likely."""
    mix = check_families(families)
    return mix[int(stream(seed, FAMILY).integers(len(mix)))] if len(mix) > 1 else mix[0]


def resolution(seed: int, difficulty: int, family: str = "invoice") -> float:
    """The density (px per point) the seed's page is rendered at: the tutorial's for a `TUTORIAL_SHARE`
    of challenges and always for the tutorial's task, else a scan at a whole dpi in `SCAN_DPI`."""
    if (family, difficulty) == TUTORIAL_TASK:
        return RENDER_PX_PER_PT
    rng = stream(seed, RESOLUTION, difficulty)
    if rng.random() < TUTORIAL_SHARE:
        return RENDER_PX_PER_PT
    return int(rng.integers(SCAN_DPI[0], SCAN_DPI[1] + 1)) / POINTS_PER_INCH


def render_page(seed: int, family: str = "invoice", px_per_pt: float = RENDER_PX_PER_PT) -> Page:
    """Draw and rasterize the seed's page at `px_per_pt`; no corruption, labels in the clean render's pixels."""
    layout = page_layout(seed, family)
    (raster,) = rasterize(draw_pdf([layout]), px_per_pt)
    return Page(layout, raster, to_pixels(raster))


def plan_distortion(level: Difficulty, width: int, height: int, rng: np.random.Generator) -> Distortion:
    """Draw scale, perspective and rotation for a width x height page and frame the result."""
    scale = float(rng.uniform(*level.scale))
    page = geometry.corners((0.0, 0.0, width * scale, height * scale))
    jitter = rng.uniform(-level.perspective, level.perspective, size=(4, 2)) * (width * scale, height * scale)
    moved = page + jitter
    angle = float(rng.uniform(*level.rotation_deg))
    # Without perspective the map stays exactly affine (a solved homography is only nearly so).
    keystone = geometry.homography(page, moved) if level.perspective else geometry.identity()
    composed = geometry.rotation(angle) @ keystone @ geometry.scaling(scale)
    matrix, out_width, out_height = geometry.fit(composed, width, height)
    return Distortion(scale, angle, tuple(map(tuple, moved.tolist())), matrix, (out_width, out_height))


def prepare(
    seed: int, difficulty: int = 1, family: str = "invoice", px_per_pt: float | None = None
) -> tuple[Page, Distortion]:
    """The clean page and the geometry a challenge applies to it (what tests check labels against),
    at the seed's `resolution` unless `px_per_pt` names one (benchmarks time each density)."""
    level = levels.difficulty(difficulty)
    density = resolution(seed, difficulty, family) if px_per_pt is None else px_per_pt
    page = render_page(seed, family, density)
    height, width = page.raster.shape
    return page, plan_distortion(level, width, height, stream(seed, GEOMETRY, difficulty))


def scan_effects(raster: corrupt.Raster, level: Difficulty, rng: np.random.Generator) -> corrupt.Raster:
    """The level's scan effects on the clean page, in the order paper meets them: the print (ink
    bleed, low ink), the sheet (bleed-through, texture, lighting), the scanner's dirty rollers.
    A level without them returns the raster untouched and draws nothing from `rng`."""
    scan = level.scan
    raster = corrupt.ink_bleed(raster, scan.bleed)
    raster = corrupt.fade_ink(raster, scan.fade, rng)
    raster = corrupt.bleed_through(raster, scan.ghost)
    raster = corrupt.paper_and_light(raster, scan.texture, scan.lighting, rng)
    return corrupt.roller_lines(raster, scan.lines, rng)


def scan_marks(raster: corrupt.Raster, level: Difficulty, px_per_pt: float, rng: np.random.Generator) -> corrupt.Raster:
    """The level's border, noise and spots on a page drawn at `px_per_pt`: the steps that move no pixel, so
    boxes on the page stay exact (the real-PDF evaluation degrades its pages with these and the blur)."""
    height, width = raster.shape
    raster = corrupt.darken_border(raster, level.border_pt * px_per_pt, level.border_curl)
    raster = corrupt.add_noise(raster, level.noise_density, level.noise_sigma, rng)
    for _ in range(level.spots):
        center = (float(rng.uniform(0, width)), float(rng.uniform(0, height)))
        raster = corrupt.add_spot(raster, center, SPOT_STRENGTH, SPOT_RADIUS_PT * px_per_pt, level.noise_density, rng)
    return raster


def corrupt_page(page: Page, level: Difficulty, distortion: Distortion, rng: np.random.Generator) -> corrupt.Raster:
    """Scan effects, then the tutorial's order: border, noise and spots on the page, one warp for
    all geometry, blur (scaled with the page's density)."""
    px_per_pt = page.to_pixels[0, 0]
    raster = scan_marks(scan_effects(page.raster, level, rng), level, px_per_pt, rng)
    raster = corrupt.warp(raster, distortion.matrix, distortion.size)
    return corrupt.blur(raster, blur_px(level, px_per_pt))


def band_seed(seed: int, share: float) -> int | None:
    """The seed of the header band above the seed's challenge (with chance `share`), or None: the
    gateway stitches one above every organic page, so challenges carry them too."""
    if not 0.0 <= share <= 1.0:
        raise ValueError(f"banded share must be in [0, 1], got {share}")
    rng = stream(seed, BAND)
    return int(rng.integers(2**63)) if rng.random() < share else None


def generate_challenge(
    seed: int, difficulty: int = 1, families: Sequence[str] = ("invoice",), banded: float = 0.0
) -> Challenge:
    """The challenge for `seed` at `difficulty` (0..4), of a family drawn from `families`: the image a
    miner receives and its ground truth. With chance `banded` a clean header band of another invoice
    is stitched above the scanned page, as the gateway does with organic pages."""
    family = family_of(seed, families)
    page, distortion = prepare(seed, difficulty, family)
    level = levels.difficulty(difficulty)
    raster = corrupt_page(page, level, distortion, stream(seed, PHOTOMETRY, difficulty))
    sections = labels(page.layout, distortion.matrix @ page.to_pixels)
    stock = STOCK[family]
    banding = band_seed(seed, banded)
    if banding is not None:
        header = band.header_band(invoice_layout(banding), raster.shape[1])
        raster = band.stitch(header, raster)
        sections = (*header.sections, *band.shift_down(sections, header.height))
        stock = stock | STOCK["invoice"]
    height, width = raster.shape
    return Challenge(
        id=challenge_id(seed, difficulty),
        seed=seed,
        difficulty=difficulty,
        image=corrupt.encode(raster, level.jpeg_quality),
        image_format=level.image_format,
        width=width,
        height=height,
        sections=sections,
        stock=stock,
        family=family,
    )
