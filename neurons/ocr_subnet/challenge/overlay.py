"""Label boxes drawn over a challenge image, for eyes (docs, debugging), never for miners."""

from __future__ import annotations

import io
from collections.abc import Iterable

from PIL import Image, ImageDraw

from ocr_subnet.sections import Section


def draw_overlay(image: bytes, sections: Iterable[Section], color: str = "red") -> Image.Image:
    """The image in colour with each section's box outlined."""
    canvas = Image.open(io.BytesIO(image)).convert("RGB")
    pen = ImageDraw.Draw(canvas)
    for section in sections:
        pen.rectangle(section.position, outline=color)
    return canvas
