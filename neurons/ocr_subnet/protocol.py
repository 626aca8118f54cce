"""The validator-to-miner OCR protocol, shared by both sides.

`POST /ocr` carries an `OcrRequest` as JSON, signed with btauth/1; the miner answers an
`OcrResponse`. Everything a peer sends is validated here before anyone acts on it, so a
malformed or hostile payload becomes a `ProtocolError` with a clear message, never a crash.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import io
import warnings
from collections.abc import Iterator

from PIL import Image
from pydantic import BaseModel, ConfigDict, Field

from ocr_subnet.deadlines import DEFAULT_DEADLINE_S
from ocr_subnet.sections import Section

OCR_PATH = "/ocr"
HEALTH_PATH = "/healthz"
METRICS_PATH = "/metrics"

MAX_BODY_BYTES = 8 * 1024 * 1024  # a request body over this is refused (413)
MAX_RESPONSE_BYTES = 4 * 1024 * 1024  # the validator stops reading a miner's answer past this
MAX_IMAGE_PIXELS = 25_000_000  # decompression-bomb guard: ~5000 x 5000
MAX_SECTIONS = 1_000
ALLOWED_IMAGE_FORMATS = ("PNG", "JPEG")


class ProtocolError(ValueError):
    """A peer sent something this protocol does not accept; the message says what."""


class OcrRequest(BaseModel):
    """Strict: a field of the wrong JSON type (`"deadline_s": "12"`, `"deadline_s": true`) is refused,
    never coerced; a whole number is still a valid `deadline_s`."""

    model_config = ConfigDict(extra="forbid", strict=True)

    image: str = Field(description="base64 of a PNG or JPEG", max_length=MAX_BODY_BYTES)
    challenge_id: str = Field(default="", max_length=128)
    deadline_s: float = Field(
        default=DEFAULT_DEADLINE_S, gt=0, le=300, description="the validator stops waiting after this"
    )


class OcrResponse(BaseModel):
    model_config = ConfigDict(extra="forbid")

    sections: list[Section] = Field(max_length=MAX_SECTIONS)


class ErrorResponse(BaseModel):
    detail: str


def encode_image(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def decode_image(encoded: str) -> Image.Image:
    """Base64 PNG/JPEG -> a loaded RGB or L image, refusing anything else before decoding pixels."""
    return load_image(open_image(encoded))


def open_image(encoded: str) -> Image.Image:
    """Base64 PNG/JPEG -> an image whose format and size are checked and whose pixels are not decoded
    yet: `image.size` tells what `load_image` will cost before anyone pays it."""
    try:
        raw = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ProtocolError(f"image is not valid base64: {exc}") from exc
    if not raw:
        raise ProtocolError("image is empty")
    with pillow_errors():
        image = Image.open(io.BytesIO(raw))
    if image.format not in ALLOWED_IMAGE_FORMATS:
        raise ProtocolError(f"image format {image.format} is not one of {ALLOWED_IMAGE_FORMATS}")
    width, height = image.size
    if width * height > MAX_IMAGE_PIXELS:
        raise ProtocolError(f"image is {width}x{height}, over the {MAX_IMAGE_PIXELS} pixel limit")
    return image


def load_image(image: Image.Image) -> Image.Image:
    """Decodes the pixels of an `open_image` result: a loaded RGB or L image."""
    with pillow_errors():
        image.load()
    if image.mode not in ("L", "RGB"):
        image = image.convert("RGB")
    return image


class UnreadableImage(ProtocolError):
    """Pillow could not read the bytes; `bomb` when it refused them as a decompression bomb."""

    def __init__(self, detail: str, *, bomb: bool) -> None:
        what = "image refused as a decompression bomb" if bomb else "image bytes are not a readable PNG or JPEG"
        super().__init__(f"{what}: {detail}")
        self.detail = detail
        self.bomb = bomb


@contextlib.contextmanager
def pillow_errors() -> Iterator[None]:
    """Whatever Pillow raises on hostile bytes becomes `UnreadableImage`; the one place that knows what it raises."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            yield
    except (Image.DecompressionBombWarning, Image.DecompressionBombError) as exc:
        raise UnreadableImage(str(exc), bomb=True) from exc
    except (OSError, SyntaxError, ValueError) as exc:
        raise UnreadableImage(str(exc), bomb=False) from exc
