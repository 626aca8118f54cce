"""White text on a dark band turned dark on light before the page is read: an invoice's title bar, a table's
shaded header row, a slide's banner.

The networks learned dark text on light paper, and `orientation.light_paper` turns a page whose whole ground is dark;
a band on a light page was read as junk ("INVOICE No. 2024-0193" on a dark bar read "[DE'o Est", where tesseract
reads it). A band is a connected region of dark pixels, mostly solid (`MIN_FILL` of its bounding box), that holds
light islands, its letters (`MIN_HOLES` at least, one of them with a counter of its own): a glyph, however large and
bold, has two holes at most, glyphs run together by blur have plain holes, and a table's grid is nowhere near solid.
A scan's dark border, speckled with noise, reaches the page's edge and is left as it is. A band's pixels, islands
included, are inverted; nothing moves, so every box the reading finds is where the page has it.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt
from scipy import ndimage

from ocr_subnet.model.geometry import PAGE_WIDTH_PT, page_width
from ocr_subnet.model.orientation import sparse_grid

Page = npt.NDArray[np.uint8]
Component = tuple[int, tuple[slice, slice]]  # a label and its bounding box

MIN_FILL = 0.5  # dark share of a band's bounding box (white text covers well under half a bar)
MIN_HOLES = 3  # light islands inside it: letters, where "B", "8" or "%" has two at most
# Sizes in points (px at 1 px/pt), scaled by the page's density (`px_per_point`), so a 300-dpi page's bold body
# glyphs (36 x 32 px) are not each traced as a candidate band, as they were when these were pixels (0.2 s a page).
MIN_HOLE_AREA = 12.0  # pt^2: an island smaller than this is a speck of a scan's noise, not a letter
MIN_SIDE = 8.0  # pt: a band is at least this tall and wide (smaller dark blobs are glyphs or specks)
MIN_AREA = 300.0  # dark pt^2: a band holding three letters is larger than any glyph of body text
SEARCH_PIXELS = 500_000  # a page is searched for bands on a grid of about this size (every other pixel at least)
SAMPLE = 20_000  # pixels of the sparse grid the page's dark threshold is read from
INK_PERCENTILE = 1.0  # the page's ink level: its darkest 1% of pixels


def dark_threshold(page: Page) -> float:
    """Midway between the page's paper (its median) and its ink (its darkest percentile), on a sparse grid."""
    ink, paper = np.percentile(sparse_grid(page, SAMPLE), [INK_PERCENTILE, 50.0])
    return float(ink + paper) / 2.0


def px_per_point(page: Page) -> float:
    """The page's density, taking its shorter side for a letter page's 612 pt (as the detector's canvas does)."""
    return page_width(page.shape[1], page.shape[0]) / PAGE_WIDTH_PT


def large_and_solid(
    dark: npt.NDArray[np.bool_], density: float, factor: int = 1
) -> tuple[npt.NDArray[np.int32], list[Component]]:
    """`dark`'s component labels, and the components (label, box) that could be bands on a page of `density` px/pt,
    `factor` times `dark`'s size: MIN_AREA dark, MIN_SIDE each way and MIN_FILL solid."""
    labels, count = ndimage.label(dark)
    sizes = np.bincount(labels.ravel(), minlength=count + 1)
    boxes = ndimage.find_objects(labels)
    picked = []
    for index in np.flatnonzero(sizes[1:] * factor * factor >= MIN_AREA * density**2) + 1:
        box = boxes[index - 1]
        height, width = box[0].stop - box[0].start, box[1].stop - box[1].start
        if min(height, width) * factor >= MIN_SIDE * density and sizes[index] >= MIN_FILL * height * width:
            picked.append((int(index), box))
    return labels, picked


def band_mask(page: Page) -> npt.NDArray[np.bool_]:
    """The pixels of the page's dark bands, their light islands included. Bands are sought on a sparse grid of at most
    `SEARCH_PIXELS` (a band is large; the page's glyphs are thousands of components a full-size pass would label),
    and each one found there is traced at full size inside its box, so its edge is exact."""
    dark = page < dark_threshold(page)
    density = px_per_point(page)
    factor = max(2, math.isqrt(page.size // SEARCH_PIXELS))
    _, coarse = large_and_solid(dark[::factor, ::factor], density, factor)
    windows = [tuple(slice(max(0, (s.start - 1) * factor), (s.stop + 1) * factor) for s in box) for _, box in coarse]
    mask = np.zeros(page.shape, dtype=bool)
    for window in windows:
        labels, picked = large_and_solid(dark[window], density)
        for index, box in picked:
            if touches_edge(page.shape, window, box):
                continue
            region = labels[box] == index
            solid = ndimage.binary_fill_holes(region)
            if holds_letters(solid & ~dark[window][box], MIN_HOLE_AREA * density**2):
                mask[window][box] |= solid
    return mask


def holds_letters(light: npt.NDArray[np.bool_], least: float) -> bool:
    """Whether the light pixels inside a dark region are white letters: MIN_HOLES islands of at least `least` px,
    one with a dark counter of its own ("O", "e", "4"). The counters of dark glyphs run together by a scan's blur
    ("88", "pe" in bold) are islands too, but plain ones: nothing dark sits inside them."""
    islands, count = ndimage.label(light)
    areas = np.bincount(islands.ravel(), minlength=count + 1)[1:]
    if np.count_nonzero(areas >= least) < MIN_HOLES:
        return False
    counters, found = ndimage.label(ndimage.binary_fill_holes(light) & ~light)
    return bool(found) and bool((np.bincount(counters.ravel())[1:] >= least).any())


def touches_edge(shape: tuple[int, ...], window: tuple[slice, slice], box: tuple[slice, slice]) -> bool:
    """Whether a component (`box` inside `window`) reaches the page's edge: a scan's dark border does, and its noise
    leaves light specks in it, where a printed band sits on the paper."""
    top, left = (window[0].start or 0) + box[0].start, (window[1].start or 0) + box[1].start
    bottom, right = (window[0].start or 0) + box[0].stop, (window[1].start or 0) + box[1].stop
    return top == 0 or left == 0 or bottom >= shape[0] or right >= shape[1]


def light_bands(page: Page) -> Page:
    """The page with its dark bands inverted (white text on them now dark on light); the page itself if it has none."""
    mask = band_mask(page)
    if not mask.any():
        return page
    turned = page.copy()
    turned[mask] = 255 - page[mask]
    return turned
