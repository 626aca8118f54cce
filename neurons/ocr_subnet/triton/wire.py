"""The tensors between a client (the miner, `ocr-subnet ocr`) and the Triton model: one page per row.

Pages travel as raw uint8 grayscale bytes plus their (height, width): re-encoding a page as PNG
costs ~75 ms on this CPU, copying its pixels well under 1 ms, and BYTES rows of any length batch
together in Triton's dynamic batcher (a variable-shape uint8 tensor would not). Answers travel as
the `OcrResponse` JSON of DESIGN.md, so the client validates them with the model the miner answers
with. A page the server cannot read or recognize gets an error string in its own row: it fails
alone, never the other requests that shared its batch.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from pydantic import ValidationError

from ocr_subnet.protocol import MAX_IMAGE_PIXELS, MAX_SECTIONS, OcrResponse
from ocr_subnet.sections import Section

MODEL_NAME = "ocr"
PIXELS = "pixels"  # BYTES [batch, 1]: the page's uint8 grayscale pixels, row-major
SIZE = "size"  # INT64 [batch, 2]: height, width
SECTIONS = "sections"  # BYTES [batch, 1]: OcrResponse JSON, b"" when the row failed
ERROR = "error"  # BYTES [batch, 1]: why the row failed, b"" when it did not
MAX_ERROR_CHARS = 500


class WireError(ValueError):
    """A row that does not follow this contract; the message says how."""


def page_tensors(pages: Sequence[np.ndarray]) -> dict[str, np.ndarray]:
    """Request tensors for a batch of 2-D uint8 pages."""
    pixels = np.empty((len(pages), 1), dtype=np.object_)
    for row, page in enumerate(pages):
        if page.ndim != 2 or page.dtype != np.uint8:
            raise WireError(f"a page must be a 2-D uint8 array, got {page.ndim}-D {page.dtype}")
        pixels[row, 0] = np.ascontiguousarray(page).tobytes()
    sizes = np.array([page.shape for page in pages], dtype=np.int64).reshape(len(pages), 2)
    return {PIXELS: pixels, SIZE: sizes}


def decode_page(pixels: bytes, size: Sequence[int]) -> np.ndarray:
    """One request row back to a page, refusing sizes that do not match the bytes or are absurd."""
    if len(size) != 2:
        raise WireError(f"size must be (height, width), got {list(size)}")
    height, width = (int(v) for v in size)
    if height < 1 or width < 1 or height * width > MAX_IMAGE_PIXELS:
        raise WireError(f"page size {height}x{width} is outside 1..{MAX_IMAGE_PIXELS} pixels")
    if len(pixels) != height * width:
        raise WireError(f"page of {height}x{width} needs {height * width} bytes, got {len(pixels)}")
    return np.frombuffer(pixels, dtype=np.uint8).reshape(height, width)


def answer_row(result: Sequence[Section] | str) -> tuple[bytes, bytes]:
    """One page's (sections, error) output row. Extra sections past the protocol's limit are dropped:
    the miner could not send them, and a noisy page must not turn a valid answer into a failure."""
    if isinstance(result, str):
        return b"", result[:MAX_ERROR_CHARS].encode("utf-8", "replace") or b"failed"
    try:
        return OcrResponse(sections=list(result[:MAX_SECTIONS])).model_dump_json().encode(), b""
    except ValidationError as exc:
        return answer_row(f"the model answered invalid sections: {exc.errors(include_input=False)[:3]}")


def answer_tensors(results: Sequence[Sequence[Section] | str]) -> dict[str, np.ndarray]:
    """Response tensors for a batch: one row per page, in request order."""
    rows = [answer_row(result) for result in results]
    sections = np.empty((len(rows), 1), dtype=np.object_)
    errors = np.empty((len(rows), 1), dtype=np.object_)
    for index, (answer, error) in enumerate(rows):
        sections[index, 0], errors[index, 0] = answer, error
    return {SECTIONS: sections, ERROR: errors}


def parse_answer(sections: bytes, error: bytes) -> list[Section]:
    """One response row -> its sections; a failed or malformed row raises `WireError`."""
    if error:
        raise WireError(error.decode("utf-8", "replace"))
    try:
        return OcrResponse.model_validate_json(sections).sections
    except ValidationError as exc:
        raise WireError(f"the model answered invalid sections: {exc.errors(include_input=False)[:3]}") from exc
