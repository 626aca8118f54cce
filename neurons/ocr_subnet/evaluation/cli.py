"""`ocr-subnet eval`: measure OCR engines on pages no generator drew."""

from __future__ import annotations

import json
import shlex
import sys
from dataclasses import asdict
from pathlib import Path

import typer

from ocr_subnet.evaluation import DPIS, DocumentSet, EngineName, Variant


def real_pdfs(
    engine: list[EngineName] = typer.Option(list(EngineName), help="Engines to run (repeatable)."),
    dpi: list[int] = typer.Option(list(DPIS), min=36, max=600, help="Rasterization resolution (repeatable)."),
    variant: list[Variant] = typer.Option(list(Variant), help="clean, or degraded: level-2 scan marks, blur, JPEG."),
    pages: int = typer.Option(3, min=1, help="Listed pages per document (the first N of each)."),
    document: list[str] = typer.Option([], help="Only the documents of these Debian packages (default: all)."),
    document_set: DocumentSet = typer.Option(
        DocumentSet.EVALUATION,
        "--set",
        help="The held-out evaluation manuals, the calibration ones (diagnosis), tables of contents, or text pages of"
        " eleven more documents (breadth).",
    ),
    threads: int = typer.Option(2, min=1, help="torch threads for the model."),
    weights_dir: Path | None = typer.Option(None, help="The model's exported weights (default: the packaged ones)."),
    as_json: bool = typer.Option(False, "--json", help="Print the summary and every page's figures as JSON."),
    record: bool = typer.Option(
        False, help="Write the model's figures into its weights' manifest (under real_pdfs), as training does."
    ),
) -> None:
    """Page CER, word accuracy and time per page of each engine on real Debian documentation PDFs, against
    their own text layer (`pdftotext -bbox-layout`)."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
    from rich.table import Table

    from ocr_subnet.evaluation.real_pdfs import (
        DOCUMENT_SETS,
        MissingDocuments,
        check_installed,
        page_plan,
        select,
        summary_rows,
    )
    from ocr_subnet.evaluation.run import EngineUnavailable, evaluate, load_engine

    try:
        documents = select(DOCUMENT_SETS[document_set], document)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="document") from exc
    if record and EngineName.MODEL not in engine:
        raise typer.BadParameter("--record writes the model's figures: run the model engine too", param_hint="record")
    if record and document_set is not DocumentSet.EVALUATION:
        why = "--record keeps the evaluation set's figures; the calibration set is tuned on, the others diagnose"
        raise typer.BadParameter(why, param_hint="record")
    console = Console(stderr=True)
    try:  # before the model loads: a missing package or engine fails at once
        check_installed(documents)
        engines = {name: load_engine(name, threads, weights_dir) for name in dict.fromkeys(engine)}
    except (MissingDocuments, EngineUnavailable) as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(1) from exc
    dpis, variants = list(dict.fromkeys(dpi)), list(dict.fromkeys(variant))
    total = len(page_plan(documents, pages)) * len(dpis) * len(variants) * len(engines)
    columns = (TextColumn("real PDFs"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console, transient=True) as progress:
        task = progress.add_task("pages", total=total)
        results = evaluate(documents, pages, engines, dpis, variants, lambda: progress.advance(task))
    rows = summary_rows(results)
    command = shlex.join(["ocr-subnet", *sys.argv[1:]])
    if record:
        from ocr_subnet.evaluation.validation import record_results
        from ocr_subnet.model.pipeline import MANIFEST, WEIGHTS_DIR

        record_results(weights_dir or WEIGHTS_DIR, command, pages, documents, results, MANIFEST)
    if as_json:
        out = {"command": command, "rows": rows, "pages": [asdict(r) for r in results]}
        typer.echo(json.dumps(out, indent=2))
        return
    title = f"real PDFs ({document_set} set): {len({r.package for r in results})} documents, {pages} page(s) each"
    table = Table(title=title)
    for column in ("engine", "dpi", "variant", "CER", "word accuracy", "s/page", "pages"):
        table.add_column(column, justify="left" if column in ("engine", "variant") else "right")
    for row in rows:
        table.add_row(
            str(row["engine"]),
            str(row["dpi"]),
            str(row["variant"]),
            f"{row['cer']:.1%}",
            f"{row['word_accuracy']:.1%}",
            f"{row['seconds_per_page']:.2f}",
            str(row["pages"]),
        )
    Console().print(table)


def register(app: typer.Typer) -> None:
    """Add this part's commands to the `ocr-subnet` app."""
    eval_app = typer.Typer(no_args_is_help=True, help=__doc__)
    eval_app.command("real-pdfs")(real_pdfs)
    app.add_typer(eval_app, name="eval")
