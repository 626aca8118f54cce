"""`ocr-subnet challenge`: write challenges and their labels to a folder, as a validator would make them."""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from ocr_subnet.challenge.families import FAMILIES
from ocr_subnet.challenge.levels import LEVELS

if TYPE_CHECKING:
    from ocr_subnet.sections import Section

EXTENSIONS = {"jpeg": "jpg", "png": "png"}


def sections_json(sections: Iterable[Section]) -> str:
    """`{"sections": [...]}` with one section per line: valid JSON that still diffs and greps well."""
    rows = ",\n".join("  " + json.dumps(section.model_dump(mode="json")) for section in sections)
    return '{"sections": [\n' + rows + "\n]}\n"


def register(app: typer.Typer) -> None:
    """Add this part's commands to the `ocr-subnet` app."""

    @app.command("challenge")
    def challenge_command(
        out: Path = typer.Option(..., "--out", file_okay=False, help="Folder to write into (created)."),
        seed: int | None = typer.Option(
            None, "--seed", min=0, help="Batch seed; each challenge seed derives from it. Random if omitted."
        ),
        difficulty: int = typer.Option(1, min=0, max=len(LEVELS) - 1, help="Corruption level."),
        count: int = typer.Option(1, min=1, help="How many challenges to write."),
        overlay: bool = typer.Option(False, "--overlay", help="Also write <id>.overlay.png with the boxes."),
        family: list[str] = typer.Option(
            [],
            "--family",
            help=f"Document family to draw (repeat): {', '.join(FAMILIES)} (invoice: the tutorial's). "
            "Default: the validator's default mix, all of them.",
        ),
    ) -> None:
        """Write <id>.jpg (or .png), the exact bytes a miner receives, and <id>.json, {"sections": [...]}."""
        from rich.console import Console
        from rich.progress import Progress

        from ocr_subnet.challenge.families import DEFAULT_MIX, check_families
        from ocr_subnet.challenge.generate import derive_seeds, generate_challenge, random_seed
        from ocr_subnet.challenge.overlay import draw_overlay

        try:
            families = check_families(family) if family else DEFAULT_MIX
        except ValueError as exc:
            raise typer.BadParameter(str(exc), param_hint="--family") from None
        batch_seed = random_seed() if seed is None else seed
        out.mkdir(parents=True, exist_ok=True)
        with Progress(console=Console(stderr=True), transient=True) as progress:
            task = progress.add_task(f"difficulty {difficulty}", total=count)
            for challenge_seed in derive_seeds(batch_seed, count):
                challenge = generate_challenge(challenge_seed, difficulty, families)
                stem = out / challenge.id
                stem.with_suffix("." + EXTENSIONS[challenge.image_format]).write_bytes(challenge.image)
                stem.with_suffix(".json").write_text(sections_json(challenge.sections))
                if overlay:
                    draw_overlay(challenge.image, challenge.sections).save(stem.with_suffix(".overlay.png"))
                progress.advance(task)
        typer.echo(f"wrote {count} challenge(s) at difficulty {difficulty} to {out} (seed {batch_seed})")
