"""Image preparation shared by training and inference, so both see exactly the same tensors.

Pages become the detector's canonical canvas; label or detected rectangles become recognizer
crops sampled along the string's own slope (a rotated line is read straight), contrast-normalized
per crop so a darkened border or a spot does not change what the recognizer sees.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
import torch
from PIL import Image
from torch.nn import functional as F

from ocr_subnet.model.geometry import (
    CROP_HEIGHT,
    CROP_PAD_X,
    CROP_PAD_Y,
    MAX_CROP_WIDTH,
    Canvas,
    canvas,
    crop_width,
    is_landscape,
    landscape_scale,
    quad_bounds,
    rect_corners,
)
from ocr_subnet.model.ruling import erase_rules

Raster = npt.NDArray[np.uint8]
MAX_RECOGNITION_WIDTH = 1600  # ~2.6 px/pt: larger pages are shrunk before cropping (crops are ~2.5 px/pt)
LINE_PX = 15.0  # a page is shrunk until its median text line is about this tall before crops are sampled
MAX_RECOGNITION_AREA = 2 * 1600 * 2070  # a landscape source's pixels at most: two portrait letter pages' worth
CONTRAST_FLOOR = 0.2  # a crop with less ink contrast than this is not stretched into noise
INK_QUANTILE = 0.98  # the crop's ink level: its darkest 2% may be specks


def ink(image: Raster) -> npt.NDArray[np.float32]:
    """uint8 grey (paper white) -> float32 ink in [0, 1] (paper 0), so zero padding is blank paper."""
    return 1.0 - np.asarray(image, dtype=np.float32) / 255.0


def resize(image: Raster, width: int, height: int) -> Raster:
    """Pillow's bilinear resize, which filters when it shrinks (no aliasing on huge pages)."""
    if image.shape == (height, width):
        return image
    return np.asarray(Image.fromarray(image).resize((width, height), Image.Resampling.BILINEAR))


def detector_batch(pages: Sequence[Raster], shrink: float = 1.0) -> tuple[torch.Tensor, list[Canvas]]:
    """Pages -> one (B, 1, H, W) canvas batch (each page resized, padded with paper to the largest) + geometry;
    canvases `shrink` times the canonical."""
    canvases = [canvas(page.shape[1], page.shape[0], shrink) for page in pages]
    height = max(c.padded_height for c in canvases)
    width = max(c.padded_width for c in canvases)
    batch = np.zeros((len(pages), 1, height, width), dtype=np.float32)
    for i, (page, c) in enumerate(zip(pages, canvases, strict=True)):
        batch[i, 0, : c.height, : c.width] = ink(resize(page, c.width, c.height))
    return torch.from_numpy(batch), canvases


def recognition_source(
    page: Raster, line_heights: npt.NDArray[np.float64], text_rects: npt.NDArray[np.float64]
) -> tuple[torch.Tensor, float]:
    """The page crops are sampled from, as an ink tensor, and its scale from the page. A page whose median text
    line (`line_heights`, in its pixels) is taller than LINE_PX is shrunk (antialiased) until it is not: the
    recognizer reads a 300-dpi page's lines best from a source where they are ~15 px, not from the sharp
    full-size render (real PDFs, measured). Never enlarged; a huge page shrinks to the size caps regardless. Ruling
    lines are erased from it (`ruling`), so no crop reads a table's rule as a letter; the strokes inside the page's
    strings (`text_rects`, RECT_FIELDS in its pixels) are never taken for rules."""
    height, width = page.shape
    if is_landscape(width, height):  # by its height, as its canvas is
        scale = min(1.0, landscape_scale(width, height, MAX_RECOGNITION_WIDTH, MAX_RECOGNITION_AREA))
    else:
        scale = min(1.0, MAX_RECOGNITION_WIDTH / max(width, 1))
    if len(line_heights):
        scale = min(scale, LINE_PX / max(float(np.median(line_heights)), 1.0))
    if scale < 1.0:
        page = resize(page, max(1, round(width * scale)), max(1, round(height * scale)))
    source = ink(page)
    if len(line_heights):
        boxes = quad_bounds(rect_corners(text_rects)) * scale
        source = erase_rules(source, float(np.median(line_heights)) * scale, boxes)
    return torch.from_numpy(source), scale


def normalize(crop: torch.Tensor) -> torch.Tensor:
    """Paper to 0 and the crop's darkest ink to ~1: the median is paper (text covers well under half a line).

    The median (torch's lower median) and the 98th percentile (linear) come from one partial sort:
    the same values as torch.median and torch.quantile, ~6x faster.
    """
    values = crop.flatten().numpy()
    last = values.size - 1
    middle, position = last // 2, INK_QUANTILE * last
    below = math.floor(position)
    above = min(below + 1, last)
    ordered = np.partition(values, [middle, below, above])
    paper = float(ordered[middle])
    top = float(ordered[below] + (position - below) * (ordered[above] - ordered[below]))
    return ((crop - paper) / max(top - paper, CONTRAST_FLOOR)).clamp(-1.0, 1.5)


def sample_crops(
    source: torch.Tensor, quads: npt.NDArray[np.float64], most: int = MAX_CROP_WIDTH
) -> list[torch.Tensor]:
    """(H, W) ink source + (n, 4, 2) crop quads (TL, TR, BR, BL in source pixels) -> n normalized crops.

    Each crop is CROP_HEIGHT tall and as wide as its quad's aspect ratio asks (`most` columns at most); pixels are
    sampled bilinearly on the quad's own axes, and anything outside the page reads as paper. (One small
    `grid_sample` per crop: measured faster than one call over all crops plus masked quantiles.)
    """
    if len(quads) == 0:
        return []
    height, width = source.shape
    image = source[None, None]
    t = (torch.arange(CROP_HEIGHT, dtype=torch.float32) + 0.5) / CROP_HEIGHT
    crops = []
    for quad, w in zip(torch.from_numpy(quads).float(), crop_width(quads, most=most).tolist(), strict=True):
        s = (torch.arange(w, dtype=torch.float32) + 0.5) / w
        top = quad[0] + (quad[1] - quad[0]) * s[:, None]  # (w, 2)
        bottom = quad[3] + (quad[2] - quad[3]) * s[:, None]
        points = top[None] + (bottom - top)[None] * t[:, None, None]  # (h, w, 2)
        grid = torch.stack([points[..., 0] * 2 / width - 1, points[..., 1] * 2 / height - 1], dim=-1)
        crop = F.grid_sample(image, grid[None], mode="bilinear", padding_mode="zeros", align_corners=False)
        crops.append(normalize(crop[0, 0]))
    return crops


def crop_quads(rects: npt.NDArray[np.float64], scale: float) -> npt.NDArray[np.float64]:
    """Rectangles (in image pixels) -> padded crop quads in the recognition source's pixels."""
    return rect_corners(rects, CROP_PAD_X, CROP_PAD_Y) * scale


def pad_batch(crops: Sequence[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    """Crops of one height and varied widths -> (B, 1, CROP_HEIGHT, max width rounded up to 4) and widths."""
    widths = torch.tensor([c.shape[1] for c in crops], dtype=torch.int64)
    batch = torch.zeros(len(crops), 1, CROP_HEIGHT, -(-int(widths.max()) // 4) * 4)
    for i, crop in enumerate(crops):
        batch[i, 0, :, : crop.shape[1]] = crop
    return batch, widths
