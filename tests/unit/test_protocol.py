"""Hostile or malformed payloads become clear errors (ProtocolError / ValidationError), never crashes."""

from __future__ import annotations

import base64
import io
import json
import math
import random
import struct
import zlib

import pytest
from ocr_subnet.protocol import (
    MAX_BODY_BYTES,
    MAX_IMAGE_PIXELS,
    MAX_SECTIONS,
    OcrRequest,
    OcrResponse,
    ProtocolError,
    decode_image,
    encode_image,
    load_image,
    open_image,
)
from ocr_subnet.sections import MAX_COORDINATE, MAX_FAMILY_CHARS, MAX_TEXT_CHARS, Section
from PIL import Image
from pydantic import ValidationError

GOOD_SECTION = {"text": "INVOICE", "position": [10, 20, 110, 40], "font": {"family": "Helvetica", "size": 12}}


def image_bytes(fmt: str, mode: str = "RGB", size: tuple[int, int] = (40, 30)) -> bytes:
    image = Image.new(mode, size)
    image.putpixel((1, 1), 200 if mode in ("L", "P", "I;16") else (200, 10, 10)[: len(mode)])
    out = io.BytesIO()
    image.save(out, format=fmt)
    return out.getvalue()


def png_declaring(width: int, height: int) -> bytes:
    """A few hundred bytes whose header claims a huge greyscale image: a decompression bomb."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    rows = zlib.compress(b"\x00" * 1024)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", rows) + chunk(b"IEND", b"")


def error_text(exc: ValidationError) -> str:
    return " ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())


def response_with(**changes) -> dict:
    return {"sections": [{**GOOD_SECTION, **changes}]}


# --- images -------------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["PNG", "JPEG"])
def test_png_and_jpeg_decode(fmt):
    image = decode_image(encode_image(image_bytes(fmt)))
    assert image.size == (40, 30)
    assert image.mode == "RGB"


@pytest.mark.parametrize("mode", ["1", "L", "LA", "P", "RGBA", "I;16"])
def test_every_png_mode_arrives_as_grey_or_rgb(mode):
    assert decode_image(encode_image(image_bytes("PNG", mode))).mode in ("L", "RGB")


@pytest.mark.parametrize("encoded", ["not base64 at all!", "QUJ", "QUJDRA=", "data:image/png;base64,QUJD", "Ünïcode"])
def test_bad_base64_is_refused(encoded):
    with pytest.raises(ProtocolError, match="base64"):
        decode_image(encoded)


def test_empty_image_is_refused():
    with pytest.raises(ProtocolError, match="empty"):
        decode_image("")


@pytest.mark.parametrize(
    "raw",
    [
        b"hello, this is not an image",
        b"\x00" * 64,
        b"%PDF-1.4\n",
        b"\x89PNG\r\n\x1a\n",
        image_bytes("PNG")[:60],
    ],
    ids=["text", "zeros", "pdf", "png-signature-only", "truncated-png"],
)
def test_non_image_bytes_are_refused(raw):
    with pytest.raises(ProtocolError, match="not a readable PNG or JPEG"):
        decode_image(encode_image(raw))


@pytest.mark.parametrize("fmt", ["GIF", "BMP", "TIFF", "WEBP", "ICO"])
def test_other_formats_are_refused(fmt):
    with pytest.raises(ProtocolError, match=f"format {fmt} is not one of"):
        decode_image(encode_image(image_bytes(fmt)))


def test_decompression_bomb_is_refused_before_decoding():
    bomb = png_declaring(20_000, 20_000)
    assert len(bomb) < 1_000
    with pytest.raises(ProtocolError, match=r"decompression bomb|pixel limit"):
        decode_image(encode_image(bomb))


def test_image_just_over_our_pixel_limit_is_refused():
    """Under Pillow's own bomb threshold but over ours (6000 x 6000 = 36 M > 25 M pixels)."""
    with pytest.raises(ProtocolError, match=f"6000x6000, over the {MAX_IMAGE_PIXELS} pixel limit"):
        decode_image(encode_image(png_declaring(6_000, 6_000)))


def test_mutated_images_only_ever_raise_protocol_errors():
    """Random byte flips, cuts and insertions into real PNG/JPEG files: decode or refuse, never crash."""
    rng = random.Random(0)
    seeds = [image_bytes("PNG"), image_bytes("JPEG"), image_bytes("PNG", "P")]
    outcomes = {"decoded": 0, "refused": 0}
    for _ in range(400):
        data = bytearray(rng.choice(seeds))
        for _ in range(rng.randint(1, 8)):
            at = rng.randrange(len(data))
            choice = rng.random()
            if choice < 0.6:
                data[at] = rng.randrange(256)
            elif choice < 0.8:
                del data[at : at + rng.randint(1, 20)]
            else:
                data[at:at] = rng.randbytes(rng.randint(1, 10))
        try:
            decode_image(encode_image(bytes(data)))
            outcomes["decoded"] += 1
        except ProtocolError:
            outcomes["refused"] += 1
    assert outcomes["refused"] > 0 and outcomes["decoded"] > 0


# --- requests -----------------------------------------------------------------------------------


def test_request_with_an_unknown_field_is_refused():
    with pytest.raises(ValidationError, match="Extra inputs are not permitted") as caught:
        OcrRequest.model_validate({"image": "QUJD", "colour": "red"})
    assert "colour" in error_text(caught.value)


@pytest.mark.parametrize("deadline", [0, -1, math.nan, math.inf, 301])
def test_request_with_an_absurd_deadline_is_refused(deadline):
    with pytest.raises(ValidationError) as caught:
        OcrRequest.model_validate({"image": "QUJD", "deadline_s": deadline})
    assert "deadline_s" in error_text(caught.value)


def test_request_with_an_oversized_image_string_is_refused():
    with pytest.raises(ValidationError, match="at most") as caught:
        OcrRequest.model_validate({"image": "A" * (MAX_BODY_BYTES + 4)})
    assert "image" in error_text(caught.value)


@pytest.mark.parametrize("body", [b"", b"[]", b'{"image": 5}', b'{"image": "QUJD"', b"\xff\xfe"])
def test_malformed_request_json_is_refused(body):
    with pytest.raises(ValidationError):
        OcrRequest.model_validate_json(body)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("deadline_s", "12"),
        ("deadline_s", True),
        ("deadline_s", None),
        ("challenge_id", 7),
        ("challenge_id", True),
        ("image", ["QUJD"]),
        ("image", 5),
    ],
)
def test_request_fields_of_the_wrong_json_type_are_refused_not_coerced(field, value):
    body = json.dumps({"image": "QUJD", field: value}).encode()
    with pytest.raises(ValidationError) as caught:
        OcrRequest.model_validate_json(body)
    assert field in error_text(caught.value)


def test_a_whole_number_is_still_a_valid_deadline():
    request = OcrRequest.model_validate_json(b'{"image": "QUJD", "deadline_s": 12}')
    assert request.deadline_s == 12.0 and isinstance(request.deadline_s, float)


def test_the_validators_own_request_passes_the_strict_model():
    body = OcrRequest(image=encode_image(b"png bytes"), challenge_id="0123abcd", deadline_s=12.0).model_dump_json()
    assert OcrRequest.model_validate_json(body).challenge_id == "0123abcd"


def test_open_image_reads_the_size_before_the_pixels_are_decoded():
    buffer = io.BytesIO()
    Image.new("RGB", (300, 200), "white").save(buffer, format="JPEG")
    opened = open_image(encode_image(buffer.getvalue()))
    assert opened.size == (300, 200)
    assert opened.format == "JPEG"
    loaded = load_image(opened)
    assert loaded.mode == "RGB" and loaded.getpixel((0, 0)) == (255, 255, 255)


# --- responses ----------------------------------------------------------------------------------


def test_a_good_response_validates():
    response = OcrResponse.model_validate_json(json.dumps(response_with()))
    assert response.sections[0].position == (10, 20, 110, 40)


def test_too_many_sections_are_refused():
    with pytest.raises(ValidationError, match=f"at most {MAX_SECTIONS} items"):
        OcrResponse.model_validate({"sections": [GOOD_SECTION] * (MAX_SECTIONS + 1)})


def test_too_long_text_is_refused():
    with pytest.raises(ValidationError, match=f"at most {MAX_TEXT_CHARS} characters") as caught:
        OcrResponse.model_validate(response_with(text="x" * (MAX_TEXT_CHARS + 1)))
    assert "sections.0.text" in error_text(caught.value)


def test_too_long_font_family_is_refused():
    with pytest.raises(ValidationError, match=f"at most {MAX_FAMILY_CHARS} characters") as caught:
        OcrResponse.model_validate(response_with(font={"family": "H" * (MAX_FAMILY_CHARS + 1), "size": 10}))
    assert "sections.0.font.family" in error_text(caught.value)


@pytest.mark.parametrize(
    ("position", "problem"),
    [
        ([0, 0, math.inf, 10], "finite number"),
        ([0, math.nan, 10, 10], "finite number"),
        ([-math.inf, 0, 10, 10], "finite number"),
        ([0, 0, 1e300, 10], f"less than or equal to {MAX_COORDINATE:.0f}"),
        ([-1e12, 0, 10, 10], f"greater than or equal to {-MAX_COORDINATE:.0f}"),
        ([10, 0, 10, 10], "x0 < x1"),
        ([20, 0, 10, 10], "x0 < x1"),
        ([0, 10, 10, 5], "y0 < y1"),
        ([0, 0, 10], "Field required"),
        ([0, 0, 10, 10, 5], "at most 4 items"),
        (["left", 0, 10, 10], "valid number"),
        ("0,0,10,10", "valid tuple"),
    ],
)
def test_absurd_coordinates_are_refused(position, problem):
    with pytest.raises(ValidationError, match=problem) as caught:
        OcrResponse.model_validate(response_with(position=position))
    assert "sections.0.position" in error_text(caught.value)


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity", "1e999"])
def test_non_finite_json_numbers_are_refused(literal):
    body = json.dumps(response_with()).replace("110", literal)
    with pytest.raises(ValidationError, match="finite number"):
        OcrResponse.model_validate_json(body)


@pytest.mark.parametrize("size", [0, -12, math.nan, math.inf, 10_000])
def test_absurd_font_sizes_are_refused(size):
    with pytest.raises(ValidationError) as caught:
        OcrResponse.model_validate(response_with(font={"family": "Helvetica", "size": size}))
    assert "sections.0.font.size" in error_text(caught.value)


@pytest.mark.parametrize(
    ("payload", "where"),
    [
        ({"sections": [], "confidence": 1.0}, "confidence"),
        (response_with(score=1.0), "sections.0.score"),
        (response_with(font={"family": "Helvetica", "size": 10, "weight": "bold"}), "sections.0.font.weight"),
    ],
)
def test_unknown_fields_are_refused_and_named(payload, where):
    with pytest.raises(ValidationError, match="Extra inputs are not permitted") as caught:
        OcrResponse.model_validate(payload)
    assert where in error_text(caught.value)


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"null",
        b"[]",
        b'{"sections": {}}',
        b'{"sections": [1]}',
        b'{"sections": [',
        b"\x80\x81",
        b'{"x"' * 10,
    ],
)
def test_malformed_response_json_is_refused(body):
    with pytest.raises(ValidationError):
        OcrResponse.model_validate_json(body)


def test_missing_section_fields_are_named():
    with pytest.raises(ValidationError, match="Field required") as caught:
        OcrResponse.model_validate({"sections": [{"text": "x"}]})
    assert "sections.0.position" in error_text(caught.value)
    assert "sections.0.font" in error_text(caught.value)


def test_sections_are_immutable_once_validated():
    section = Section.model_validate(GOOD_SECTION)
    with pytest.raises(ValidationError):
        section.text = "changed"


def test_encode_decode_round_trip_keeps_the_bytes():
    raw = image_bytes("PNG")
    assert base64.b64decode(encode_image(raw)) == raw
