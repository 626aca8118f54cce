"""`ocr-subnet score`: score a saved answer against saved labels, as the validator would."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from ocr_subnet.deadlines import DEFAULT_DEADLINE_S

if TYPE_CHECKING:
    from ocr_subnet.sections import Section


class InputError(Exception):
    """A file given on the command line is missing or not a valid sections file."""


def load_sections(path: Path) -> list[Section]:
    """Read a `{"sections": [...]}` file (DESIGN.md format); any problem becomes an InputError."""
    from pydantic import ValidationError

    from ocr_subnet.protocol import OcrResponse

    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise InputError(f"{path}: cannot read: {exc.strerror or exc}") from exc
    try:
        return list(OcrResponse.model_validate_json(raw).sections)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in error['loc']) or 'file'}: {error['msg']}" for error in exc.errors()[:5]
        )
        more = f" (and {exc.error_count() - 5} more)" if exc.error_count() > 5 else ""
        raise InputError(f"{path}: not a sections file: {problems}{more}") from exc


def register(app: typer.Typer) -> None:
    """Add this part's commands to the `ocr-subnet` app."""

    @app.command("score")
    def score_command(
        labels: Path = typer.Argument(..., help='Ground truth: {"sections": [...]} as in DESIGN.md.'),
        predictions: Path = typer.Argument(..., help="A miner's answer in the same format."),
        as_json: bool = typer.Option(False, "--json", help="Print the reward as JSON."),
        latency: float = typer.Option(0.0, help="Measured answer latency in seconds."),
        deadline: float = typer.Option(DEFAULT_DEADLINE_S, help="The request's deadline in seconds."),
    ) -> None:
        """Score PREDICTIONS against LABELS and print the reward with its parts (the generator's fixed strings
        of every document family weighed down, as the validator weighs them on its pages)."""
        from ocr_subnet.challenge.generate import STOCK
        from ocr_subnet.scoring.reward import score

        stock = frozenset().union(*STOCK.values())
        try:
            reward = score(load_sections(labels), load_sections(predictions), latency, deadline, stock=stock)
        except InputError as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(code=2) from None
        if as_json:
            typer.echo(json.dumps(reward.model_dump()))
            return
        from rich.console import Console
        from rich.table import Table

        table = Table(title="reward", caption=f"{predictions} against {labels}")
        table.add_column("part")
        table.add_column("value", justify="right")
        for name, value in reward.model_dump().items():
            table.add_row(name, str(value) if isinstance(value, int) else f"{value:.4f}")
        Console().print(table)
