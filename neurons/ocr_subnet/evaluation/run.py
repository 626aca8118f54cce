"""Run engines over the real-PDF set: every listed page, at every resolution, in every variant, timed."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
from PIL import Image

from ocr_subnet.evaluation import EngineName, Variant
from ocr_subnet.evaluation.real_pdfs import (
    PageResult,
    SourceDocument,
    check_installed,
    opened,
    page_cer,
    page_plan,
    rasterize,
    text_layer,
    variant_raster,
    word_accuracy,
)
from ocr_subnet.sections import Section, plain_text

Engine = Callable[[Image.Image], list[Section]]


class EngineUnavailable(RuntimeError):
    """An engine cannot start here: tesseract not installed, the model's weights missing or damaged."""


WARM_UP_CALLS = 2  # TorchScript's profiling executor profiles a new input shape, then optimizes for it


def load_engine(name: EngineName, threads: int, weights_dir: Path | None = None) -> Engine:
    """The miner's tesseract backend, or our model in-process (the weights in `weights_dir`, default the
    packaged ones, as benchmarks/bench_model.py runs them) on `threads` torch threads."""
    if name is EngineName.TESSERACT:
        from ocr_subnet.backends.base import BackendError
        from ocr_subnet.backends.tesseract import TesseractBackend

        try:
            return TesseractBackend().recognize
        except BackendError as exc:
            raise EngineUnavailable(f"tesseract: {exc}") from exc
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
    check_installed(documents)
    plan = page_plan(documents, per_document)
    warm: set[tuple[EngineName, tuple[int, int]]] = set()
    results = []
    for document in dict.fromkeys(d for d, _ in plan):
        with opened(document) as (path, pdf):
            for page in (p for d, p in plan if d == document):
                truth = ""
                for dpi in dpis:
                    clean = rasterize(pdf, page, dpi)
                    # The text does not depend on the density: pdftotext runs once a page.
                    truth = truth or text_layer(path, page, clean.shape[1], clean.shape[0]).text
                    for variant in variants:
                        image = variant_raster(clean, variant, document.package, page, dpi)
                        for name, engine in engines.items():
                            if (name, image.size) not in warm:
                                warm_up(engine, image, first=not any(n == name for n, _ in warm))
                                warm.add((name, image.size))
                            start = time.perf_counter()
                            read = plain_text(engine(image))
                            seconds = time.perf_counter() - start
                            cer, found = page_cer(truth, read), word_accuracy(truth, read)
                            results.append(PageResult(name, dpi, variant, document.package, page, cer, found, seconds))
                            on_page()
    return results
