"""Our OCR model against the tesseract miner and PP-OCR, side by side on the same held-out pages in one run.

Per source (difficulty 0..4 of our challenges, and tutorial-like invoices: the tutorial's layout
rasterized by poppler and corrupted as the tutorial does) it reports our reward and the
tutorial-style reward (prediction part, latency excluded), page CER, the font reward, and wall
latency per page (p50/p95, one page per call) for every engine; then the model's throughput at a
few batch sizes and the memory each engine needs; and what each correction of the readings (the
lexicon, then the language model) does to the model's CER. Pages come from the benchmark's own seeds,
which training never draws. torch gets `--threads` threads; tesseract runs single-threaded, as
the tesseract miner does; PP-OCR (`--no-ppocr` leaves it out) gets as many onnxruntime threads as the
model. On a shared machine run it on quiet cores: latencies are wall time.

    python benchmarks/bench_model.py --pages 10 [--threads 2] [--precision auto] [--weights-dir DIR] [--json]
"""

from __future__ import annotations

import json
import math
import resource
import statistics
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import torch
import typer
from ocr_subnet.backends.tesseract import TesseractBackend
from ocr_subnet.evaluation import EngineName
from ocr_subnet.evaluation.run import EngineUnavailable, load_engine
from ocr_subnet.model import Precision
from ocr_subnet.model.correction import Corrector
from ocr_subnet.model.evaluate import (
    BENCHMARK_BASE,
    SOURCES,
    EvalPage,
    corrected_cer,
    eval_pages,
    label_scored,
    page_metrics,
    summarize,
)
from ocr_subnet.model.pipeline import OcrPipeline
from ocr_subnet.sections import Section
from PIL import Image
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

app = typer.Typer(add_completion=False, help=__doc__)

Engine = Callable[[np.ndarray], list[Section]]
BATCH_SIZES = (1, 4, 8)


def rss_mib(field: str = "VmHWM") -> float:
    """This process's resident memory (VmRSS now, VmHWM peak) in MiB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return math.nan


def percentile(samples: Sequence[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]


def run_engine(engine: Engine, pages: Sequence[EvalPage], progress: Progress, task: int) -> dict[str, dict]:
    """Score and time one engine on every page, one page per call."""
    rows, latencies = [], {}
    for page in pages:
        start = time.perf_counter()
        predicted = engine(page.image)
        latencies.setdefault(page.source, []).append(time.perf_counter() - start)
        rows.append((page.source, page_metrics(page.labels, predicted)))
        progress.advance(task)
    results = summarize(rows)
    for source, samples in latencies.items():
        results[source] |= {"p50_ms": 1000 * statistics.median(samples), "p95_ms": 1000 * percentile(samples, 0.95)}
    return results


def throughput(pipeline: OcrPipeline, pages: Sequence[EvalPage], repeats: int) -> dict[str, float]:
    """Pages per second when the pipeline gets `b` pages per call (what dynamic batching hands it)."""
    images = [p.image for p in pages]
    out = {}
    for size in BATCH_SIZES:
        batches = [images[i : i + size] for i in range(0, len(images) - size + 1, size)] * repeats
        start = time.perf_counter()
        for batch in batches:
            pipeline(batch)
        out[f"batch_{size}"] = sum(len(b) for b in batches) / (time.perf_counter() - start)
    return out


def correction_effect(pipeline: OcrPipeline, pages: Sequence[EvalPage]) -> dict[str, dict[str, float]]:
    """Mean CER per source of the same readings uncorrected, with the lexicon alone, and with both corrections
    (the recognizer runs once; only the corrections are re-run)."""
    corrector = pipeline.corrector
    if corrector is None:
        return {}
    uncorrected = pipeline.uncorrected()
    readings = label_scored([(uncorrected.read([page.image])[0], page) for page in pages])
    stages = {
        "uncorrected": Corrector(corrector.lexicon, None, 0.0, 0.0),
        "lexicon": Corrector(corrector.lexicon, None, corrector.lexicon_penalty, 0.0),
        "lexicon + language model": corrector,
    }
    sources = [page.source for page in pages]
    return {
        source: {
            stage: corrected_cer(
                [r for r, s in zip(readings, sources, strict=True) if s == source], fix, pipeline.calibration
            )
            for stage, fix in stages.items()
        }
        for source in dict.fromkeys(sources)
    }


@app.command()
def main(
    pages: int = typer.Option(10, min=1, max=256, help="Held-out pages per source."),
    threads: int = typer.Option(2, min=1, help="torch threads for the model."),
    weights_dir: Path | None = typer.Option(None, help="Exported weights (default: the packaged ones)."),
    precision: Precision = typer.Option(Precision.AUTO, help="The model's dtype: auto is bf16 where native."),
    tesseract: bool = typer.Option(True, help="Also run the tesseract miner's backend."),
    ppocr: bool = typer.Option(True, help="Also run PP-OCR (rapidocr-onnxruntime) on as many threads as the model."),
    as_json: bool = typer.Option(False, "--json", help="Print the results as JSON instead of tables."),
) -> None:
    """Quality and latency of the model, tesseract and PP-OCR per source, model throughput, memory."""
    torch.set_num_threads(threads)
    console = Console(stderr=True)
    with console.status("drawing held-out pages"):
        held_out = eval_pages(BENCHMARK_BASE, pages)
    baseline_rss = rss_mib("VmRSS")
    pipeline = OcrPipeline.load(weights_dir, precision=precision)
    for page in held_out[:3]:  # warm-up: TorchScript profiles and optimizes on its first calls
        pipeline([page.image])
    engines: dict[str, Engine] = {"model": lambda image: pipeline([image])[0]}
    if tesseract:
        backend = TesseractBackend()
        engines["tesseract"] = lambda image: backend.recognize(Image.fromarray(image))
    if ppocr:
        try:
            reader = load_engine(EngineName.PPOCR, threads)
        except EngineUnavailable as exc:
            raise typer.BadParameter(f"{exc} (or pass --no-ppocr)", param_hint="ppocr") from exc
        engines["ppocr"] = lambda image: reader(Image.fromarray(image))
    results: dict[str, object] = {}
    with Progress(console=console, transient=True) as progress:
        for name, engine in engines.items():
            task = progress.add_task(name, total=len(held_out))
            results[name] = run_engine(engine, held_out, progress, task)
    level1 = [p for p in held_out if p.source == "level1"]
    results["model_throughput_pages_per_s"] = throughput(pipeline, level1, repeats=2)
    with console.status("re-running the corrections on level-1 and tutorial-like readings"):
        results["model_cer_by_correction"] = correction_effect(
            pipeline, [p for p in held_out if p.source in ("level1", "tutorial")]
        )
    results["memory_mib"] = {
        "model_process_peak_rss": rss_mib("VmHWM"),
        "model_added_rss": rss_mib("VmRSS") - baseline_rss,
        "tesseract_child_peak_rss": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024,
    }
    results["settings"] = {
        "pages_per_source": pages,
        "threads": threads,
        "precision": str(pipeline.dtype).removeprefix("torch."),
        "seed_base": BENCHMARK_BASE,
    }
    if as_json:
        typer.echo(json.dumps(results, indent=2))
        return
    print_tables(results, list(engines))


def print_tables(results: dict, engines: list[str]) -> None:
    console = Console()
    table = Table(title="held-out pages: quality and latency per page")
    table.add_column("source")
    table.add_column("engine")
    for column in ("reward", "tutorial reward", "CER", "font", "text", "position", "p50 ms", "p95 ms"):
        table.add_column(column, justify="right")
    keys = ("reward", "tutorial_reward", "cer", "font", "text", "position", "p50_ms", "p95_ms")
    for source in SOURCES:
        for engine in engines:
            row = results[engine][source]
            cells = [f"{row[k]:.3f}" if not k.endswith("_ms") else f"{row[k]:.0f}" for k in keys]
            table.add_row(source, engine, *cells)
    console.print(table)
    throughput = results["model_throughput_pages_per_s"]
    console.print("model throughput (pages/s): " + ", ".join(f"{k} {v:.1f}" for k, v in throughput.items()))
    for source, stages in results["model_cer_by_correction"].items():
        console.print(f"model CER on {source} by correction: " + ", ".join(f"{k} {v:.2%}" for k, v in stages.items()))
    console.print("memory (MiB): " + ", ".join(f"{k} {v:.0f}" for k, v in results["memory_mib"].items()))
    console.print("settings: " + ", ".join(f"{k} {v}" for k, v in results["settings"].items()))


if __name__ == "__main__":
    app()
