"""Labels against pixels: each box is the rule box of its string, carried exactly, and holds its ink.

The ink of each string is measured in isolation: the strings are drawn again, a few per page
and far enough apart that each one's neighbourhood holds only its own ink, rasterized like the
challenge page and warped with the challenge's matrix, without noise or blur. The rule box is
not a tight ink box (it reaches 0.2 size below the baseline and 0.8 above), so the checks are:
ink inside the box (within 1.5 px), the box no larger than the rule allows around that ink,
and the delivered box equal to the clean box carried through the matrix.
"""

from __future__ import annotations

import functools
import io
import string

import numpy as np
import pytest
from ocr_subnet.challenge import corrupt, fonts, geometry, invoice
from ocr_subnet.challenge.api import Challenge
from ocr_subnet.challenge.families import FAMILIES
from ocr_subnet.challenge.generate import (
    GEOMETRY,
    Distortion,
    Page,
    generate_challenge,
    plan_distortion,
    prepare,
    render_page,
    resolution,
    stream,
)
from ocr_subnet.challenge.invoice import TEMPLATES, Layout, Text
from ocr_subnet.challenge.levels import LEVELS, POINTS_PER_INCH, RENDER_PX_PER_PT, SCAN_DPI, difficulty
from ocr_subnet.challenge.render import draw_pdf, labels, rasterize, to_pixels
from ocr_subnet.sections import Font
from PIL import Image
from scipy import ndimage

TOLERANCE = 1.5  # px
INK = 128  # a pixel at least half covered by ink
NEIGHBOURHOOD = 8.0  # px around a box that belong to that string alone on its page
RULE_MISS = 0.08  # sizes: the most a glyph's ink reaches past the label rule's box (visible on scans only)


@functools.cache
def template_seeds() -> dict[str, int]:
    """The first seed drawing each template, so every layout is checked."""
    found: dict[str, int] = {}
    for seed in range(200):
        found.setdefault(render_page(seed).layout.template, seed)
        if len(found) == len(TEMPLATES):
            return found
    raise AssertionError(f"only templates {sorted(found)} in 200 seeds")


@functools.cache
def stages(seed: int, level: int) -> tuple[Page, Distortion, Challenge]:
    page, distortion = prepare(seed, level)
    return page, distortion, generate_challenge(seed, level)


def grow(box: geometry.Box, by: float) -> geometry.Box:
    return box[0] - by, box[1] - by, box[2] + by, box[3] + by


def meets(a: geometry.Box, b: geometry.Box) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def isolated_ink(
    texts: tuple[Text, ...],
    boxes: list[geometry.Box],
    matrix: geometry.Matrix,
    size: tuple[int, int],
    px_per_pt: float = RENDER_PX_PER_PT,
) -> list[geometry.Box | None]:
    """Each string's ink box after `matrix`, from renders where no other ink is near it."""
    zones = [grow(box, NEIGHBOURHOOD) for box in boxes]
    pages: list[list[int]] = []
    for i, zone in enumerate(zones):
        page = next((p for p in pages if not any(meets(zone, zones[j]) for j in p)), None)
        if page is None:
            pages.append([i])
        else:
            page.append(i)
    rasters = rasterize(draw_pdf([Layout("isolated", tuple(texts[i] for i in page)) for page in pages]), px_per_pt)
    found: list[geometry.Box | None] = [None] * len(texts)
    for members, raster in zip(pages, rasters, strict=True):
        # Warped as light-on-dark, so the dark canvas around a rotated page is not taken for ink.
        ink = corrupt.warp(255 - raster, matrix, size) > 255 - INK
        claimed = np.zeros_like(ink)
        for i in members:
            x0, y0, x1, y1 = zones[i]
            window = (slice(max(0, int(y0)), int(np.ceil(y1))), slice(max(0, int(x0)), int(np.ceil(x1))))
            claimed[window] = True
            rows, cols = np.nonzero(ink[window])
            if rows.size:
                found[i] = (
                    window[1].start + float(cols.min()),
                    window[0].start + float(rows.min()),
                    window[1].start + float(cols.max() + 1),
                    window[0].start + float(rows.max() + 1),
                )
        stray = np.argwhere(ink & ~claimed)
        assert stray.size == 0, f"ink far from every box on an isolated page, first at (row, col) {stray[0]}"
    return found


def scan_tolerance(font: Font, px_per_pt: float) -> float:
    """TOLERANCE, plus on scans the share of the size by which the label rule misses some glyphs:
    base-14 '|' and '_' reach 0.25 below the baseline (the tutorial's box stops at 0.2), oblique
    TrueType capitals lean 0.05 left of the origin, FreeSans' oblique Z 0.08 past the slant overhang.
    At the tutorial's density that is about a pixel and TOLERANCE covers it; at 300 dpi it is up to
    5 px for 14 pt (see the README)."""
    if px_per_pt <= RENDER_PX_PER_PT:
        return TOLERANCE
    return TOLERANCE + RULE_MISS * font.size * px_per_pt


def inside(ink: geometry.Box, box: geometry.Box, tolerance: float = TOLERANCE) -> bool:
    return (
        ink[0] >= box[0] - tolerance
        and ink[1] >= box[1] - tolerance
        and ink[2] <= box[2] + tolerance
        and ink[3] <= box[3] + tolerance
    )


SEED_TEMPLATES = pytest.mark.parametrize("template", sorted(TEMPLATES))


@SEED_TEMPLATES
def test_clean_labels_are_each_strings_rule_box_and_hold_its_ink(template: str) -> None:
    page, _, _ = stages(template_seeds()[template], 1)
    height, width = page.raster.shape
    boxes = [section.position for section in page.labels]
    inks = isolated_ink(page.layout.texts, boxes, geometry.identity(), (width, height))
    px = page.to_pixels[0, 0]
    for text, box, ink in zip(page.layout.texts, boxes, inks, strict=True):
        assert ink is not None, f"{text.text!r} drew no ink"
        assert inside(ink, box), f"{text.text!r}: ink {ink} outside its box {box}"
        size = text.font.size * px
        # The box is the rule's box around this ink, not just any box containing it.
        assert ink[0] - box[0] <= 0.12 * size + TOLERANCE, text.text
        assert box[2] - ink[2] <= 0.30 * size + TOLERANCE, text.text
        assert ink[1] - box[1] <= 0.35 * size + TOLERANCE, text.text
        assert box[3] - ink[3] <= 0.25 * size + TOLERANCE, text.text


@SEED_TEMPLATES
@pytest.mark.parametrize("level", range(len(LEVELS)))
def test_delivered_boxes_are_the_clean_boxes_carried_by_the_matrix(template: str, level: int) -> None:
    page, distortion, challenge = stages(template_seeds()[template], level)
    assert [s.text for s in challenge.sections] == [s.text for s in page.labels]
    assert [s.font for s in challenge.sections] == [s.font for s in page.labels]
    for delivered, clean in zip(challenge.sections, page.labels, strict=True):
        expected = geometry.map_box(distortion.matrix, clean.position)
        assert delivered.position == pytest.approx(expected, abs=0.05)


@SEED_TEMPLATES
@pytest.mark.parametrize("level", range(len(LEVELS)))
def test_ink_of_each_string_lies_inside_its_delivered_box(template: str, level: int) -> None:
    seed = template_seeds()[template]
    page, distortion, challenge = stages(seed, level)
    boxes = [section.position for section in challenge.sections]
    px_per_pt = resolution(seed, level)
    inks = isolated_ink(page.layout.texts, boxes, distortion.matrix, distortion.size, px_per_pt)
    for section, ink in zip(challenge.sections, inks, strict=True):
        assert ink is not None, f"{section.text!r} has no ink in the delivered geometry"
        assert inside(ink, section.position, scan_tolerance(section.font, px_per_pt)), (
            f"{section.text!r}: ink {ink} outside {section.position} at {px_per_pt * 72:.0f} dpi"
        )
        assert section.position[0] >= 0 and section.position[2] <= challenge.width
        assert section.position[1] >= 0 and section.position[3] <= challenge.height


@pytest.mark.parametrize("level", range(1, len(LEVELS)))
def test_delivered_image_is_aligned_with_its_labels(level: int) -> None:
    """In the label boxes the noisy image matches the clean page, warped by the labels' matrix, unshifted."""
    page, distortion, challenge = stages(template_seeds()["classic"], level)

    def detail(raster: np.ndarray) -> np.ndarray:
        """Ink detail only: the image minus its local mean, so borders, spots and canvas drop out."""
        image = raster.astype(np.float64)
        return image - ndimage.uniform_filter(image, 9)

    delivered = detail(np.asarray(Image.open(io.BytesIO(challenge.image))))
    reference = detail(corrupt.warp(page.raster, distortion.matrix, distortion.size))
    in_boxes = np.zeros(delivered.shape, dtype=bool)
    for section in challenge.sections:
        x0, y0, x1, y1 = (round(v) for v in section.position)
        in_boxes[y0:y1, x0:x1] = True
    scores = {
        (dx, dy): float((delivered * np.roll(reference, (dy, dx), axis=(0, 1)))[in_boxes].sum())
        for dx in range(-2, 3)
        for dy in range(-2, 3)
    }
    assert max(scores, key=scores.__getitem__) == (0, 0)


# --- the open-ended families and every published face -------------------------------------------

PRINTABLE = (string.ascii_uppercase, string.ascii_lowercase + string.digits, string.punctuation)


@pytest.mark.parametrize("dpi", [RENDER_PX_PER_PT * POINTS_PER_INCH, SCAN_DPI[1]], ids=["tutorial", "300dpi"])
@pytest.mark.parametrize("family", fonts.PUBLISHED_FAMILIES)
def test_every_published_face_draws_its_ink_inside_its_label_box(family: str, dpi: float) -> None:
    """Every printable ASCII character, in every face a challenge may use, stays inside the label box,
    at the tutorial's density and on a 300 dpi scan."""
    px_per_pt = dpi / POINTS_PER_INCH
    font = Font(family=fonts.register(family), size=14.0)
    layout = Layout(
        "faces", tuple(invoice.text(sample, font, 60.0, 700.0 - 80.0 * i) for i, sample in enumerate(PRINTABLE))
    )
    (raster,) = rasterize(draw_pdf([layout]), px_per_pt)
    boxes = [section.position for section in labels(layout, to_pixels(raster))]
    height, width = raster.shape
    inks = isolated_ink(layout.texts, boxes, geometry.identity(), (width, height), px_per_pt)
    for item, box, ink in zip(layout.texts, boxes, inks, strict=True):
        assert ink is not None, f"{family}: {item.text!r} drew no ink"
        assert inside(ink, box, scan_tolerance(font, px_per_pt)), f"{family}: {item.text!r}: ink {ink} outside {box}"


@pytest.mark.parametrize("family", [family for family in FAMILIES if family != "invoice"])
@pytest.mark.parametrize("level", [0, 1, 4])
def test_ink_of_each_string_of_every_family_lies_inside_its_delivered_box(family: str, level: int) -> None:
    for seed in (1, 2):
        page, distortion = prepare(seed, level, family)
        challenge = generate_challenge(seed, level, (family,))
        assert challenge.family == family and len(challenge.sections) >= 10
        assert [s.text for s in challenge.sections] == [s.text for s in page.labels]
        boxes = [section.position for section in challenge.sections]
        px_per_pt = resolution(seed, level, family)
        inks = isolated_ink(page.layout.texts, boxes, distortion.matrix, distortion.size, px_per_pt)
        for section, ink in zip(challenge.sections, inks, strict=True):
            assert ink is not None, f"{family} {seed}: {section.text!r} has no ink in the delivered geometry"
            assert inside(ink, section.position, scan_tolerance(section.font, px_per_pt)), (
                f"{family} {seed}: {section.text!r}: ink {ink} outside"
            )
            assert section.position[0] >= 0 and section.position[2] <= challenge.width
            assert section.position[1] >= 0 and section.position[3] <= challenge.height


@pytest.mark.parametrize("family", ["invoice", "letter", "receipt"])
@pytest.mark.parametrize("dpi", SCAN_DPI)
def test_ink_lies_inside_its_box_on_scans_at_both_ends_of_the_dpi_range(family: str, dpi: int) -> None:
    """At 150 and 300 dpi, in level 4's geometry, every string of every family keeps its ink in its box."""
    px_per_pt = dpi / POINTS_PER_INCH
    page = render_page(3, family, px_per_pt)
    height, width = page.raster.shape
    assert abs(width - 8.5 * dpi) <= 1 and abs(height - 11 * dpi) <= 1  # a US-letter scan at that dpi
    distortion = plan_distortion(difficulty(4), width, height, stream(3, GEOMETRY, 4))
    sections = labels(page.layout, distortion.matrix @ page.to_pixels)
    boxes = [section.position for section in sections]
    inks = isolated_ink(page.layout.texts, boxes, distortion.matrix, distortion.size, px_per_pt)
    for section, ink in zip(sections, inks, strict=True):
        assert ink is not None, f"{family} at {dpi} dpi: {section.text!r} drew no ink"
        assert inside(ink, section.position, scan_tolerance(section.font, px_per_pt)), (
            f"{family} at {dpi} dpi: {section.text!r}: ink {ink} outside {section.position}"
        )
