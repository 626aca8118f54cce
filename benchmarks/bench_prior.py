"""The language prior's effect: the same readings corrected by one prior, by another, and not at all.

Two kinds of pages, each read once by the networks (uncorrected; only the corrections are re-run):
- prose: paragraphs of the held-out Apache-2.0 licence (`prior.HELD_OUT`, never fitted), set in
  published faces at 1, 2 and 3 px per point, clean and scan-degraded (level 3's scan effects and
  blur); tesseract reads the same pages;
- the validator's level-1 invoices (the benchmark's own seeds, as `bench_model.py`): reward and CER.
Per prior it prints page CER (and reward on invoices) and the corrections' CPU time per page. The
baseline is another weights folder's prior files (`--baseline-dir`, e.g. a copy of the weights before
`ocr-subnet fit-prior`) under this checkout's correction code and the measured weights' calibration.

    python benchmarks/bench_prior.py --baseline-dir OLD_WEIGHTS [--weights-dir NEW] --prose-pages 6 --invoice-pages 6
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch
import typer
from ocr_subnet.backends.tesseract import TesseractBackend
from ocr_subnet.challenge import fonts
from ocr_subnet.evaluation.prose import ProsePage, prose_pages
from ocr_subnet.model.correction import Corrector
from ocr_subnet.model.evaluate import BENCHMARK_BASE, EvalPage, eval_pages, page_metrics
from ocr_subnet.model.pipeline import OcrPipeline, Reading, load_corrector, to_sections
from ocr_subnet.scoring.cer import character_error_rate
from PIL import Image
from rich.console import Console
from rich.table import Table

app = typer.Typer(add_completion=False, help=__doc__)

DENSITIES = (1.0, 2.0, 3.0)  # px per point, cycled over the pages
FACE_STRIDE = 7  # faces taken from the published list: every 7th, so the sample spans its families


def sample_pages(count: int) -> list[ProsePage]:
    """`count` pages per condition (clean, degraded), each from its own paragraphs, face and density."""
    faces = fonts.PUBLISHED_FAMILIES[::FACE_STRIDE]
    return prose_pages([faces[i % len(faces)] for i in range(count)], DENSITIES)


def corrected(reading: Reading, corrector: Corrector | None) -> tuple[Reading, float]:
    """The reading's texts once `corrector` has run, and the CPU seconds it took."""
    if corrector is None:
        return reading, 0.0
    start = time.process_time()
    texts = [corrector(text, columns) for text, columns in zip(reading.texts, reading.log_probs, strict=True)]
    return replace(reading, texts=texts), time.process_time() - start


def score_priors(
    pipeline: OcrPipeline,
    pages: Sequence[ProsePage | EvalPage],
    priors: dict[str, Corrector | None],
) -> dict[str, dict[str, dict[str, float]]]:
    """Per source and prior: mean CER, reward (invoices) and corrections' CPU seconds per page."""
    rows: dict[str, dict[str, list[dict[str, float]]]] = {}
    for page in pages:
        (reading,) = pipeline.read([page.image])
        height, width = page.image.shape
        for name, corrector in priors.items():
            fixed, seconds = corrected(reading, corrector)
            sections = to_sections(fixed, width, height, pipeline.calibration)
            metrics = page_metrics(page.labels, sections) if isinstance(page, EvalPage) else {}
            metrics |= {"cer": character_error_rate(page.labels, sections), "correction_s": seconds}
            rows.setdefault(page.source, {}).setdefault(name, []).append(metrics)
    return {
        source: {name: {k: float(np.mean([m[k] for m in ms])) for k in ms[0]} for name, ms in by_prior.items()}
        for source, by_prior in rows.items()
    }


def tesseract_cer(pages: Sequence[ProsePage]) -> dict[str, dict[str, float]]:
    backend = TesseractBackend()
    rows: dict[str, list[float]] = {}
    for page in pages:
        predicted = backend.recognize(Image.fromarray(page.image))
        rows.setdefault(page.source, []).append(character_error_rate(page.labels, predicted))
    return {source: {"cer": float(np.mean(rates))} for source, rates in rows.items()}


@app.command()
def main(
    baseline_dir: Path = typer.Option(..., help="Weights with the prior to compare against (e.g. a copy of the old)."),
    weights_dir: Path | None = typer.Option(None, help="Weights with the new prior (default: the packaged ones)."),
    prose_pages_count: int = typer.Option(4, "--prose-pages", min=1, help="Prose pages per condition."),
    invoice_pages: int = typer.Option(6, min=0, help="Level-1 invoices."),
    threads: int = typer.Option(2, min=1, help="torch threads."),
    tesseract: bool = typer.Option(True, help="Also read the prose pages with tesseract."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON only."),
) -> None:
    """CER (and invoice reward) with the new prior, the baseline prior and none, on the same readings."""
    torch.set_num_threads(threads)
    pipeline = OcrPipeline.load(weights_dir)
    priors = {
        "off": None,
        "baseline": load_corrector(baseline_dir, pipeline.calibration),
        "new": pipeline.corrector,
    }
    pipeline.corrector = None  # read once; the priors are applied to the same readings
    prose = sample_pages(prose_pages_count)
    invoices = eval_pages(BENCHMARK_BASE, invoice_pages, ["level1"]) if invoice_pages else []
    results = score_priors(pipeline, [*prose, *invoices], priors)
    if tesseract:
        for source, metrics in tesseract_cer(prose).items():
            results[source]["tesseract"] = metrics
    if as_json:
        typer.echo(json.dumps(results, indent=2))
        return
    table = Table("source", "engine", "CER", "reward", "corrections s/page")
    for source, by_engine in results.items():
        for engine, m in by_engine.items():
            reward = f"{m['reward']:.3f}" if "reward" in m else ""
            seconds = f"{m['correction_s']:.2f}" if "correction_s" in m else ""
            table.add_row(source, engine, f"{100 * m['cer']:.2f}%", reward, seconds)
    Console().print(table)


if __name__ == "__main__":
    app()
