"""Corruption steps on greyscale rasters, vectorized with numpy and Pillow (no per-pixel Python).

Photometric steps (border, spots, noise, blur, JPEG, and the scan effects: ink bleed, low ink,
paper texture and lighting, roller lines, bleed-through) leave the geometry alone; the one geometric
step, `warp`, resamples the page through a matrix from `geometry`, the same matrix that carries
the label boxes. Each step takes its randomness from the Generator it is given, so a seed
reproduces the image byte for byte.
"""

from __future__ import annotations

import io

import numpy as np
import numpy.typing as npt
from PIL import Image, ImageChops, ImageFilter

from ocr_subnet.challenge.geometry import Matrix, inverse_coefficients, is_affine

Raster = npt.NDArray[np.uint8]

BACKGROUND = 0  # what shows around a rotated page: black, as behind the tutorial's `rotate`
FIELD_CELL = 16  # px per cell of the scan effects' low-frequency fields
GHOST_CELLS = 160  # bleed-through is seen at this width: a ~4 pt blur on a letter page, at any density


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


# --- scan effects, after augraphy's common ones ---------------------------------------------------
# The low-frequency ones are built as small images (one cell per FIELD_CELL pixels) and applied with
# one Pillow resize and one Pillow channel operation, so a 300 dpi page costs a few passes in C.


def _small_shape(shape: tuple[int, int]) -> tuple[int, int]:
    return max(2, shape[0] // FIELD_CELL), max(2, shape[1] // FIELD_CELL)


def smooth_field(shape: tuple[int, int], cells: tuple[int, int], rng: np.random.Generator) -> npt.NDArray[np.float32]:
    """Low-frequency noise in [0, 1] of `shape`: a `cells` (rows, columns) grid of uniform draws,
    resized bilinearly, so it varies over about a cell's size."""
    grid = rng.random(cells, dtype=np.float32)
    return np.asarray(Image.fromarray(grid, mode="F").resize(shape[::-1], Image.Resampling.BILINEAR))


def _apply(raster: Raster, small: npt.NDArray[np.float32], operation: str) -> Raster:
    """`small` (tones in 0..255) resized bilinearly to the page and combined with it by the
    ImageChops `operation`: "multiply" darkens by tone / 255, "screen" lightens by it."""
    height, width = raster.shape
    tones = Image.fromarray(np.rint(small).astype(np.uint8)).resize((width, height), Image.Resampling.BILINEAR)
    return np.asarray(getattr(ImageChops, operation)(Image.fromarray(raster), tones))


def ink_bleed(raster: Raster, strength: float) -> Raster:
    """Ink soaking into the paper: each pixel takes on `strength` of the darkness its darkest
    4-neighbour has beyond its own, so strokes thicken by at most one pixel and never lighten."""
    if strength <= 0:
        return raster
    darkest = raster.copy()
    np.minimum(darkest[1:], raster[:-1], out=darkest[1:])
    np.minimum(darkest[:-1], raster[1:], out=darkest[:-1])
    np.minimum(darkest[:, 1:], raster[:, :-1], out=darkest[:, 1:])
    np.minimum(darkest[:, :-1], raster[:, 1:], out=darkest[:, :-1])
    return np.asarray(Image.blend(Image.fromarray(raster), Image.fromarray(darkest), strength))


def fade_ink(raster: Raster, strength: float, rng: np.random.Generator) -> Raster:
    """Low toner: strokes lightened by up to `strength` of their darkness, in soft patches and in
    vertical streaks (a worn drum), so some words print pale; paper stays as it was."""
    if strength <= 0:
        return raster
    small = _small_shape(raster.shape)
    patches = smooth_field(small, (5, 6), rng) ** 2
    streaks = smooth_field((1, small[1]), (1, 48), rng) ** 3  # mostly faint, a few pale bands
    return _apply(raster, 255.0 * strength * np.maximum(patches, streaks), "screen")


def paper_and_light(raster: Raster, texture: float, lighting: float, rng: np.random.Generator) -> Raster:
    """Paper texture and uneven lighting: the page darkened by up to `texture` in a mottled
    low-frequency pattern and by up to `lighting` along a gradient in a random direction."""
    if texture <= 0 and lighting <= 0:
        return raster
    rows, cols = small = _small_shape(raster.shape)
    keep = 1.0 - texture * smooth_field(small, (24, 18), rng)
    angle = rng.uniform(0.0, 2.0 * np.pi)
    ramp = np.cos(angle) * np.linspace(0.0, 1.0, cols)[None, :] + np.sin(angle) * np.linspace(0.0, 1.0, rows)[:, None]
    keep *= 1.0 - lighting * (ramp - ramp.min()) / max(float(np.ptp(ramp)), 1e-6)
    return _apply(raster, 255.0 * keep, "multiply")


def roller_lines(raster: Raster, count: int, rng: np.random.Generator) -> Raster:
    """Dirty-roller lines: `count` thin streaks (1-2 px) across the page, horizontal or vertical,
    of a tone that varies along them; only ever darker."""
    if count <= 0:
        return raster
    out = raster.copy()
    height, width = raster.shape
    for _ in range(count):
        vertical = bool(rng.integers(2))
        length, across = (height, width) if vertical else (width, height)
        start = int(rng.integers(across - 1))
        thickness = int(rng.integers(1, 3))
        tone = (rng.uniform(60, 200) + 50 * smooth_field((1, length), (1, 12), rng)[0]).astype(np.uint8)
        band = out[:, start : start + thickness] if vertical else out[start : start + thickness].T
        np.minimum(band, tone[:, None], out=band)
    return out


def bleed_through(raster: Raster, strength: float) -> Raster:
    """Bleed-through: the back of the sheet showing faintly, mirrored and blurred. The back is this
    page flipped (a fair stand-in for any printed page), seen through a copy `GHOST_CELLS` pixels
    wide, so the ghost is soft; darkens paper by at most `strength`."""
    if strength <= 0:
        return raster
    width = raster.shape[1]
    back = Image.fromarray(raster).reduce(max(2, round(width / GHOST_CELLS))).transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    return _apply(raster, 255.0 - strength * (255.0 - np.asarray(back, dtype=np.float32)), "multiply")
