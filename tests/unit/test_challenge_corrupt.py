"""Each corruption step in isolation, on synthetic rasters whose right answer is known."""

from __future__ import annotations

import io

import numpy as np
import pytest
from ocr_subnet.challenge import corrupt, geometry
from PIL import Image


def grey(height: int = 300, width: int = 400, level: int = 128) -> corrupt.Raster:
    return np.full((height, width), level, dtype=np.uint8)


def ink_bounds(raster: corrupt.Raster, threshold: int = 128) -> geometry.Box:
    rows, cols = np.nonzero(raster < threshold)
    return float(cols.min()), float(rows.min()), float(cols.max() + 1), float(rows.max() + 1)


def page_with_block(box: tuple[int, int, int, int], size: tuple[int, int] = (400, 300)) -> corrupt.Raster:
    """White page, one black rectangle covering pixels [x0, x1) x [y0, y1)."""
    raster = grey(size[1], size[0], 255)
    x0, y0, x1, y1 = box
    raster[y0:y1, x0:x1] = 0
    return raster


def test_noise_hits_the_documented_share_of_pixels_with_the_documented_spread() -> None:
    clean = grey(500, 500)
    noisy = corrupt.add_noise(clean, density=0.1, sigma=20.0, rng=np.random.default_rng(1))
    delta = noisy.astype(np.float64) - clean
    changed = delta != 0
    # Picks are with replacement (1 - e^-0.1 distinct pixels), minus shifts that round to zero.
    assert changed.mean() == pytest.approx((1 - np.exp(-0.1)) * 0.98, abs=0.004)
    assert delta[changed].mean() == pytest.approx(0.0, abs=0.5)
    assert delta[changed].std() == pytest.approx(20.0, rel=0.04)
    assert clean.mean() == 128  # the input is left alone


def test_noise_is_reproducible_from_the_generator_and_differs_between_seeds() -> None:
    clean = grey()
    first = corrupt.add_noise(clean, 0.1, 50.0, np.random.default_rng(7))
    again = corrupt.add_noise(clean, 0.1, 50.0, np.random.default_rng(7))
    other = corrupt.add_noise(clean, 0.1, 50.0, np.random.default_rng(8))
    assert np.array_equal(first, again)
    assert not np.array_equal(first, other)


def test_spot_darkens_near_its_centre_and_fades_with_distance() -> None:
    clean = grey(400, 400, 255)
    spotted = corrupt.add_spot(clean, (100.0, 100.0), 300.0, 40.0, 0.5, np.random.default_rng(2))
    darkening = 255.0 - spotted
    rows, cols = np.indices(clean.shape)
    distance = np.hypot(cols + 0.5 - 100, rows + 0.5 - 100)
    near = darkening[distance < 20]
    far = darkening[distance > 250]
    assert np.all(spotted <= clean)
    assert near.mean() > 3 * far.mean() > 0
    # Hit pixels near the centre lose at least strength / (1 + 20 / 40) = 200 grey levels.
    assert np.all(near[near > 0] >= 199)
    assert (darkening > 0).mean() == pytest.approx(1 - np.exp(-0.5), abs=0.02)


def test_border_darkens_the_edges_and_leaves_the_middle_and_the_ink() -> None:
    page = page_with_block((0, 100, 400, 110))  # a black bar reaching both edges
    shaded = corrupt.darken_border(page, width_px=50.0, curl=0.0)
    assert shaded[50, 0] < 30 and shaded[50, -1] < 30  # the edge is nearly black (tone ~12)
    assert 120 < shaded[50, 25] < 220  # halfway across the band it is grey (256 - 250 / 4)
    assert np.array_equal(shaded[:, 50:350], page[:, 50:350])
    assert np.all(shaded[100:110] == 0)  # ink stays as dark as it was
    assert np.all(shaded <= page)
    assert np.array_equal(shaded[:, :50], shaded[:, -50:][:, ::-1])  # both edges alike


def test_curl_widens_the_border_toward_the_bottom_left_and_top_right() -> None:
    shaded = corrupt.darken_border(grey(300, 400, 255), width_px=30.0, curl=1.0)

    def band(row: np.ndarray) -> int:
        return int((row < 250).sum())

    assert band(shaded[-1, :200]) > 1.5 * band(shaded[0, :200])  # left edge: wider at the bottom
    assert band(shaded[0, 200:]) > 1.5 * band(shaded[-1, 200:])  # right edge: wider at the top


def test_blur_removes_high_frequencies_and_keeps_the_mean() -> None:
    checker = ((np.indices((200, 200)).sum(axis=0) % 2) * 255).astype(np.uint8)
    blurred = corrupt.blur(checker, 1.0)
    assert (
        np.abs(np.diff(blurred.astype(int), axis=1)).mean() < 0.2 * np.abs(np.diff(checker.astype(int), axis=1)).mean()
    )
    assert blurred.mean() == pytest.approx(checker.mean(), abs=2)
    assert corrupt.blur(checker, 0.0) is checker


def test_jpeg_quality_trades_size_for_fidelity_and_png_is_lossless() -> None:
    raster = corrupt.add_noise(page_with_block((50, 50, 300, 80)), 0.1, 40.0, np.random.default_rng(3))
    sizes = {q: len(corrupt.encode(raster, q)) for q in (35, 75, 95)}
    assert sizes[35] < sizes[75] < sizes[95]
    decoded = Image.open(io.BytesIO(corrupt.encode(raster, 75)))
    assert decoded.format == "JPEG" and decoded.size == (400, 300)
    png = Image.open(io.BytesIO(corrupt.encode(raster, None)))
    assert png.format == "PNG" and np.array_equal(np.asarray(png), raster)


def test_warp_with_identity_copies_the_page() -> None:
    raster = corrupt.add_noise(grey(), 0.3, 40.0, np.random.default_rng(4))
    assert np.array_equal(corrupt.warp(raster, geometry.identity(), (400, 300)), raster)


SQUARE = [[0, 0], [400, 0], [400, 300], [0, 300]]


@pytest.mark.parametrize(
    "matrix",
    [
        pytest.param(geometry.scaling(0.5), id="rescale"),
        pytest.param(geometry.translation(40, 60) @ geometry.rotation(20), id="rotation"),
        pytest.param(geometry.homography(SQUARE, [[20, 10], [390, 0], [360, 290], [0, 280]]), id="perspective"),
    ],
)
def test_geometric_steps_move_ink_exactly_as_they_move_its_box(matrix: geometry.Matrix) -> None:
    # A bright block on a black page, so the black canvas outside the warped page reads as paper.
    block = (120, 100, 220, 140)
    page = 255 - page_with_block(block)
    warped = corrupt.warp(page, matrix, (400, 300))
    assert ink_bounds(255 - warped) == pytest.approx(geometry.map_box(matrix, block), abs=1.5)
    # The block's centre of mass follows the matrix to a fraction of a pixel.
    weight = warped.astype(np.float64)
    rows, cols = np.indices(warped.shape)
    centre = ((weight * (cols + 0.5)).sum() / weight.sum(), (weight * (rows + 0.5)).sum() / weight.sum())
    expected = geometry.apply(matrix, [[170.0, 120.0]])[0]
    assert centre == pytest.approx(tuple(expected), abs=0.35 if geometry.is_affine(matrix) else 1.0)


def test_warp_fills_uncovered_canvas_with_the_background() -> None:
    matrix, width, height = geometry.fit(geometry.rotation(10), 400, 300)
    warped = corrupt.warp(grey(300, 400, 255), matrix, (width, height))
    assert warped.shape == (height, width)
    assert warped[0, 0] == corrupt.BACKGROUND
    assert warped[height // 2, width // 2] == 255


# --- scan effects -------------------------------------------------------------------------------


def text_page() -> corrupt.Raster:
    """White page with thin strokes of several widths, like text."""
    raster = grey(300, 400, 255)
    for i, x in enumerate(range(40, 360, 20)):
        raster[40:260, x : x + 1 + i % 3] = 0
    raster[150:152, 20:380] = 0
    return raster


SCAN_EFFECTS = {
    "bleed": lambda raster, rng: corrupt.ink_bleed(raster, 0.6),
    "fade": lambda raster, rng: corrupt.fade_ink(raster, 0.5, rng),
    "paper": lambda raster, rng: corrupt.paper_and_light(raster, 0.1, 0.3, rng),
    "lines": lambda raster, rng: corrupt.roller_lines(raster, 3, rng),
    "ghost": lambda raster, rng: corrupt.bleed_through(raster, 0.3),
}


@pytest.mark.parametrize("effect", sorted(SCAN_EFFECTS))
def test_each_scan_effect_is_reproducible_keeps_shape_and_dtype_and_leaves_its_input(effect: str) -> None:
    page = text_page()
    before = page.copy()
    first = SCAN_EFFECTS[effect](page, np.random.default_rng(5))
    again = SCAN_EFFECTS[effect](page, np.random.default_rng(5))
    assert first.shape == page.shape and first.dtype == np.uint8
    assert np.array_equal(first, again)
    assert not np.array_equal(first, page)
    assert np.array_equal(page, before)


@pytest.mark.parametrize("effect", ["fade", "paper", "lines"])
def test_random_scan_effects_differ_between_seeds(effect: str) -> None:
    page = text_page()
    first = SCAN_EFFECTS[effect](page, np.random.default_rng(5))
    other = SCAN_EFFECTS[effect](page, np.random.default_rng(6))
    assert not np.array_equal(first, other)


def test_ink_bleed_darkens_only_the_pixels_next_to_ink_and_by_the_share_asked() -> None:
    page = page_with_block((100, 100, 110, 130))
    bled = corrupt.ink_bleed(page, 0.4)
    assert np.all(bled <= page)
    changed = np.argwhere(bled != page)
    # Only the one-pixel ring around the block (its 4-neighbours), each darkened by 0.4 of 255.
    assert ink_bounds(255 - (bled != page).astype(np.uint8) * 255) == (99.0, 99.0, 111.0, 131.0)
    assert np.all(bled[page == 0] == 0)
    assert {int(bled[r, c]) for r, c in changed} == {153}
    assert bled[99, 99] == 255  # diagonal neighbours stay paper
    assert corrupt.ink_bleed(page, 0.0) is page


def test_fade_only_lightens_ink_by_at_most_its_strength_and_leaves_paper() -> None:
    page = text_page()
    faded = corrupt.fade_ink(page, 0.5, np.random.default_rng(1))
    ink = page == 0
    assert np.all(faded >= page)
    assert np.all(faded[~ink] == 255)
    assert faded[ink].max() <= 128 and faded[ink].mean() > 5  # lightened, never past half
    assert corrupt.fade_ink(page, 0.0, np.random.default_rng(1)) is page


def test_paper_and_light_darken_the_paper_within_their_depth_and_keep_black_ink() -> None:
    page = text_page()
    shaded = corrupt.paper_and_light(page, 0.1, 0.3, np.random.default_rng(2))
    paper = page == 255
    assert np.all(shaded <= page)
    assert np.all(shaded[~paper] == 0)
    darkening = 1.0 - shaded[paper] / 255.0
    assert darkening.max() <= 1 - 0.9 * 0.7 + 0.01 and darkening.max() > 0.25  # the gradient's dark end
    assert darkening.min() <= 0.1  # the bright end is darkened by the texture alone
    # Low-frequency: neighbouring pixels of paper differ by at most a couple of grey levels.
    assert np.abs(np.diff(shaded[:30, :30].astype(int), axis=1)).max() <= 2


def test_roller_lines_are_thin_full_length_streaks_that_only_darken() -> None:
    page = grey(300, 400, 255)
    lined = corrupt.roller_lines(page, 2, np.random.default_rng(3))
    assert np.all(lined <= page)
    rows, cols = np.all(lined < 255, axis=1), np.all(lined < 255, axis=0)
    assert 2 <= rows.sum() + cols.sum() <= 4  # two lines, each 1-2 px, along a whole side
    assert (lined < 255).sum() == rows.sum() * 400 + cols.sum() * 300 - rows.sum() * cols.sum()
    assert corrupt.roller_lines(page, 0, np.random.default_rng(3)) is page


def test_bleed_through_shows_the_mirrored_page_faintly_and_never_lightens() -> None:
    page = page_with_block((20, 100, 120, 200))  # ink on the left: its ghost shows on the right
    ghosted = corrupt.bleed_through(page, 0.3)
    assert np.all(ghosted <= page)
    assert np.all(ghosted[page == 0] == 0)
    mirrored = 255 - ghosted[120:180, 300:360].astype(int)
    assert 40 <= mirrored.mean() <= 0.3 * 255 + 1  # faint: at most `strength` darker
    assert np.all(ghosted[120:180, 170:230] == 255)  # the middle sees no ink from either side
    assert corrupt.bleed_through(page, 0.0) is page
