"""Plane geometry of a challenge: 3x3 homogeneous matrices and what they do to label boxes.

One matrix describes every geometric step (rescale, perspective, rotation, framing) from the
clean page raster to the delivered image. The image warp and the label boxes both use that one
matrix, so the labels cannot drift from the pixels. Coordinates are continuous pixel
coordinates, origin top-left, y down: pixel (i, j) covers [i, i+1) x [j, j+1), which is the
convention of both pdfium and Pillow's `Image.transform`.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

Matrix = npt.NDArray[np.float64]
Box = tuple[float, float, float, float]

# The tutorial's label rule, in units of the font size around the baseline.
DESCENT = 0.2
ASCENT = 0.8


def identity() -> Matrix:
    return np.eye(3)


def translation(tx: float, ty: float) -> Matrix:
    return np.array([[1.0, 0.0, tx], [0.0, 1.0, ty], [0.0, 0.0, 1.0]])


def scaling(sx: float, sy: float | None = None) -> Matrix:
    return np.diag([sx, sx if sy is None else sy, 1.0])


def rotation(degrees: float) -> Matrix:
    """Rotation about the origin that looks counter-clockwise on screen (y down), like Pillow's."""
    t = math.radians(degrees)
    c, s = math.cos(t), math.sin(t)
    return np.array([[c, s, 0.0], [-s, c, 0.0], [0.0, 0.0, 1.0]])


def homography(src: npt.ArrayLike, dst: npt.ArrayLike) -> Matrix:
    """The projective map taking four source points onto four destination points."""
    src_pts = np.asarray(src, dtype=np.float64).reshape(4, 2)
    dst_pts = np.asarray(dst, dtype=np.float64).reshape(4, 2)
    rows = []
    rhs = []
    for (x, y), (u, v) in zip(src_pts, dst_pts, strict=True):
        rows.append([x, y, 1.0, 0.0, 0.0, 0.0, -u * x, -u * y])
        rows.append([0.0, 0.0, 0.0, x, y, 1.0, -v * x, -v * y])
        rhs.extend((u, v))
    h = np.linalg.solve(np.array(rows), np.array(rhs))
    return np.append(h, 1.0).reshape(3, 3)


def is_affine(matrix: Matrix) -> bool:
    return bool(np.allclose(matrix[2], [0.0, 0.0, matrix[2, 2]], rtol=0.0, atol=1e-12))


def apply(matrix: Matrix, points: npt.ArrayLike) -> npt.NDArray[np.float64]:
    """Map an (N, 2) array of points, dividing out the projective coordinate."""
    pts = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    mapped = np.column_stack([pts, np.ones(len(pts))]) @ matrix.T
    return mapped[:, :2] / mapped[:, 2:3]


def corners(box: Box) -> npt.NDArray[np.float64]:
    x0, y0, x1, y1 = box
    return np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]])


def bounds(points: npt.ArrayLike) -> Box:
    pts = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    x0, y0 = pts.min(axis=0)
    x1, y1 = pts.max(axis=0)
    return float(x0), float(y0), float(x1), float(y1)


def map_box(matrix: Matrix, box: Box) -> Box:
    """The axis-aligned box of the mapped corners: the contract's rule for carrying a label."""
    return bounds(apply(matrix, corners(box)))


def fit(matrix: Matrix, width: int, height: int) -> tuple[Matrix, int, int]:
    """Shift `matrix` so the mapped width x height page starts at (0, 0); return it with the canvas size.

    The canvas is the smallest whole-pixel frame holding the mapped page, as Pillow's
    `rotate(expand=True)` frames a rotated image.
    """
    x0, y0, x1, y1 = map_box(matrix, (0.0, 0.0, float(width), float(height)))
    framed = translation(-x0, -y0) @ matrix
    return framed, math.ceil(x1 - x0 - 1e-9), math.ceil(y1 - y0 - 1e-9)


def page_to_pixels(page_width: float, page_height: float, width: int, height: int) -> Matrix:
    """PDF points (origin bottom-left, y up) to the pixels of a width x height raster of the page."""
    sx, sy = width / page_width, height / page_height
    return np.array([[sx, 0.0, 0.0], [0.0, -sy, height], [0.0, 0.0, 1.0]])


def label_box(
    x: float,
    baseline: float,
    advance: float,
    size: float,
    descent: float = DESCENT,
    ascent: float = ASCENT,
    overhang: float = 0.0,
) -> Box:
    """The box of a drawn string in PDF points (y up): advance (plus `overhang` sizes) wide, `descent` sizes
    below the baseline to `ascent` above (the tutorial's 0.2 and 0.8 unless the face needs more, see
    `fonts.extent`)."""
    return x, baseline - descent * size, x + advance + overhang * size, baseline + ascent * size


def inverse_coefficients(matrix: Matrix) -> tuple[float, ...]:
    """Pillow's `Image.transform` data for `matrix`: the output-to-input map, 6 (affine) or 8 numbers."""
    inverse = np.linalg.inv(matrix)
    inverse = inverse / inverse[2, 2]
    count = 6 if is_affine(matrix) else 8
    return tuple(float(v) for v in inverse.ravel()[:count])
