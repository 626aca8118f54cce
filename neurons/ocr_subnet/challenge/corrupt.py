"""Corruption steps on greyscale rasters, vectorized with numpy and Pillow (no per-pixel Python).

Photometric steps (border, spots, noise, blur, JPEG) leave the geometry alone; the one geometric
step, `warp`, resamples the page through a matrix from `geometry`, the same matrix that carries
the label boxes. Each step takes its randomness from the Generator it is given, so a seed
reproduces the image byte for byte.
"""

from __future__ import annotations

import io

import numpy as np
import numpy.typing as npt
from PIL import Image, ImageFilter

from ocr_subnet.challenge.geometry import Matrix, inverse_coefficients, is_affine

Raster = npt.NDArray[np.uint8]

BACKGROUND = 0  # what shows around a rotated page: black, as behind the tutorial's `rotate`


def darken_border(raster: Raster, width_px: float, curl: float) -> Raster:
    """Shade the left and right edges like a page lifting off the glass; ink stays as dark as it was.

    The tone at distance x from the edge is 256 - 250 (x/w - 1)^2, the tutorial's profile. With
    `curl` > 0 the band widens (up to 1 + curl times) toward the bottom-left and top-right corners.
    """
    out = raster.copy()
    height, width = raster.shape
    if width_px <= 0:
        return out
    band = min(int(np.ceil(width_px * (1.0 + curl))), width // 2)
    distance = np.arange(band)[None, :] + 0.5
    downward = np.linspace(-1.0, 1.0, height)[:, None]

    def tone(widening: npt.NDArray[np.float64]) -> Raster:
        w = width_px * (1.0 + curl * np.clip(widening, 0.0, 1.0))
        return np.clip(256.0 - 250.0 * (np.minimum(distance, w) / w - 1.0) ** 2, 0, 255).astype(np.uint8)

    out[:, :band] = np.minimum(out[:, :band], tone(downward))
    out[:, width - band :] = np.minimum(out[:, width - band :], tone(-downward)[:, ::-1])
    return out


def add_noise(raster: Raster, density: float, sigma: float, rng: np.random.Generator) -> Raster:
    """Shift a random `density` share of pixels by N(0, sigma) grey levels, picked with replacement."""
    out = raster.copy()
    flat = out.reshape(-1)
    hits = rng.integers(0, flat.size, int(flat.size * density))
    shifted = flat[hits] + rng.normal(0.0, sigma, hits.size)
    flat[hits] = np.clip(np.rint(shifted), 0, 255).astype(np.uint8)
    return out


def add_spot(
    raster: Raster,
    center: tuple[float, float],
    strength: float,
    radius_px: float,
    density: float,
    rng: np.random.Generator,
) -> Raster:
    """A dark speckle: random pixels darkened by strength / (1 + d / radius) at distance d from `center`.

    That is the tutorial's spot (strength 100000 at a 1 px radius), with a radius so it scales
    with the page.
    """
    out = raster.copy()
    flat = out.reshape(-1)
    hits = rng.integers(0, flat.size, int(flat.size * density))
    rows, cols = np.divmod(hits, raster.shape[1])
    dx, dy = cols + 0.5 - center[0], rows + 0.5 - center[1]
    distance = np.sqrt(dx * dx + dy * dy)
    darkened = flat[hits] - strength / (1.0 + distance / radius_px)
    flat[hits] = np.clip(np.rint(darkened), 0, 255).astype(np.uint8)
    return out


def warp(raster: Raster, matrix: Matrix, size: tuple[int, int]) -> Raster:
    """Resample the page through `matrix` (page pixels -> output pixels) onto a canvas of `size`."""
    method = Image.Transform.AFFINE if is_affine(matrix) else Image.Transform.PERSPECTIVE
    image = Image.fromarray(raster).transform(
        size,
        method,
        inverse_coefficients(matrix),
        resample=Image.Resampling.BILINEAR,
        fillcolor=BACKGROUND,
    )
    return np.asarray(image)


def blur(raster: Raster, radius: float) -> Raster:
    if radius <= 0:
        return raster
    return np.asarray(Image.fromarray(raster).filter(ImageFilter.GaussianBlur(radius)))


def encode(raster: Raster, jpeg_quality: int | None) -> bytes:
    """The bytes a miner receives: JPEG at `jpeg_quality`, or PNG when it is None."""
    buffer = io.BytesIO()
    image = Image.fromarray(raster)
    if jpeg_quality is None:
        image.save(buffer, format="PNG")
    else:
        image.save(buffer, format="JPEG", quality=jpeg_quality)
    return buffer.getvalue()
