"""Ruling lines leave the recognizer's source (`ruling`); glyphs, bars and blank pages stay as they were."""

from __future__ import annotations

import numpy as np
from ocr_subnet.model.crops import recognition_source
from ocr_subnet.model.ruling import MIN_LINE_PX, erase_rules, rule_mask
from PIL import Image, ImageDraw, ImageFont

LINE = 15.0  # the text line height the pages below are drawn at, in pixels
FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"
NO_BOXES = np.zeros((0, 4))


def ruled_table() -> np.ndarray:
    """A 2 x 3 grid, 1-2 px rules, rows 1.75 lines tall, cell text 3 px from the rules, on light-grey paper."""
    image = Image.new("L", (400, 120), 235)
    draw = ImageDraw.Draw(image)
    font = ImageFont.truetype(FONT, 12)
    for y in (10, 36, 62):
        draw.line([(20, y), (380, y)], fill=20, width=1)
    for x in (20, 150, 260, 380):
        draw.line([(x, 10), (x, 62)], fill=20, width=2)
    for row, y in enumerate((14, 40)):
        for x, cell in zip((24, 154, 264), ("Il|lI", "[lint]", "ll ll"), strict=True):
            draw.text((x, y), f"{cell}{row}", fill=0, font=font)
    return np.asarray(image)


def ink(page: np.ndarray) -> np.ndarray:
    return 1.0 - page.astype(np.float32) / 255.0


def test_a_tables_grid_is_erased_and_its_cells_text_kept() -> None:
    page = ruled_table()
    mask = rule_mask(ink(page), LINE, paper=float(ink(page)[0, 0]))
    assert mask[10, 60:340].all() and mask[62, 60:340].all()  # horizontal rules, whole
    assert mask[15:58, 150].all() and mask[15:58, 380].all()  # vertical rules, between the horizontal ones
    erased = erase_rules(ink(page), LINE, NO_BOXES)
    text = page < 128
    text[:, [19, 20, 21, 149, 150, 151, 259, 260, 261, 379, 380, 381]] = False
    text[[9, 10, 11, 35, 36, 37, 61, 62, 63], :] = False
    assert np.array_equal(erased[text], ink(page)[text])  # every glyph's ink untouched: "|", "l", "I", "[", "]"
    assert erased[:, 150].max() < 0.1 and erased[36].max() < 0.1  # the rules are paper now
    assert np.allclose(erased[mask], ink(page)[0, 0])


def test_glyphs_bars_and_blank_pages_are_left_alone() -> None:
    image = Image.new("L", (300, 100), 255)
    draw = ImageDraw.Draw(image)
    draw.text((10, 10), "|l|I[]- lll", fill=0, font=ImageFont.truetype(FONT, 13))
    draw.rectangle([10, 50, 290, 80], fill=0)  # a dark band, white text on it
    draw.text((20, 55), "HEADER", fill=255, font=ImageFont.truetype(FONT, 13))
    source = ink(np.asarray(image))
    assert not rule_mask(source, LINE, paper=0.0).any()
    assert erase_rules(source, LINE, NO_BOXES) is source
    blank = np.zeros((50, 50), np.float32)
    assert erase_rules(blank, LINE, NO_BOXES) is blank


def test_a_headings_stems_inside_its_box_are_kept_and_a_rule_beside_it_is_not() -> None:
    """A 60-px "INVOICE" over 14.5-px body lines: its I and N stems are as long and thin as rules against the body's
    lines, but they end inside the heading's detected box; a rule through the box and beyond it is still erased."""
    image = Image.new("L", (400, 160), 255)
    draw = ImageDraw.Draw(image)
    draw.text(
        (20, 20),
        "INVOICE",
        fill=0,
        font=ImageFont.truetype("/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf", 60),
    )
    draw.line([(380, 5), (380, 155)], fill=0, width=1)
    source = ink(np.asarray(image))
    heading = np.array([[18.0, 22.0, 260.0, 82.0]])
    assert rule_mask(source, 14.5, paper=0.0)[35:75, 20:40].any()  # the I's stem has a rule's shape
    erased = erase_rules(source, 14.5, heading)
    assert np.array_equal(erased[:, :300], source[:, :300])  # every stroke of the heading kept
    assert erased[:, 380].max() < 0.1  # the rule erased
    wide = np.array([[18.0, 22.0, 390.0, 82.0]])  # a box the rule crosses, running on above and below it
    assert erase_rules(source, 14.5, wide)[:, 380].max() < 0.1


def test_small_print_is_left_as_it_is() -> None:
    """Under MIN_LINE_PX a blurred text line is itself a thin streak: the challenge's 1-px/pt pages stay as drawn."""
    source = ink(ruled_table())
    assert erase_rules(source, MIN_LINE_PX - 0.5, NO_BOXES) is source
    assert erase_rules(source, MIN_LINE_PX, NO_BOXES) is not source


def test_the_recognition_source_has_no_rules() -> None:
    """Training and inference both cut crops from `recognition_source`, so both see the grid gone."""
    source, scale = recognition_source(ruled_table(), np.array([LINE, LINE, LINE]), np.zeros((0, 6)))
    assert scale == 1.0
    assert float(source[15:58, 150].max()) < 0.1
    assert float(source[14:30, 24:60].max()) > 0.8  # the first cell's text is still there
