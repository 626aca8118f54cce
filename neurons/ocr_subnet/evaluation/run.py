"""Run engines over the real-PDF set: every listed page, at every resolution, in every variant, timed."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

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
WARM_UP_CALLS = 2  # TorchScript's profiling executor profiles a new input shape, then optimizes for it


def load_engine(name: EngineName, threads: int) -> Engine:
    """The miner's tesseract backend, or our model in-process (the packaged weights, as benchmarks/bench_model.py
    runs it) on `threads` torch threads."""
    if name is EngineName.TESSERACT:
        from ocr_subnet.backends.tesseract import TesseractBackend

        return TesseractBackend().recognize
    import torch

    from ocr_subnet.model.pipeline import OcrPipeline

    torch.set_num_threads(threads)
    pipeline = OcrPipeline.load()
    return lambda image: pipeline([np.asarray(image.convert("L"))])[0]


def evaluate(
    documents: Sequence[SourceDocument],
    per_document: int,
    engines: dict[EngineName, Engine],
    dpis: Sequence[int],
    variants: Sequence[Variant],
    on_page: Callable[[], None] = lambda: None,
) -> list[PageResult]:
    """Every engine on every planned page; `on_page` after each reading. Each engine reads the first image
    of every size WARM_UP_CALLS times untimed, so one-off costs (TorchScript optimizing for a new input shape)
    stay out of s/page: the figure is a warm engine's, as a serving miner's would be."""
    check_installed(documents)
    plan = page_plan(documents, per_document)
    warm: set[tuple[EngineName, tuple[int, int]]] = set()
    results = []
    for document in dict.fromkeys(d for d, _ in plan):
        with opened(document) as (path, pdf):
            for page in (p for d, p in plan if d == document):
                for dpi in dpis:
                    clean = rasterize(pdf, page, dpi)
                    truth = text_layer(path, page, clean.shape[1], clean.shape[0]).text
                    for variant in variants:
                        image = variant_raster(clean, variant, document.package, page, dpi)
                        for name, engine in engines.items():
                            if (name, image.size) not in warm:
                                for _ in range(WARM_UP_CALLS):
                                    engine(image)
                                warm.add((name, image.size))
                            start = time.perf_counter()
                            read = plain_text(engine(image))
                            seconds = time.perf_counter() - start
                            cer, found = page_cer(truth, read), word_accuracy(truth, read)
                            results.append(PageResult(name, dpi, variant, document.package, page, cer, found, seconds))
                            on_page()
    return results
