"""White text on dark bands is turned dark on light (`bands`); glyphs, grids, blobs and plain pages are left alone."""

from __future__ import annotations

import numpy as np
from ocr_subnet.model.bands import band_mask, light_bands
from PIL import Image, ImageDraw, ImageFont

BOLD = "/usr/share/fonts/truetype/liberation/LiberationSans-Bold.ttf"
REGULAR = "/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf"
BAR = (40, 40, 572, 80)  # x0, y0, x1, y1 of the title bar


def invoice(scale: int = 1) -> Image.Image:
    """A letter page: a dark title bar with white text, body lines below, a shaded (light) row."""
    image = Image.new("L", (612 * scale, 792 * scale), 255)
    draw = ImageDraw.Draw(image)
    draw.rectangle([v * scale for v in BAR], fill=40)
    draw.text((50 * scale, 48 * scale), "INVOICE No. 2024-0193", fill=255, font=ImageFont.truetype(BOLD, 22 * scale))
    draw.rectangle([40 * scale, 127 * scale, 572 * scale, 146 * scale], fill=215)
    body = ImageFont.truetype(REGULAR, 11 * scale)
    draw.text((50 * scale, 100 * scale), "Billed to: Northwind Traders, 12 Harbour Road", fill=0, font=body)
    draw.text((50 * scale, 130 * scale), "Widget A   2   $19.99", fill=0, font=body)
    return image


def test_a_dark_bar_is_inverted_and_nothing_else_moves() -> None:
    for scale in (1, 3):  # a 1-px/pt page is searched as it is, a 300-dpi one on a sparse grid, then traced exactly
        page = np.asarray(invoice(scale))
        mask = band_mask(page)
        x0, y0, x1, y1 = (v * scale for v in BAR)
        assert mask[y0 : y1 + 1, x0 : x1 + 1].all()  # the whole bar, its letters included
        assert not mask[: y0 - 1].any() and not mask[y1 + 2 :].any() and not mask[:, x1 + 2 :].any()
        turned = light_bands(page)
        assert np.array_equal(turned[~mask], page[~mask])
        assert turned[y0 + 2 * scale, x0 + 2 * scale] == 255 - 40  # the bar's ground is light now
        assert turned[y0:y1, x0:x1].min() == 0  # and its letters dark


def test_large_glyphs_grids_blobs_and_plain_pages_are_left_alone() -> None:
    image = Image.new("L", (900, 700), 255)
    draw = ImageDraw.Draw(image)
    draw.text((20, 10), "B8%g", fill=0, font=ImageFont.truetype(BOLD, 200))  # two holes at most per glyph
    for x in range(20, 420, 80):  # a ruled grid: a hundred holes, but far from solid
        draw.line([(x, 300), (x, 660)], fill=0, width=2)
    for y in range(300, 661, 60):
        draw.line([(20, y), (340, y)], fill=0, width=2)
    draw.rectangle([500, 300, 800, 600], fill=30)  # a solid blob (a photo's shadow) without letters
    page = np.asarray(image)
    assert not band_mask(page).any()
    assert light_bands(page) is page
    blank = np.full((100, 100), 255, np.uint8)
    assert light_bands(blank) is blank


def test_the_pipeline_reads_white_text_on_a_dark_bar() -> None:
    from ocr_subnet.model.pipeline import OcrPipeline
    from ocr_subnet.sections import plain_text

    text = plain_text(OcrPipeline.load()([np.asarray(invoice(2))])[0])
    assert "INVOICE No. 2024-0193" in text
    assert "Northwind Traders" in text
