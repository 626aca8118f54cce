"""Detector training targets from label rectangles: the kernel mask and the edge distances around it."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from PIL import Image, ImageDraw

from ocr_subnet.model.geometry import STRIDE, edge_at, kernel_quads

Map = npt.NDArray[np.float32]


def rasterize_owners(quads: npt.NDArray[np.float64], height: int, width: int) -> npt.NDArray[np.int64]:
    """Map of which quad (1-based; 0 = none) covers each cell; later quads win where they overlap."""
    index = Image.new("I", (width, height), 0)
    draw = ImageDraw.Draw(index)
    for i, quad in enumerate(quads.tolist()):
        draw.polygon([tuple(p) for p in quad], fill=i + 1)
    return np.asarray(index, dtype=np.int64)


def detector_targets(
    quads: npt.NDArray[np.float64], height: int, width: int, stride: int = STRIDE
) -> tuple[Map, Map, Map]:
    """Label rectangles (n, 4, 2) in canvas pixels -> kernel mask, top and bottom distances, each (height, width).

    Map cell (row, col) stands for canvas point (stride * (col + 0.5), stride * (row + 0.5)). Inside
    a label rectangle (a little wider than its kernel, so cells at a detected kernel's rim are
    trained too) the distances say how far up the string's top edge and how far down its bottom
    edge lie, in canvas pixels; elsewhere they are 0 and unused (the loss masks them by `top > 0`
    or `bottom > 0`, which holds at every inside cell).
    """
    if not len(quads):
        empty = np.zeros((height, width), dtype=np.float32)
        return empty, empty.copy(), empty.copy()
    kernel = (rasterize_owners(kernel_quads(quads) / stride, height, width) > 0).astype(np.float32)
    owner = rasterize_owners(quads / stride, height, width)
    top = np.zeros((height, width), dtype=np.float32)
    bottom = np.zeros((height, width), dtype=np.float32)
    rows, cols = np.nonzero(owner)
    which = owner[rows, cols] - 1
    x = stride * (cols + 0.5)
    y = stride * (rows + 0.5)
    top[rows, cols] = np.maximum(y - edge_at(quads[which, 0], quads[which, 1], x), 1e-3)
    bottom[rows, cols] = np.maximum(edge_at(quads[which, 3], quads[which, 2], x) - y, 1e-3)
    return kernel, top, bottom
