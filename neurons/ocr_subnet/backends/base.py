"""The interface every OCR engine implements (tesseract now, the Triton model later)."""

from __future__ import annotations

from typing import Any, Protocol

from PIL import Image

from ocr_subnet.sections import Section


class BackendError(RuntimeError):
    """The engine failed on this request; the miner answers 503 and keeps serving."""

    retryable = True  # may the same page succeed later (Triton busy, restarting, shedding)?


class PermanentBackendError(BackendError):
    """Trying the same page again cannot help: the model cannot read it, or the engine is gone."""

    retryable = False


class OcrBackend(Protocol):
    name: str

    def recognize(self, image: Image.Image) -> list[Section]:
        """Blocking; the miner runs it in a worker thread with its own deadline."""
        ...

    def close(self) -> None: ...


def recognize_within(backend: Any, image: Image.Image, timeout_s: float) -> list[Section]:
    """`backend.recognize(image)`, telling a backend that can use it (Triton) the caller's remaining
    time, so it stops waiting, and stops its server from computing, when nobody waits any more."""
    within = getattr(backend, "recognize_within", None)
    return within(image, timeout_s) if within is not None else backend.recognize(image)
