"""Header bands: the top of a synthetic page, stitched above another page.

The gateway stitches one above every organic page it forwards (its canary); the validator stitches one
above a share of its challenges, the same way, so a band says nothing about where a page came from.
A band is the top of a page from the challenge generator, drawn at the width of the page below it and
cut between two text lines; its labels are known exactly. Pure: rasters and sections in, out.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ocr_subnet.challenge.corrupt import Raster
from ocr_subnet.challenge.invoice import PAGE_WIDTH, Layout
from ocr_subnet.challenge.render import draw_pdf, labels, rasterize, to_pixels
from ocr_subnet.sections import Section

MIN_LABELS = 4  # a band with fewer known strings would say too little about a miner
MAX_BAND_FRACTION = 0.12  # of the source page's height: the band is a header, not a second page
GAP_PX = 4  # white rows between the band and the page below
WHITE = 255


@dataclass(frozen=True)
class Band:
    raster: Raster  # greyscale, as wide as the page below, gap included
    sections: tuple[Section, ...]  # its labels, in the band's pixels

    @property
    def height(self) -> int:
        """Rows the band (with its gap) adds above the page."""
        return int(self.raster.shape[0])


def header_band(layout: Layout, width: int) -> Band:
    """The top of `layout`, cut between two text lines, drawn `width` pixels wide."""
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
    band = np.full((cut + GAP_PX, width), WHITE, dtype=np.uint8)
    drawn = raster[:cut, :width]
    band[:cut, : drawn.shape[1]] = drawn
    return Band(band, tuple(s for s in known if s.position[3] <= cut))


def stitch(band: Band, page: Raster) -> Raster:
    """The band above the page, one greyscale raster as wide as the wider of the two (white filled)."""
    width = max(page.shape[1], band.raster.shape[1])
    out = np.full((band.height + page.shape[0], width), WHITE, dtype=np.uint8)
    out[: band.height, : band.raster.shape[1]] = band.raster
    out[band.height :, : page.shape[1]] = page
    return out


def shift_down(sections: Sequence[Section], rows: int) -> tuple[Section, ...]:
    """Sections of the page below, in the stitched raster's pixels."""
    return tuple(
        s.model_copy(update={"position": (s.position[0], s.position[1] + rows, s.position[2], s.position[3] + rows)})
        for s in sections
    )
