"""Heading pages: a heading far larger than body text over two lines of 11 px body text on a 1 px/pt letter page,
the title-slide case our detector reads on its coarse canvases (`model/scales.py`). Shared by the shipped-weights
test and `benchmarks/bench_headings.py`, so both read the same pages."""

from __future__ import annotations

from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

TRUETYPE = Path("/usr/share/fonts/truetype")
DEJAVU_SERIF = TRUETYPE / "dejavu/DejaVuSerif.ttf"
BODY = ("The quick brown fox jumps over the lazy dog again.", "Pack my box with five dozen liquor jugs today.")
PAGE = (612, 792)  # a letter page at 1 px/pt
LEFT, TOP, LEADING, BODY_PX = 40, 60, 16, 11


def heading_width(heading: str, size: int, face: Path) -> float:
    """The heading's drawn width in px, to leave out headings wider than the page."""
    return ImageDraw.Draw(Image.new("L", (1, 1))).textlength(heading, font=ImageFont.truetype(str(face), size))


def heading_page(heading: str, size: int, face: Path = DEJAVU_SERIF, body_face: Path = DEJAVU_SERIF) -> Image.Image:
    """`heading` at `size` px in `face`, then `BODY` in `body_face` starting 1.6 heading sizes below its top."""
    image = Image.new("L", PAGE, 255)
    draw = ImageDraw.Draw(image)
    draw.text((LEFT, TOP), heading, font=ImageFont.truetype(str(face), size), fill=0)
    body = ImageFont.truetype(str(body_face), BODY_PX)
    for k, line in enumerate(BODY):
        draw.text((LEFT, TOP + int(size * 1.6) + LEADING * k), line, font=body, fill=0)
    return image
