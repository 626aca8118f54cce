"""Our model against tesseract and PP-OCR on ordinary prose in every kind of published face, on the same pages.

Each face gets one page of the held-out Apache-2.0 licence (`evaluation.prose`: text no prior is fitted on,
set in a column at 11 pt), at 1, 2 and 3 px per point in turn, clean and scan-degraded. Per variant it prints
each engine's page CER, word accuracy and seconds per page (p50, p99), and the model's CER as a ratio of
tesseract's (the baseline, measured in the same run); then every face's CER per engine, so no face hides in a
mean. CER and word accuracy are the real-PDF set's (`real_pdfs.page_cer`, `word_accuracy`). Engines are warmed
up untimed first, as `ocr-subnet eval real-pdfs` does; on a shared machine run it on quiet cores.

    python benchmarks/bench_prose.py [--face-stride 2] [--engine model --engine tesseract] [--threads 2] [--json]
        [--weights-dir DIR] [--spread]

`--spread` reads each page beside its continuation, one landscape image (a two-page spread), as a scanned book or a
PDF's landscape page arrives.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from statistics import fmean

import numpy as np
import typer
from ocr_subnet.challenge import fonts
from ocr_subnet.evaluation import EngineName, Variant
from ocr_subnet.evaluation.prose import ProsePage, prose_pages
from ocr_subnet.evaluation.real_pdfs import page_cer, word_accuracy
from ocr_subnet.evaluation.run import Engine, load_engine, warm_up
from ocr_subnet.sections import plain_text
from PIL import Image
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

app = typer.Typer(add_completion=False, help=__doc__)

DENSITIES = (1.0, 2.0, 3.0)  # px per point, cycled over the faces


def read_pages(name: EngineName, engine: Engine, pages: list[ProsePage], progress: Progress) -> list[dict]:
    """One row per page: the engine's CER, word accuracy and wall seconds (one page per call, warmed up)."""
    task = progress.add_task(str(name), total=len(pages))
    sizes: set[tuple[int, int]] = set()
    rows = []
    for page in pages:
        image = Image.fromarray(page.image)
        if image.size not in sizes:
            warm_up(engine, image, first=not sizes)
            sizes.add(image.size)
        start = time.perf_counter()
        read = plain_text(engine(image))
        seconds = time.perf_counter() - start
        truth = plain_text(list(page.labels))
        rows.append(
            {
                "engine": str(name),
                "face": page.face,
                "variant": str(page.variant),
                "px_per_pt": page.px_per_pt,
                "cer": page_cer(truth, read),
                "word_accuracy": word_accuracy(truth, read),
                "seconds": seconds,
            }
        )
        progress.advance(task)
    return rows


def summary(rows: list[dict]) -> list[dict]:
    """Per variant and engine: mean CER and word accuracy, p50 and p99 seconds, CER over tesseract's."""
    out = []
    for variant in dict.fromkeys(r["variant"] for r in rows):
        tesseract = [r["cer"] for r in rows if r["variant"] == variant and r["engine"] == EngineName.TESSERACT]
        for engine in dict.fromkeys(r["engine"] for r in rows):
            group = [r for r in rows if r["variant"] == variant and r["engine"] == engine]
            seconds = [r["seconds"] for r in group]
            cer = fmean(r["cer"] for r in group)
            out.append(
                {
                    "variant": variant,
                    "engine": engine,
                    "pages": len(group),
                    "cer": cer,
                    "word_accuracy": fmean(r["word_accuracy"] for r in group),
                    "p50_s": float(np.percentile(seconds, 50, method="inverted_cdf")),
                    "p99_s": float(np.percentile(seconds, 99, method="inverted_cdf")),
                    "cer_vs_tesseract": cer / fmean(tesseract) if tesseract and fmean(tesseract) else None,
                }
            )
    return out


@app.command()
def main(
    face_stride: int = typer.Option(2, min=1, help="Every n-th published face (2: 26 faces of 15 typefaces)."),
    engine: list[EngineName] = typer.Option(list(EngineName), help="Engines to run (tesseract is the baseline)."),
    threads: int = typer.Option(2, min=1, help="torch and onnxruntime threads."),
    weights_dir: Path | None = typer.Option(None, help="The model's exported weights (default: the packaged ones)."),
    spread: bool = typer.Option(False, help="Read two-page spreads (landscape images) instead of single pages."),
    as_json: bool = typer.Option(False, "--json", help="Print every page's figures and the summary as JSON."),
) -> None:
    """CER, word accuracy and time per page of every engine on prose pages in the published faces."""
    faces = fonts.PUBLISHED_FAMILIES[::face_stride]
    pages = prose_pages(faces, DENSITIES, spread=spread)
    rows: list[dict] = []
    with Progress(transient=True, disable=as_json) as progress:
        for name in dict.fromkeys(engine):
            rows += read_pages(name, load_engine(name, threads, weights_dir), pages, progress)
    results = {"faces": len(faces), "summary": summary(rows), "pages": rows}
    if as_json:
        typer.echo(json.dumps(results, indent=2))
        return
    console = Console()
    table = Table("variant", "engine", "pages", "CER", "words", "p50 s", "p99 s", "CER / tesseract's")
    for r in results["summary"]:
        ratio = "" if r["cer_vs_tesseract"] is None else f"{r['cer_vs_tesseract']:.2f}"
        table.add_row(
            r["variant"], r["engine"], str(r["pages"]), f"{100 * r['cer']:.2f}%", f"{100 * r['word_accuracy']:.1f}%",
            f"{r['p50_s']:.2f}", f"{r['p99_s']:.2f}", ratio,
        )  # fmt: skip
    console.print(table)
    engines = list(dict.fromkeys(r["engine"] for r in rows))
    per_face = Table("face", "px/pt", *(f"{e} {v}" for v in Variant for e in engines), title="CER per face")
    for face in faces:
        mine = [r for r in rows if r["face"] == face]
        cells = [
            f"{100 * r['cer']:.1f}%"
            for v in Variant
            for e in engines
            for r in mine
            if (r["engine"], r["variant"]) == (e, v)
        ]
        per_face.add_row(face, f"{mine[0]['px_per_pt']:g}", *cells)
    console.print(per_face)


if __name__ == "__main__":
    app()
