"""Canaries: a header band of known synthetic text stitched above each organic page before it is forwarded.

The band (`challenge.band`) is the top of a fresh invoice from the challenge generator, drawn at the
page's width; the validator stitches the same kind of band above a share of its challenges, so a band
does not mark a page as organic. The band's labels are scored exactly like a challenge; its sections
are then removed from the answer and the rest shifted back into the user's page coordinates. The
page goes out in the image format of the validator's difficulty level, as its challenges do.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from PIL import Image

from ocr_subnet.challenge import band, corrupt, levels
from ocr_subnet.challenge.band import Band
from ocr_subnet.challenge.generate import invoice_layout
from ocr_subnet.sections import Section

Canary = Band


def make_canary(seed: int, width: int) -> Canary:
    """The top of the seed's invoice, cut between two text lines, drawn `width` pixels wide."""
    return band.header_band(invoice_layout(seed), width)


def stitch(canary: Canary, page: Image.Image) -> Image.Image:
    """The band above the page, one greyscale image the width of both."""
    return Image.fromarray(band.stitch(canary, np.asarray(page.convert("L"))), "L")


def encode_like_challenge(image: Image.Image, difficulty: int) -> bytes:
    """The bytes a challenge of `difficulty` would carry: its format and JPEG quality."""
    return corrupt.encode(np.asarray(image.convert("L")), levels.difficulty(difficulty).jpeg_quality)


def split_answer(canary: Canary, sections: Sequence[Section]) -> tuple[list[Section], list[Section]]:
    """(the band's part, the user's part shifted back by the band's height): a section belongs to the
    band when its vertical centre lies in it."""
    in_band: list[Section] = []
    user: list[Section] = []
    for section in sections:
        x0, y0, x1, y1 = section.position
        if (y0 + y1) / 2 < canary.height:
            in_band.append(section)
            continue
        shifted = (x0, max(0.0, y0 - canary.height), x1, y1 - canary.height)
        if shifted[1] < shifted[3]:
            user.append(section.model_copy(update={"position": shifted}))
    return in_band, user
