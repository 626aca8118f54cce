"""Canaries: a band of known synthetic text stitched above each organic page before it is forwarded.

The band is the top of a fresh invoice from the challenge generator (same fonts, styles and renderer),
drawn at the page's own width, so a miner sees one page and cannot tell organic from synthetic. The
band's labels are scored exactly like a challenge; its sections are then removed from the answer and
the rest shifted back into the user's page coordinates.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from PIL import Image

from ocr_subnet.challenge.generate import invoice_layout
from ocr_subnet.challenge.invoice import PAGE_WIDTH
from ocr_subnet.challenge.render import draw_pdf, labels, rasterize, to_pixels
from ocr_subnet.sections import Section

MIN_LABELS = 4  # a band with fewer known strings would say too little about a miner
MAX_BAND_FRACTION = 0.12  # of the invoice's height: the band is a header, not a second page
GAP_PX = 4  # white rows between the band and the user's page


@dataclass(frozen=True)
class Canary:
    image: Image.Image  # greyscale band, as wide as the page
    sections: tuple[Section, ...]  # its labels, in the band's pixels
    height: int  # rows the band (with its gap) adds above the page


def make_canary(seed: int, width: int) -> Canary:
    """The top of the seed's invoice, cut between two text lines, drawn `width` pixels wide."""
    layout = invoice_layout(seed)
    (raster,) = rasterize(draw_pdf([layout]), width / PAGE_WIDTH)
    known = sorted(labels(layout, to_pixels(raster)), key=lambda s: s.position[1])
    limit = raster.shape[0] * MAX_BAND_FRACTION
    cut, above = 0, 0  # the last clean cut between lines, and how many labels lie above it
    for index, section in enumerate(known):
        if section.position[3] > limit and above >= MIN_LABELS:
            break
        bottom = max(s.position[3] for s in known[: index + 1])
        following = known[index + 1].position[1] if index + 1 < len(known) else raster.shape[0]
        if following > bottom:  # no string straddles a cut here
            cut, above = int(min(raster.shape[0], (bottom + following) / 2)), index + 1
    kept = [s for s in known if s.position[3] <= cut]
    band = np.full((cut + GAP_PX, raster.shape[1]), 255, dtype=np.uint8)
    band[:cut] = raster[:cut]
    return Canary(Image.fromarray(band, "L"), tuple(kept), cut + GAP_PX)


def stitch(canary: Canary, page: Image.Image) -> Image.Image:
    """The band above the page, one greyscale image the width of both."""
    grey = page.convert("L")
    width = max(grey.width, canary.image.width)
    out = Image.new("L", (width, canary.height + grey.height), 255)
    out.paste(canary.image, (0, 0))
    out.paste(grey, (0, canary.height))
    return out


def encode_png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", optimize=False)
    return buffer.getvalue()


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
