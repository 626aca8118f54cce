"""The pure transform functions that carry label boxes: matrices, box mapping, framing."""

from __future__ import annotations

import math

import numpy as np
import pytest
from numpy.testing import assert_allclose
from ocr_subnet.challenge import geometry


def test_identity_translation_and_scaling_move_points_as_expected() -> None:
    points = [[0.0, 0.0], [3.0, 4.0], [-2.0, 5.5]]
    assert_allclose(geometry.apply(geometry.identity(), points), points)
    assert_allclose(geometry.apply(geometry.translation(10, -2), points), [[10, -2], [13, 2], [8, 3.5]])
    assert_allclose(geometry.apply(geometry.scaling(2), points), [[0, 0], [6, 8], [-4, 11]])
    assert_allclose(geometry.apply(geometry.scaling(2, 0.5), points), [[0, 0], [6, 2], [-4, 2.75]])


def test_rotation_is_counter_clockwise_on_screen_with_y_down() -> None:
    # A point to the right of the origin goes up the screen (negative y) for +90 degrees.
    assert_allclose(geometry.apply(geometry.rotation(90), [[1.0, 0.0]]), [[0.0, -1.0]], atol=1e-12)
    assert_allclose(geometry.apply(geometry.rotation(180), [[2.0, 1.0]]), [[-2.0, -1.0]], atol=1e-12)
    assert_allclose(geometry.rotation(30) @ geometry.rotation(15), geometry.rotation(45), atol=1e-12)


def test_rotation_preserves_distances() -> None:
    points = np.array([[0.0, 0.0], [100.0, 40.0]])
    moved = geometry.apply(geometry.rotation(17.3), points)
    assert math.dist(*moved) == pytest.approx(math.dist(*points))


def test_homography_sends_the_four_corners_where_asked_and_keeps_lines_straight() -> None:
    src = [[0, 0], [600, 0], [600, 800], [0, 800]]
    dst = [[12, -5], [590, 8], [610, 790], [-7, 812]]
    matrix = geometry.homography(src, dst)
    assert_allclose(geometry.apply(matrix, src), dst, atol=1e-9)
    assert not geometry.is_affine(matrix)
    # Three collinear points stay collinear under a projective map.
    a, b, c = geometry.apply(matrix, [[0, 0], [300, 400], [600, 800]])
    assert np.cross(b - a, c - a) == pytest.approx(0.0, abs=1e-6)


def test_homography_of_an_affine_correspondence_is_that_affine_map() -> None:
    src = [[0, 0], [10, 0], [10, 10], [0, 10]]
    affine = geometry.translation(5, 7) @ geometry.rotation(20) @ geometry.scaling(3)
    matrix = geometry.homography(src, geometry.apply(affine, src))
    assert_allclose(matrix, affine, atol=1e-9)
    assert geometry.is_affine(matrix)


def test_map_box_of_a_rotated_box_is_the_box_of_the_rotated_corners() -> None:
    width, height, theta = 200.0, 20.0, 5.0
    x0, y0, x1, y1 = geometry.map_box(geometry.rotation(theta), (0.0, 0.0, width, height))
    t = math.radians(theta)
    assert x1 - x0 == pytest.approx(width * math.cos(t) + height * math.sin(t))
    assert y1 - y0 == pytest.approx(width * math.sin(t) + height * math.cos(t))
    # The top-right corner (200, 0) goes up to -200 sin t: it is the box's top.
    assert y0 == pytest.approx(-width * math.sin(t))


def test_map_box_under_scaling_and_translation_is_exact() -> None:
    matrix = geometry.translation(3, 4) @ geometry.scaling(0.5)
    assert geometry.map_box(matrix, (10, 20, 30, 60)) == pytest.approx((8, 14, 18, 34))


def test_fit_frames_the_mapped_page_at_the_origin_with_whole_pixels() -> None:
    matrix, width, height = geometry.fit(geometry.rotation(0.2) @ geometry.scaling(0.95), 661, 856)
    x0, y0, x1, y1 = geometry.map_box(matrix, (0, 0, 661, 856))
    assert (x0, y0) == pytest.approx((0.0, 0.0), abs=1e-9)
    assert (width, height) == (math.ceil(x1), math.ceil(y1)) == (631, 816)


def test_fit_keeps_an_exact_size_when_nothing_moves() -> None:
    matrix, width, height = geometry.fit(geometry.identity(), 661, 856)
    assert_allclose(matrix, np.eye(3))
    assert (width, height) == (661, 856)


def test_page_to_pixels_flips_y_and_scales_each_axis() -> None:
    matrix = geometry.page_to_pixels(612, 792, 661, 856)
    assert_allclose(
        geometry.apply(matrix, [[0, 0], [612, 792], [306, 396]]),
        [[0, 856], [661, 0], [330.5, 428]],
        atol=1e-9,
    )


def test_label_box_follows_the_tutorial_rule() -> None:
    assert geometry.label_box(30.0, 700.0, 120.0, 10.0) == pytest.approx((30.0, 698.0, 150.0, 708.0))
    # In pixels the PDF box becomes top-left origin: its top is the baseline + 0.8 size.
    to_pixels = geometry.page_to_pixels(612, 792, 612, 792)
    pixels = geometry.map_box(to_pixels, geometry.label_box(30, 700, 120, 10))
    assert pixels == pytest.approx((30.0, 84.0, 150.0, 94.0))


def test_inverse_coefficients_are_the_output_to_input_map() -> None:
    affine = geometry.translation(5, 6) @ geometry.rotation(10)
    coefficients = geometry.inverse_coefficients(affine)
    assert len(coefficients) == 6
    inverse = np.vstack([np.reshape(coefficients, (2, 3)), [0, 0, 1]])
    assert_allclose(inverse @ affine, np.eye(3), atol=1e-12)
    projective = geometry.homography([[0, 0], [1, 0], [1, 1], [0, 1]], [[0, 0], [1.1, 0], [1, 1], [0, 0.9]])
    assert len(geometry.inverse_coefficients(projective)) == 8
