"""Commands of this part (placeholder until the part lands)."""

import typer


def register(app: typer.Typer) -> None:
    """Add this part's commands to the `ocr-subnet` app."""
