"""Pure geometry of the model: label quads, detector targets, text boxes from detector maps, crop quads.

Three coordinate frames: the delivered image (pixels, what sections are in), the canonical page
the detector sees (the image resized to `CANONICAL_WIDTH`), and the detector's map (canonical / `STRIDE`).
A drawn string is an oriented rectangle: its label box (DESIGN.md: advance wide, baseline - 0.2 size
to baseline + 0.8 size) carried through the page's rotation and perspective. The detector predicts a
kernel (that rectangle shrunk by `SHRINK_X`/`SHRINK_Y` font sizes per side, so neighbours stay
apart) and, at every kernel cell, the vertical distances to the rectangle's top and bottom edges;
decoding fits the two edges per kernel and grows the kernel back, which recovers the label box
rather than the ink.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from reportlab.lib.pagesizes import letter
from scipy import ndimage

from ocr_subnet.challenge.geometry import Box, Matrix, apply

Array = npt.NDArray[np.float64]

PAGE_WIDTH_PT, PAGE_HEIGHT_PT = letter
STRIDE = 2  # detector map cell, in canonical pixels
SHRINK_X, SHRINK_Y = 0.1, 0.25  # kernel = label box minus this many font sizes per side
CANONICAL_WIDTH = 640  # ~1 px per point for a letter page: 8 pt text is still 8 px tall
MAX_CANONICAL_HEIGHT = 960  # tall images shrink further so the detector's cost stays bounded
MAX_LANDSCAPE_AREA = 2 * CANONICAL_WIDTH * MAX_CANONICAL_HEIGHT  # canvas pixels of a landscape image, at most
MAX_CANVAS_SIDE = 4 * CANONICAL_WIDTH
MAX_LANDSCAPE_ASPECT = 3.0  # width / height of the widest image still read as a landscape page
ALIGN = 16  # the detector's total downsampling
CROP_HEIGHT = 32  # recognizer input height, covering the label box plus CROP_PAD_Y on each side
CROP_PAD_Y, CROP_PAD_X = 0.125, 0.25  # in label-box heights
# Crops keep their aspect ratio up to 4096 columns (128 heights): a full line of a manual's prose is 1,000-1,300, and
# squeezing it into 1,024 ran words and sentences together (spaces lost, periods read as commas, a line's last "I"
# dropped); only absurd boxes are capped.
MIN_CROP_WIDTH, MAX_CROP_WIDTH = 8, 4096
RECT_FIELDS = ("cx", "cy", "length", "height", "slope", "score")
POOL_TOLERANCE = 0.08  # relative height difference still taken for the page's body size


@dataclass(frozen=True)
class Canvas:
    """How an image of `width` x `height` is resized (by `scale`) and padded for the detector."""

    scale: float
    width: int  # resized, before padding
    height: int
    padded_width: int
    padded_height: int


@dataclass(frozen=True)
class Calibration:
    """Decoding knobs fitted on validation pages after training (stored in the weights manifest)."""

    threshold: float = 0.5  # kernel probability
    min_cells: int = 2  # smaller components are noise
    extend_x: float = 0.0  # extra growth of each end, in box heights, on top of SHRINK_X
    height_gain: float = 1.0  # predicted box heights are scaled by this
    size_gain: float = 1.0  # point sizes are box height * size_gain / px per point
    snap_size: bool = True  # round point sizes to whole points (the generator draws whole sizes)
    pool_sizes: bool = False  # sizes near the page's median size take that median (one body size per page)
    family_prior: float = 0.0  # weight of the page's own family distribution against each string's
    lexicon_penalty: float = 0.0  # nats an out-of-vocabulary word pays (`correction.Corrector`); 0: no word correction
    language_weight: float = 0.0  # weight of the language model's log-probability (`correction`); 0: unused


def is_landscape(width: int, height: int) -> bool:
    """Whether an image is a landscape page (wider than tall, up to `MAX_LANDSCAPE_ASPECT`), not a strip of lines."""
    return height < width <= MAX_LANDSCAPE_ASPECT * height


def page_width(width: int, height: int) -> int:
    """The image side a page's 612 pt span: a portrait page's (or a strip's) width, a landscape page's height."""
    return height if is_landscape(width, height) else width


def landscape_scale(width: int, height: int, side: float, area: float) -> float:
    """The scale that takes a landscape page's height to `side` pixels, as a portrait page's width is taken, within
    `area` pixels in all (the canvas and the recognition source share this rule, each with its own sizes)."""
    return min(side / height, math.sqrt(area / (width * height)))


def canvas(width: int, height: int, shrink: float = 1.0) -> Canvas:
    """Resize to `CANONICAL_WIDTH` (shrinking tall images further), then by `shrink`; pad to a multiple of `ALIGN`.

    The canonical width assumes a portrait page. A landscape page (a page turned, a two-page spread, a screenshot: up
    to `MAX_LANDSCAPE_ASPECT` times as wide as tall) is scaled by its height instead, within `MAX_LANDSCAPE_AREA` and
    `MAX_CANVAS_SIDE`: scaled by its width, a spread's 11 px text became 6 px and half of it went unread. A wider strip
    is a few lines cut from a page, whose width still spans the page."""
    if not is_landscape(width, height):
        scale = min(CANONICAL_WIDTH / max(width, 1), MAX_CANONICAL_HEIGHT / max(height, 1))
    else:
        scale = min(landscape_scale(width, height, CANONICAL_WIDTH, MAX_LANDSCAPE_AREA), MAX_CANVAS_SIDE / width)
    scale *= shrink
    w, h = max(1, round(width * scale)), max(1, round(height * scale))
    return Canvas(scale, w, h, -(-w // ALIGN) * ALIGN, -(-h // ALIGN) * ALIGN)


def label_quad(box: Box, matrix: Matrix) -> Array:
    """A label box in PDF points (y up) mapped to pixels: corners top-left, top-right, bottom-right, bottom-left."""
    x0, y0, x1, y1 = box
    return apply(matrix, [(x0, y1), (x1, y1), (x1, y0), (x0, y0)])


def kernel_quads(quads: Array, shrink_x: float = SHRINK_X, shrink_y: float = SHRINK_Y) -> Array:
    """Label rectangles (n, 4, 2) shrunk inside themselves: `shrink_y` box heights off the top and bottom,
    `shrink_x` off each end (at most 40% of the length, so a one-digit string keeps a sliver)."""
    tl, tr, br, bl = (quads[:, i] for i in range(4))
    height = (np.linalg.norm(bl - tl, axis=1) + np.linalg.norm(br - tr, axis=1)) / 2
    length = (np.linalg.norm(tr - tl, axis=1) + np.linalg.norm(br - bl, axis=1)) / 2
    ax = np.minimum(shrink_x * height / np.maximum(length, 1e-6), 0.4)[:, None]
    ay = shrink_y

    def at(s: Array | float, t: float) -> Array:
        top = tl + (tr - tl) * s
        bottom = bl + (br - bl) * s
        return top + (bottom - top) * t

    return np.stack([at(ax, ay), at(1 - ax, ay), at(1 - ax, 1 - ay), at(ax, 1 - ay)], axis=1)


def quad_rects(quads: Array) -> Array:
    """Label rectangles (n, 4, 2) -> (n, 6) RECT_FIELDS (score 1): the inverse of `rect_corners`."""
    tl, tr, br, bl = (quads[:, i] for i in range(4))
    centre = quads.mean(axis=1)
    along = (tr - tl + br - bl) / 2
    slope = along[:, 1] / np.where(np.abs(along[:, 0]) > 1e-9, along[:, 0], 1e-9)
    length = np.linalg.norm(along, axis=1)
    height = np.linalg.norm((bl - tl + br - tr) / 2, axis=1)
    return np.stack([centre[:, 0], centre[:, 1], length, height, slope, np.ones(len(quads))], axis=1)


def edge_at(start: Array, end: Array, x: Array) -> Array:
    """The y of the line through `start` and `end` (each (n, 2)) at abscissas `x` (n,)."""
    run = end[:, 0] - start[:, 0]
    slope = np.divide(end[:, 1] - start[:, 1], run, out=np.zeros_like(run), where=np.abs(run) > 1e-9)
    return start[:, 1] + (x - start[:, 0]) * slope


def rect_corners(rects: Array, pad_x: float = 0.0, pad_y: float = 0.0) -> Array:
    """(n, 6) rectangles (RECT_FIELDS) -> (n, 4, 2) corners TL, TR, BR, BL, each side grown by pad * height."""
    cx, cy, length, height, slope = (rects[:, i] for i in range(5))
    norm = np.sqrt(1.0 + slope * slope)
    along = np.stack([1.0 / norm, slope / norm], axis=1)
    across = np.stack([-slope / norm, 1.0 / norm], axis=1)
    half_l = ((length / 2 + pad_x * height)[:, None]) * along
    half_h = ((height / 2 + pad_y * height)[:, None]) * across
    centre = np.stack([cx, cy], axis=1)
    return np.stack(
        [centre - half_l - half_h, centre + half_l - half_h, centre + half_l + half_h, centre - half_l + half_h], 1
    )


def quad_bounds(quads: Array) -> Array:
    """(n, 4, 2) corners -> (n, 4) axis-aligned boxes x0, y0, x1, y1: the label rule for a rotated string."""
    return np.concatenate([quads.min(axis=1), quads.max(axis=1)], axis=1)


def weighted_median(values: Array, weights: Array) -> float:
    if values.size == 0 or weights.sum() <= 0:
        return 0.0
    order = np.argsort(values)
    cumulative = np.cumsum(weights[order])
    return float(values[order][np.searchsorted(cumulative, cumulative[-1] / 2)])


def decode_maps(prob: Array, top: Array, bottom: Array, calibration: Calibration, stride: int = STRIDE) -> Array:
    """Detector maps -> (n, 6) oriented rectangles (RECT_FIELDS) in canonical pixels.

    Each kernel component votes, cell by cell, for its string's top and bottom edges; one slope per
    string (shrunk toward the page's slope, so a short string cannot tilt on its own) and two
    intercepts fit those votes, and the component's horizontal extent, grown back by the shrink,
    gives the length.
    """
    labels, count = ndimage.label(prob > calibration.threshold, structure=np.ones((3, 3)))
    if count == 0:
        return np.zeros((0, len(RECT_FIELDS)))
    rows, cols = np.nonzero(labels)
    k = labels[rows, cols] - 1
    w = prob[rows, cols].astype(np.float64)
    x = stride * (cols + 0.5)
    y = stride * (rows + 0.5)
    t = y - top[rows, cols]
    b = y + bottom[rows, cols]
    m = (t + b) / 2

    def total(values: Array) -> Array:
        return np.bincount(k, weights=w * values, minlength=count)

    mass = total(np.ones_like(w))
    cells = np.bincount(k, minlength=count)
    dx = x - (total(x) / mass)[k]
    dm = m - (total(m) / mass)[k]
    sxx, sxm = total(dx * dx), total(dx * dm)
    fitted = sxx > 0
    page_slope = weighted_median(sxm[fitted] / sxx[fitted], sxx[fitted])
    prior = mass * (4.0 * stride) ** 2
    slope = (sxm + prior * page_slope) / (sxx + prior)
    top_at0 = total(t - slope[k] * x) / mass
    bottom_at0 = total(b - slope[k] * x) / mass
    cos = 1.0 / np.sqrt(1.0 + slope * slope)
    height = np.maximum((bottom_at0 - top_at0) * cos * calibration.height_gain, 1.0)
    x_lo, x_hi = component_ends(prob, labels, calibration.threshold, stride)
    grow = (SHRINK_X + calibration.extend_x) * height / cos
    x_lo, x_hi = x_lo - grow, x_hi + grow
    cx = (x_lo + x_hi) / 2
    cy = (top_at0 + bottom_at0) / 2 + slope * cx
    score = mass / np.maximum(cells, 1)
    rects = np.stack([cx, cy, (x_hi - x_lo) * cos, height, slope, score], axis=1)
    return rects[cells >= calibration.min_cells]


def component_ends(prob: Array, labels: Array, threshold: float, stride: int) -> tuple[Array, Array]:
    """Each component's left and right ends: where the probability crosses the threshold between its end cells'
    centres and the cells just outside, interpolated. Whole cells would move an end by a stride when one cell's
    probability wobbles across the threshold (bfloat16 against float32, a pixel of noise); this moves it by as much
    as the probability moved."""
    padded = np.pad(prob, ((0, 0), (1, 1)))  # a cell beyond the map's edge reads 0
    ends = np.zeros((labels.max(initial=0), 2))
    for i, (rows, cols) in enumerate(ndimage.find_objects(labels)):
        mine = labels[rows, cols] == i + 1
        for side, (col, step) in enumerate(((cols.start, -1), (cols.stop - 1, 1))):
            present = mine[:, col - cols.start]
            p_in = float(prob[rows, col][present].max())
            p_out = min(float(padded[rows, col + 1 + step][present].max()), threshold)
            reach = (p_in - threshold) / max(p_in - p_out, 1e-6)  # from the end cell's centre outwards, in cells
            ends[i, side] = col + 0.5 + step * reach
    return ends[:, 0] * stride, ends[:, 1] * stride


def page_slope(rects: Array) -> float:
    """The page's text slope: the median of its strings' slopes, long strings counting more."""
    return weighted_median(rects[:, 4], rects[:, 2]) if len(rects) else 0.0


def px_per_point(width: float, slope: float) -> float:
    """Image pixels per PDF point, assuming the image frames a rotated US-letter page (as challenges do).

    A page rotated by angle a is framed by width = ppp * (612 cos a + 792 |sin a|).
    """
    angle = math.atan(slope)
    return width / (PAGE_WIDTH_PT * math.cos(angle) + PAGE_HEIGHT_PT * abs(math.sin(angle)))


def point_size(height_px: Array, ppp: float, snap: bool) -> Array:
    """Font sizes in points from label-box heights in image pixels (the box is exactly one size tall)."""
    size = np.clip(height_px / max(ppp, 1e-6), 1.0, 200.0)
    return np.round(size) if snap else np.round(size, 1)


def font_sizes(rects: Array, width: int, calibration: Calibration) -> Array:
    """Point sizes of a page's rectangles (image pixels), its px per point estimated from its width and slope.

    With `pool_sizes`, heights within POOL_TOLERANCE of the page's median height are replaced by that
    median: an invoice sets most strings in one body size, and the median of dozens of boxes is far
    steadier than any single box.
    """
    heights = rects[:, 3] * calibration.size_gain
    if calibration.pool_sizes and len(heights):
        typical = float(np.median(heights))
        heights = np.where(np.abs(heights - typical) <= POOL_TOLERANCE * typical, typical, heights)
    return point_size(heights, px_per_point(width, page_slope(rects)), calibration.snap_size)


def page_families(probs: Array, prior: float) -> npt.NDArray[np.int64]:
    """Each string's family from its own probabilities times the page's mean probabilities ** `prior`.

    A page draws only a few families (body, labels, heading), so a string the font head is unsure of
    (a lone digit) leans to the families the page's clearer strings show.
    """
    if not len(probs):
        return np.zeros(0, dtype=np.int64)
    page = probs.mean(axis=0)
    return np.argmax(np.log(probs + 1e-9) + prior * np.log(page + 1e-9), axis=1)


def crop_width(quads: Array, height: int = CROP_HEIGHT, most: int = MAX_CROP_WIDTH) -> npt.NDArray[np.int64]:
    """Recognizer input width of each crop quad: its aspect ratio at the fixed height, `most` columns at most."""
    length = np.linalg.norm(quads[:, 1] - quads[:, 0], axis=1)
    tall = np.linalg.norm(quads[:, 3] - quads[:, 0], axis=1)
    width = np.round(height * length / np.maximum(tall, 1e-6))
    return np.clip(width, MIN_CROP_WIDTH, most).astype(np.int64)
