"""The interface every OCR engine implements (tesseract now, the Triton model later)."""

from __future__ import annotations

from typing import Protocol

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
