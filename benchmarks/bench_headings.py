"""Headings far larger than body text (title pages, slides, posters): our model against tesseract, same pages.

Each page is a 1 px/pt letter page: a heading (five of them, in four faces, at 40 to 150 px: the sizes that send
our detector to its coarse canvases, `model/scales.py`) over two lines of 11 px body text; pages whose heading
does not fit the width are left out. Per engine it prints the headings read exactly, the page CER (heading and body,
`real_pdfs.page_cer`) with its ratio to tesseract's (the baseline, measured in the same run) and seconds per page;
then every page an engine read otherwise.

    python benchmarks/bench_headings.py [--engine model --engine tesseract] [--threads 2] [--weights-dir DIR] [--json]
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from statistics import fmean

import numpy as np
import typer
from ocr_subnet.evaluation import EngineName
from ocr_subnet.evaluation.headings import BODY, DEJAVU_SERIF, LEFT, PAGE, TRUETYPE, heading_page, heading_width
from ocr_subnet.evaluation.real_pdfs import page_cer
from ocr_subnet.evaluation.run import load_engine, warm_up
from ocr_subnet.sections import plain_text
from PIL import Image
from rich.console import Console
from rich.table import Table

app = typer.Typer(add_completion=False, help=__doc__)

FACES = {
    "DejaVu Serif": DEJAVU_SERIF,
    "Liberation Sans": TRUETYPE / "liberation/LiberationSans-Regular.ttf",
    "Liberation Sans Bold": TRUETYPE / "liberation/LiberationSans-Bold.ttf",
    "Liberation Serif": TRUETYPE / "liberation/LiberationSerif-Regular.ttf",
}
HEADINGS = ("Report", "Annual Report", "Chapter 3", "INVOICE", "Welcome")
SIZES = (40, 60, 80, 110, 150)  # px


def heading_pages() -> list[tuple[str, int, str, Image.Image]]:
    """(face, size, heading, page) for every heading that fits the page's width at that size."""
    return [
        (face, size, heading, heading_page(heading, size, path, FACES["Liberation Serif"]))
        for face, path in FACES.items()
        for size in SIZES
        for heading in HEADINGS
        if LEFT + heading_width(heading, size, path) <= PAGE[0] - 12
    ]


@app.command()
def main(
    engine: list[EngineName] = typer.Option(
        [EngineName.MODEL, EngineName.TESSERACT], help="Engines to run (tesseract is the baseline)."
    ),
    threads: int = typer.Option(2, min=1, help="torch and onnxruntime threads."),
    weights_dir: Path | None = typer.Option(None, help="The model's exported weights (default: the packaged ones)."),
    as_json: bool = typer.Option(False, "--json", help="Print every page's figures and the summary as JSON."),
) -> None:
    """Headings read exactly, page CER and seconds per page of each engine on heading pages."""
    pages = heading_pages()
    rows = []
    for name in dict.fromkeys(engine):
        read = load_engine(name, threads, weights_dir)
        warm_up(read, pages[0][3], first=True)
        for face, size, heading, image in pages:
            start = time.perf_counter()
            lines = plain_text(read(image)).split("\n")
            seconds = time.perf_counter() - start
            truth = "\n".join((heading, *BODY))
            rows.append(
                {
                    "engine": str(name), "face": face, "size": size, "heading": heading, "read": lines,
                    "exact": lines[0] == heading, "cer": page_cer(truth, "\n".join(lines)), "seconds": seconds,
                }
            )  # fmt: skip
    tesseract = [r["cer"] for r in rows if r["engine"] == EngineName.TESSERACT]
    summary = [
        {
            "engine": name,
            "pages": len(group),
            "headings_exact": sum(r["exact"] for r in group),
            "cer": fmean(r["cer"] for r in group),
            "p50_s": float(np.percentile([r["seconds"] for r in group], 50, method="inverted_cdf")),
            "cer_vs_tesseract": fmean(r["cer"] for r in group) / fmean(tesseract)
            if tesseract and fmean(tesseract)
            else None,
        }
        for name in dict.fromkeys(r["engine"] for r in rows)
        for group in [[r for r in rows if r["engine"] == name]]
    ]
    if as_json:
        typer.echo(json.dumps({"summary": summary, "pages": rows}, indent=2))
        return
    console = Console()
    table = Table("engine", "pages", "headings exact", "page CER", "p50 s", "CER / tesseract's")
    for s in summary:
        ratio = "" if s["cer_vs_tesseract"] is None else f"{s['cer_vs_tesseract']:.2f}"
        table.add_row(
            s["engine"], str(s["pages"]), str(s["headings_exact"]), f"{100 * s['cer']:.2f}%", f"{s['p50_s']:.2f}", ratio
        )
    console.print(table)
    misses = Table("engine", "face", "px", "heading", "read", title="pages read otherwise")
    for r in rows:
        if not r["exact"] or len(r["read"]) != 1 + len(BODY):
            misses.add_row(r["engine"], r["face"], str(r["size"]), r["heading"], " | ".join(r["read"]))
    console.print(misses)


if __name__ == "__main__":
    app()
