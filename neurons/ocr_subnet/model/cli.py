"""`ocr-subnet train`: train the OCR model and export its weights with a manifest."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path

import typer


def register(app: typer.Typer) -> None:
    """Add this part's commands to the `ocr-subnet` app."""

    @app.command("train")
    def train_command(
        out: Path = typer.Option(..., help="Run folder: checkpoint, manifest, log."),
        seed: int = typer.Option(0, help="Seeds the networks' initialization and the training pages."),
        minutes: float = typer.Option(55.0, help="Training time budget (calibration and export come after it)."),
        steps: int = typer.Option(0, help="Also stop after this many steps (0: the time budget alone)."),
        weights_dir: Path | None = typer.Option(
            None, help="Where to export TorchScript weights (default OUT/weights)."
        ),
        resume: bool = typer.Option(False, help="Continue from OUT/checkpoint.pt."),
        threads: int = typer.Option(2, help="torch threads for training."),
        workers: int = typer.Option(1, help="Processes drawing training pages (on a GPU machine: most of its cores)."),
        device: str = typer.Option("auto", help="auto (the GPU when torch sees one, else the CPU) | cpu | gpu."),
        validate_minutes: float | None = typer.Option(None, help="Validate every this many training minutes."),
        validation_pages: int | None = typer.Option(None, help="Held-out pages per source during training."),
        final_pages: int | None = typer.Option(None, help="Held-out pages per source for the final validation."),
        calibration_pages: int | None = typer.Option(None, help="Pages per source to calibrate box decoding on."),
        language_layouts: int | None = typer.Option(
            None, help="Training invoices whose strings teach the lexicon and language model (default 20000)."
        ),
    ) -> None:
        """Train detector + recognizer on freshly drawn invoices, calibrate, validate, export weights."""
        import torch
        from rich.console import Console
        from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

        from ocr_subnet.model.train import TrainConfig, run, with_overrides
        from ocr_subnet.triton.repository import InstanceKind, RepositoryError, resolve_device

        try:  # the same choice, and the same rule, as a Triton model instance's kind
            torch_device = resolve_device(InstanceKind(device), torch.cuda.is_available())
        except (RepositoryError, ValueError) as exc:
            raise typer.BadParameter(str(exc)) from exc

        config = with_overrides(
            TrainConfig(),
            seed=seed,
            minutes=minutes,
            steps=steps,
            threads=threads,
            workers=workers,
            validate_minutes=validate_minutes,
            validation_pages=validation_pages,
            final_pages=final_pages,
            calibration_pages=calibration_pages,
            language_layouts=language_layouts,
        )
        console = Console(stderr=True)
        command = shlex.join(["ocr-subnet", *sys.argv[1:]])
        columns = (TextColumn("training"), BarColumn(), TextColumn("{task.percentage:>5.1f}%"), TimeElapsedColumn())
        with Progress(*columns, TextColumn("{task.fields[status]}"), console=console, transient=True) as progress:
            task = progress.add_task("train", total=1.0, status="")

            def on_step(fraction: float, losses: dict[str, float]) -> None:
                status = " ".join(f"{k} {v:.3g}" for k, v in losses.items())
                progress.update(task, completed=min(fraction, 1.0), status=status)

            manifest = run(config, out, weights_dir or out / "weights", resume, command, console, on_step, torch_device)
        console.print_json(data={"validation": manifest["validation"], "sha256": manifest["sha256"]})
