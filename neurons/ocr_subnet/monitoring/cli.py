"""`ocr-subnet monitoring`: render the alert rules, dashboard and scrape settings the Helm chart ships."""

from __future__ import annotations

from pathlib import Path

import typer

DEFAULT_OUT = Path("charts/subnet/files")


def render(
    out: Path = typer.Option(DEFAULT_OUT, help="folder to write into (the chart's files/)"),
    check: bool = typer.Option(False, "--check", help="write nothing; exit 1 if the files differ from a fresh render"),
) -> None:
    """Write alert-rules.yaml, grafana-dashboard.json and scrape.yaml, built from metric_names."""
    from ocr_subnet.monitoring import render as rendering

    if check:
        stale = rendering.stale(out)
        if stale:
            typer.echo(f"out of date in {out}: {', '.join(stale)}; run `ocr-subnet monitoring render`", err=True)
            raise typer.Exit(1)
        typer.echo(f"{out}: up to date")
        return
    for path in rendering.write(out):
        typer.echo(str(path))


def register(app: typer.Typer) -> None:
    """Add this part's commands to the `ocr-subnet` app."""
    monitoring_app = typer.Typer(no_args_is_help=True, help=__doc__)
    monitoring_app.command("render")(render)
    app.add_typer(monitoring_app, name="monitoring")
