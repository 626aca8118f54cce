"""The model's pure geometry and CTC decoding: canvases, label rectangles, kernel decoding, point sizes."""

from __future__ import annotations

import math

import numpy as np
import pytest
from ocr_subnet.challenge.geometry import page_to_pixels, rotation
from ocr_subnet.model import charset
from ocr_subnet.model.geometry import (
    ALIGN,
    CANONICAL_WIDTH,
    CROP_HEIGHT,
    MAX_CANONICAL_HEIGHT,
    MAX_CANVAS_SIDE,
    MAX_LANDSCAPE_AREA,
    SHRINK_Y,
    STRIDE,
    Calibration,
    canvas,
    component_ends,
    crop_width,
    decode_maps,
    font_sizes,
    is_landscape,
    kernel_quads,
    label_quad,
    page_families,
    page_slope,
    page_width,
    point_size,
    px_per_point,
    quad_bounds,
    quad_rects,
    rect_corners,
)
from ocr_subnet.model.pipeline import width_chunks
from ocr_subnet.model.targets import detector_targets
from scipy.ndimage import label


def box_quad(x0: float, y0: float, x1: float, y1: float) -> np.ndarray:
    return np.array([[[x0, y0], [x1, y0], [x1, y1], [x0, y1]]], dtype=np.float64)


def rotated_quad(cx: float, cy: float, length: float, height: float, degrees: float) -> np.ndarray:
    slope = math.tan(math.radians(degrees))
    return rect_corners(np.array([[cx, cy, length, height, slope, 1.0]]))


@pytest.mark.parametrize(
    ("width", "height"),
    [(631, 816), (8, 8), (4000, 5000), (10_000, 10), (10, 10_000), (1, 1), (1224, 792), (1920, 1080), (7344, 2376)],
)
def test_canvas_fits_the_budget_and_aligns(width: int, height: int) -> None:
    c = canvas(width, height)
    if is_landscape(width, height):
        assert c.width * c.height <= MAX_LANDSCAPE_AREA * 1.01 and c.width <= MAX_CANVAS_SIDE
    else:
        assert c.width <= CANONICAL_WIDTH and c.height <= MAX_CANONICAL_HEIGHT
    assert c.padded_width % ALIGN == 0 and c.padded_height % ALIGN == 0
    assert c.padded_width >= c.width >= 1 and c.padded_height >= c.height >= 1
    assert c.width == round(width * c.scale) or c.width == 1


def test_a_landscape_page_is_read_at_a_portrait_pages_pixels_per_point() -> None:
    """A page turned or a two-page spread keeps its text as tall in the canvas as a portrait page's (scaled by its
    width, a spread's 11 px text became 6 px); a strip of lines cut from a page still spans the page's width."""
    assert canvas(792, 612).scale == pytest.approx(canvas(612, 792).scale)  # a letter page turned
    assert canvas(1224, 792).scale > 1.5 * canvas(1224, 1584).scale  # a spread against a portrait page as wide
    assert canvas(1224, 57).scale == canvas(1224, 1584).scale  # three lines of a 2 px/pt page: as wide as the page
    assert (page_width(1224, 792), page_width(612, 792), page_width(1224, 57)) == (792, 612, 1224)
    assert not is_landscape(792, 792) and is_landscape(793, 792) and not is_landscape(3000, 999)


def test_label_quad_flips_points_into_pixels() -> None:
    matrix = page_to_pixels(612, 792, 612, 792)  # 1 px per point, y down
    quad = label_quad((10.0, 700.0, 110.0, 710.0), matrix)
    np.testing.assert_allclose(quad, [[10, 82], [110, 82], [110, 92], [10, 92]])


def test_rotated_label_quad_bounds_are_the_label_rule() -> None:
    matrix = rotation(5.0) @ page_to_pixels(612, 792, 612, 792)
    box = (100.0, 400.0, 300.0, 412.0)
    quad = label_quad(box, matrix)
    corners = [(100, 412), (300, 412), (300, 400), (100, 400)]
    pixels = np.array([matrix @ np.array([x, y, 1.0]) for x, y in corners])[:, :2]
    np.testing.assert_allclose(quad, pixels)
    np.testing.assert_allclose(quad_bounds(quad[None])[0], [*pixels.min(0), *pixels.max(0)])


def test_kernel_shrinks_inside_and_keeps_a_sliver_of_narrow_strings() -> None:
    wide = kernel_quads(box_quad(0, 0, 100, 10))[0]
    np.testing.assert_allclose(wide[0], [1.0, 10 * SHRINK_Y])
    np.testing.assert_allclose(wide[2], [99.0, 10 - 10 * SHRINK_Y])
    narrow = kernel_quads(box_quad(0, 0, 2, 10))[0]
    assert narrow[1, 0] - narrow[0, 0] == pytest.approx(0.4)


@pytest.mark.parametrize("degrees", [0.0, 0.2, -3.0, 5.0])
def test_rect_corners_and_quad_rects_invert_each_other(degrees: float) -> None:
    quad = rotated_quad(300, 200, 150, 12, degrees)
    rect = quad_rects(quad)
    np.testing.assert_allclose(rect[0, :5], [300, 200, 150, 12, math.tan(math.radians(degrees))], atol=1e-9)
    np.testing.assert_allclose(rect_corners(rect), quad, atol=1e-9)


def test_padding_grows_each_side_by_a_share_of_the_height() -> None:
    padded = rect_corners(np.array([[50.0, 20.0, 40.0, 10.0, 0.0, 1.0]]), pad_x=0.5, pad_y=0.25)
    np.testing.assert_allclose(quad_bounds(padded)[0], [25, 12.5, 75, 27.5])


def decode(quads: np.ndarray, calibration: Calibration = Calibration(), size: int = 256) -> np.ndarray:
    kernel, top, bottom = detector_targets(quads, size // STRIDE, size // STRIDE)
    return decode_maps(kernel * 0.9, top, bottom, calibration)


@pytest.mark.parametrize("degrees", [0.0, 1.5, -4.0])
def test_decoding_perfect_maps_recovers_the_label_rectangle(degrees: float) -> None:
    quad = rotated_quad(120, 100, 160, 12, degrees)
    (rect,) = decode(quad)
    truth = quad_rects(quad)[0]
    assert rect[1] == pytest.approx(truth[1], abs=0.5)  # vertical centre: sub-pixel from the regressed edges
    assert rect[3] == pytest.approx(truth[3], abs=0.5)  # height
    assert rect[4] == pytest.approx(truth[4], abs=0.01)  # slope
    assert abs(rect[2] - truth[2]) <= 2 * STRIDE + 1  # length: cell-quantized kernel ends
    assert abs(rect[0] - truth[0]) <= STRIDE


def test_separate_strings_decode_separately_and_noise_is_dropped() -> None:
    quads = np.concatenate([box_quad(20, 40, 90, 52), box_quad(110, 40, 200, 52), box_quad(20, 70, 200, 82)])
    kernel, top, bottom = detector_targets(quads, 128, 128)
    kernel[100, 100] = 1.0  # one stray cell
    rects = decode_maps(kernel * 0.9, top, bottom, Calibration(min_cells=2))
    assert len(rects) == 3
    assert decode_maps(np.zeros((8, 8)), np.zeros((8, 8)), np.zeros((8, 8)), Calibration()).shape == (0, 6)


def test_a_component_end_moves_with_the_probability_not_by_a_whole_cell() -> None:
    def ends(outer: float) -> tuple[float, float]:
        prob = np.zeros((5, 14), dtype=np.float32)
        prob[1:4, 4:10] = 0.98
        prob[2, 3] = prob[2, 10] = outer  # the cells just outside, either side of the 0.9 threshold
        labels, _ = label(prob > 0.9, structure=np.ones((3, 3)))
        (lo,), (hi,) = component_ends(prob, labels, 0.9, STRIDE)
        return lo, hi

    below, above = ends(0.899), ends(0.901)
    assert below == pytest.approx(above, abs=0.05 * STRIDE)  # a whole cell (2 px) under whole-cell ends
    assert ends(0.0)[0] == pytest.approx((4.5 - 0.08 / 0.98) * STRIDE)  # interpolated toward an empty cell
    assert ends(0.0)[1] == pytest.approx((9.5 + 0.08 / 0.98) * STRIDE)
    lo, hi = ends(0.5)  # a softer edge reaches further out, never past the outer cell's centre
    assert 3.5 * STRIDE < lo < ends(0.0)[0] and ends(0.0)[1] < hi < 10.5 * STRIDE


def test_calibration_widens_and_heightens() -> None:
    quad = box_quad(20, 40, 180, 52)
    base = decode(quad)[0]
    wider = decode(quad, Calibration(extend_x=0.5))[0]
    taller = decode(quad, Calibration(height_gain=1.1))[0]
    assert wider[2] == pytest.approx(base[2] + 2 * 0.5 * base[3])
    assert taller[3] == pytest.approx(base[3] * 1.1)


def test_page_slope_weights_long_strings() -> None:
    rects = np.array([[0, 0, 300, 10, 0.01, 1], [0, 0, 10, 10, 0.5, 1], [0, 0, 300, 10, 0.01, 1]])
    assert page_slope(rects) == pytest.approx(0.01)
    assert page_slope(np.zeros((0, 6))) == 0.0


def test_px_per_point_undoes_the_rotated_frame() -> None:
    ppp = 1.026
    angle = math.radians(3.0)
    width = ppp * (612 * math.cos(angle) + 792 * math.sin(angle))
    assert px_per_point(width, math.tan(angle)) == pytest.approx(ppp)
    assert px_per_point(631, 0.0) == pytest.approx(631 / 612)


def test_point_size_snaps_to_whole_points() -> None:
    np.testing.assert_allclose(point_size(np.array([10.3, 12.6]), 1.03, snap=True), [10, 12])
    np.testing.assert_allclose(point_size(np.array([10.3]), 1.03, snap=False), [10.0])
    assert point_size(np.array([0.0]), 1.0, snap=True)[0] >= 1.0


def test_crop_width_keeps_the_aspect_ratio() -> None:
    # a full line across a recognition source's 1600 px (a 300-dpi page's prose) is not squeezed: squeezing it
    # into 1024 columns ran its words and sentences together (lost spaces, periods read as commas)
    quads = np.concatenate(
        [box_quad(0, 0, 100, 10), box_quad(0, 0, 1, 10), box_quad(0, 0, 1600, 20), box_quad(0, 0, 1e5, 10)]
    )
    np.testing.assert_array_equal(crop_width(quads), [CROP_HEIGHT * 10, 8, CROP_HEIGHT * 80, 4096])


def test_ctc_collapse_merges_repeats_and_drops_blanks() -> None:
    b = charset.BLANK
    assert charset.ctc_collapse([b, 5, 5, b, 5, 7, 7, b]) == [5, 5, 7]
    assert charset.ctc_collapse([]) == []


def test_charset_round_trip_and_greedy_decode() -> None:
    text = "Invoice #: INV-0042, $1,299.50 (Net 30)"
    assert charset.decode_indices(charset.encode(text)) == text
    typeset = "\u201cNa\u00efve\u201d caf\u00e9 \u2013 \u00a312 \u2022 Gr\u00f6\u00dfe \u00a9"
    assert charset.decode_indices(charset.encode(typeset)) == typeset
    assert charset.encode("a\u03b1b\u2192") == charset.encode("ab")  # outside the alphabet (Greek, arrows): dropped
    assert charset.ALPHABET.startswith(charset.ASCII)  # classes a shorter alphabet trained keep their indices
    path = [charset.BLANK, *charset.encode("aab")[:1], charset.BLANK, *charset.encode("ab"), charset.BLANK]
    logits = np.eye(charset.NUM_CLASSES)[path][None]
    assert charset.greedy_decode(logits, [len(path)]) == ["aab"]
    assert charset.greedy_decode(logits, [2]) == ["a"]


def test_pooled_sizes_take_the_page_median_and_keep_outliers() -> None:
    rects = np.zeros((5, 6))
    rects[:, 2] = 100
    rects[:, 3] = [10.2, 10.6, 11.0, 10.4, 14.0]  # one heading, the rest one body size seen noisily
    pooled = font_sizes(rects, 612, Calibration(pool_sizes=True, snap_size=False))
    np.testing.assert_allclose(pooled, [10.6, 10.6, 10.6, 10.6, 14.0])
    alone = font_sizes(rects, 612, Calibration(pool_sizes=False, snap_size=True))
    np.testing.assert_allclose(alone, [10, 11, 11, 10, 14])


def test_page_family_prior_sways_only_unsure_strings() -> None:
    probs = np.array([[0.9, 0.1, 0, 0, 0, 0]] * 4 + [[0.45, 0.0, 0.0, 0.0, 0.55, 0.0], [0.05, 0, 0, 0, 0.95, 0]])
    np.testing.assert_array_equal(page_families(probs, 0.0), [0, 0, 0, 0, 4, 4])
    np.testing.assert_array_equal(page_families(probs, 2.0), [0, 0, 0, 0, 0, 4])
    assert page_families(np.zeros((0, 6)), 2.0).shape == (0,)


def test_width_chunks_bound_padded_columns() -> None:
    widths = [300, 20, 40, 600, 25, 1024]
    chunks = width_chunks(widths, columns=700, most=3)
    assert sorted(i for c in chunks for i in c) == list(range(len(widths)))
    for chunk in chunks:
        assert len(chunk) <= 3 and (len(chunk) == 1 or len(chunk) * max(widths[i] for i in chunk) <= 700)
    assert [widths[c[0]] for c in chunks] == sorted(widths[c[0]] for c in chunks)
    assert width_chunks([], 100, 4) == []


def test_width_chunks_pad_little_and_call_rarely() -> None:
    widths = [8, 9, 10, 12, 1000, 990]
    assert width_chunks(widths, columns=10_000, most=64, call_cost=0) == [[0], [1], [2], [3], [5], [4]]
    assert width_chunks(widths, columns=10_000, most=64, call_cost=50) == [[0, 1, 2, 3], [5, 4]]
    assert width_chunks(widths, columns=10_000, most=64, call_cost=10_000) == [[0, 1, 2, 3, 5, 4]]
