"""Run engines over the real-PDF set: every listed page, at every resolution, in every variant, timed."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
from PIL import Image

from ocr_subnet.evaluation import EngineName, Variant
from ocr_subnet.evaluation.real_pdfs import (
    TEXT_LAYER_FAMILY,
    PageResult,
    SourceDocument,
    page_cer,
    real_pages,
    word_accuracy,
)
from ocr_subnet.sections import Font, Section, plain_text

Engine = Callable[[Image.Image], list[Section]]


class EngineUnavailable(RuntimeError):
    """An engine cannot start here: tesseract or rapidocr-onnxruntime not installed, the model's weights missing
    or damaged."""


PPOCR_PACKAGE = "rapidocr-onnxruntime"
PpocrLine = tuple[Sequence[Sequence[float]], str, float]  # RapidOCR's reading of a line: corners, text, score


def ppocr_sections(lines: Sequence[PpocrLine] | None) -> list[Section]:
    """RapidOCR's lines (four corners in pixels, text, score; None when it found none) as sections: each line's
    corners bound its box, and its height stands for the font size (PP-OCR names no font)."""
    sections = []
    for corners, text, _ in lines or ():
        xs, ys = [float(c[0]) for c in corners], [float(c[1]) for c in corners]
        x0, y0, x1, y1 = min(xs), min(ys), max(xs), max(ys)
        if text.strip() and x1 > x0 and y1 > y0:
            font = Font(family=TEXT_LAYER_FAMILY, size=round(y1 - y0, 2))
            sections.append(Section(text=text, position=(x0, y0, x1, y1), font=font))
    return sections


WARM_UP_CALLS = 2  # TorchScript's profiling executor profiles a new input shape, then optimizes for it


def load_engine(name: EngineName, threads: int, weights_dir: Path | None = None) -> Engine:
    """The miner's tesseract backend, PP-OCR through RapidOCR (its own bundled ONNX models, on `threads` threads),
    or our model in-process (the weights in `weights_dir`, default the packaged ones, as benchmarks/bench_model.py
    runs them) on `threads` torch threads."""
    if name is EngineName.TESSERACT:
        from ocr_subnet.backends.base import BackendError
        from ocr_subnet.backends.tesseract import TesseractBackend

        try:
            return TesseractBackend().recognize
        except BackendError as exc:
            raise EngineUnavailable(f"tesseract: {exc}") from exc
    if name is EngineName.PPOCR:
        try:
            from rapidocr_onnxruntime import RapidOCR
        except ImportError as exc:
            raise EngineUnavailable(
                f"ppocr: {PPOCR_PACKAGE} is not installed: pip install 'ocr-subnet[eval]' (scripts/setup.sh does)"
            ) from exc
        reader = RapidOCR(intra_op_num_threads=threads, inter_op_num_threads=1)
        return lambda image: ppocr_sections(reader(np.asarray(image.convert("RGB")))[0])
    import torch

    from ocr_subnet.model.pipeline import ModelLoadError, OcrPipeline

    torch.set_num_threads(threads)
    try:
        pipeline = OcrPipeline.load(weights_dir)
    except ModelLoadError as exc:
        raise EngineUnavailable(f"model: {exc}") from exc
    return lambda image: pipeline([np.asarray(image.convert("L"))])[0]


def warm_up(engine: Engine, image: Image.Image, first: bool) -> None:
    """Untimed calls that keep one-off costs out of s/page, so the figure is a warm engine's, as a serving
    miner's would be: the engine's first page once (TorchScript profiles and optimizes the networks on their
    first calls, the corrections load lazily), then a blank page of each new size WARM_UP_CALLS times (the
    detector is optimized per input shape; a blank page costs little else)."""
    if first:
        engine(image)
    blank = Image.new("L", image.size, 255)
    for _ in range(WARM_UP_CALLS):
        engine(blank)


def evaluate(
    documents: Sequence[SourceDocument],
    per_document: int,
    engines: dict[EngineName, Engine],
    dpis: Sequence[int],
    variants: Sequence[Variant],
    on_page: Callable[[], None] = lambda: None,
) -> list[PageResult]:
    """Every engine on every planned page, each warmed up first (`warm_up`); `on_page` after each reading."""
    warm: set[tuple[EngineName, tuple[int, int]]] = set()
    results = []
    for page in real_pages(documents, per_document, dpis, variants):
        for name, engine in engines.items():
            if (name, page.image.size) not in warm:
                warm_up(engine, page.image, first=not any(n == name for n, _ in warm))
                warm.add((name, page.image.size))
            start = time.perf_counter()
            read = plain_text(engine(page.image))
            seconds = time.perf_counter() - start
            cer, found = page_cer(page.truth, read), word_accuracy(page.truth, read)
            results.append(
                PageResult(name, page.dpi, page.variant, page.document.package, page.page, cer, found, seconds)
            )
            on_page()
    return results
