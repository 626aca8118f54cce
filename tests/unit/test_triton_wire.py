"""The tensor contract between Triton clients and the model: raw pages in, OcrResponse JSON out."""

from __future__ import annotations

import json

import numpy as np
import pytest
from ocr_subnet.protocol import MAX_IMAGE_PIXELS, MAX_SECTIONS
from ocr_subnet.sections import Font, Section
from ocr_subnet.triton import wire

SECTION = Section(text="Total", position=(1.0, 2.0, 30.0, 12.0), font=Font(family="Helvetica", size=10.0))


def test_pages_of_different_sizes_travel_in_one_batch_and_come_back_identical() -> None:
    rng = np.random.default_rng(0)
    pages = [rng.integers(0, 256, (3, 5), dtype=np.uint8), np.zeros((2, 2), dtype=np.uint8)]
    tensors = wire.page_tensors(pages)
    assert tensors[wire.PIXELS].shape == (2, 1)
    assert tensors[wire.SIZE].tolist() == [[3, 5], [2, 2]]
    for row, page in enumerate(pages):
        decoded = wire.decode_page(tensors[wire.PIXELS][row, 0], tensors[wire.SIZE][row])
        assert np.array_equal(decoded, page)  # trailing zero bytes included: an all-black page survives


def test_a_page_must_be_2d_uint8() -> None:
    with pytest.raises(wire.WireError, match="2-D uint8"):
        wire.page_tensors([np.zeros((2, 2, 3), dtype=np.uint8)])
    with pytest.raises(wire.WireError, match="2-D uint8"):
        wire.page_tensors([np.zeros((2, 2), dtype=np.float32)])


@pytest.mark.parametrize(
    ("pixels", "size", "problem"),
    [
        (b"\x00" * 6, [2, 2], "needs 4 bytes"),
        (b"", [0, 5], "outside"),
        (b"\x00", [-1, -1], "outside"),
        (b"\x00", [MAX_IMAGE_PIXELS, 2], "outside"),
        (b"\x00", [1], "height, width"),
    ],
)
def test_rows_that_break_the_contract_are_refused_with_the_reason(pixels: bytes, size: list[int], problem: str) -> None:
    with pytest.raises(wire.WireError, match=problem):
        wire.decode_page(pixels, size)


def test_answers_round_trip_as_ocr_response_json_with_errors_in_their_own_rows() -> None:
    tensors = wire.answer_tensors([[SECTION], "the model broke", []])
    sections, errors = tensors[wire.SECTIONS][:, 0], tensors[wire.ERROR][:, 0]
    assert json.loads(sections[0]) == {"sections": [SECTION.model_dump(mode="json")]}
    assert wire.parse_answer(sections[0], errors[0]) == [SECTION]
    assert wire.parse_answer(sections[2], errors[2]) == []
    with pytest.raises(wire.WireError, match="the model broke"):
        wire.parse_answer(sections[1], errors[1])


def test_a_noisy_page_with_too_many_sections_is_cut_to_what_the_protocol_allows() -> None:
    sections, error = wire.answer_row([SECTION] * (MAX_SECTIONS + 5))
    assert len(wire.parse_answer(sections, error)) == MAX_SECTIONS


def test_an_answer_that_is_not_valid_sections_is_a_wire_error() -> None:
    with pytest.raises(wire.WireError, match="invalid sections"):
        wire.parse_answer(b'{"sections": [{"text": "x"}]}', b"")


def test_sections_the_model_got_wrong_become_an_error_row_not_a_failed_batch() -> None:
    sections, error = wire.answer_row([{"text": "x"}])  # type: ignore[list-item]
    assert sections == b""
    with pytest.raises(wire.WireError, match="invalid sections"):
        wire.parse_answer(sections, error)
