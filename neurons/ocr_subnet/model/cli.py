"""`ocr-subnet train`: train the OCR model and export its weights with a manifest; `ocr-subnet fit-prior`: refit
its language prior alone; `ocr-subnet calibrate`: refit its corrections' knobs alone; `ocr-subnet blend`: interpolate
two fine-tunes' weights and calibrate the blend."""

from __future__ import annotations

import json
import shlex
import sys
from pathlib import Path

import typer

# What follows training (`train.finish`), the same for a trained and a blended network
FINAL_PAGES = typer.Option(None, help="Held-out pages per source for the final validation.")
CALIBRATION_PAGES = typer.Option(None, help="Pages per source to calibrate box decoding on.")
CALIBRATION_PDF_PAGES = typer.Option(
    None, help="Pages per real-PDF calibration document the corrections are also fitted on (default 2)."
)
REAL_PDF_PAGES = typer.Option(
    None, help="Pages per document of the real-PDF set read with the exported weights (default 1; 0: none)."
)
PRIOR_PAGES = typer.Option(
    None, help="Pages per open family whose strings join the language prior's general text (default 150)."
)


def finishing(
    final_pages: int | None,
    calibration_pages: int | None,
    calibration_pdf_pages: int | None,
    real_pdf_pages: int | None,
    prior_pages: int | None,
) -> dict[str, int | None]:
    """The options above as `TrainConfig` overrides."""
    return {
        "final_pages": final_pages,
        "calibration_pages": calibration_pages,
        "calibration_pdf_pages": calibration_pdf_pages,
        "real_pdf_pages": real_pdf_pages,
        "prior_pages": prior_pages,
    }


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
        init_from: Path | None = typer.Option(
            None, help="Start from the exported weights in this folder (e.g. the packaged ones), not from scratch."
        ),
        lr: float | None = typer.Option(None, help="Peak learning rate (default 2e-3; lower to fine-tune)."),
        threads: int = typer.Option(2, help="torch threads for training."),
        workers: int = typer.Option(1, help="Processes drawing training pages (on a GPU machine: most of its cores)."),
        device: str = typer.Option("auto", help="auto (the GPU when torch sees one, else the CPU) | cpu | gpu."),
        validate_minutes: float | None = typer.Option(None, help="Validate every this many training minutes."),
        validation_pages: int | None = typer.Option(None, help="Held-out pages per source during training."),
        final_pages: int | None = FINAL_PAGES,
        calibration_pages: int | None = CALIBRATION_PAGES,
        calibration_pdf_pages: int | None = CALIBRATION_PDF_PAGES,
        real_pdf_pages: int | None = REAL_PDF_PAGES,
        prior_pages: int | None = PRIOR_PAGES,
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
            lr=lr,
            minutes=minutes,
            steps=steps,
            threads=threads,
            workers=workers,
            validate_minutes=validate_minutes,
            validation_pages=validation_pages,
            **finishing(final_pages, calibration_pages, calibration_pdf_pages, real_pdf_pages, prior_pages),
        )
        if resume and init_from is not None:
            raise typer.BadParameter(
                "--resume continues OUT/checkpoint.pt; --init-from starts from weights: one of them"
            )
        console = Console(stderr=True)
        command = shlex.join(["ocr-subnet", *sys.argv[1:]])
        columns = (TextColumn("training"), BarColumn(), TextColumn("{task.percentage:>5.1f}%"), TimeElapsedColumn())
        with Progress(*columns, TextColumn("{task.fields[status]}"), console=console, transient=True) as progress:
            task = progress.add_task("train", total=1.0, status="")

            def on_step(fraction: float, losses: dict[str, float]) -> None:
                status = " ".join(f"{k} {v:.3g}" for k, v in losses.items())
                progress.update(task, completed=min(fraction, 1.0), status=status)

            manifest = run(
                config, out, weights_dir or out / "weights", resume, command, console, on_step, torch_device, init_from
            )
        console.print_json(data={"validation": manifest["validation"], "sha256": manifest["sha256"]})

    @app.command("blend")
    def blend_command(
        first: Path = typer.Option(..., "--from", help="Exported weights (e.g. the packaged ones)."),
        second: Path = typer.Option(..., "--toward", help="Exported weights of a fine-tune of the same network."),
        share: float = typer.Option(0.5, min=0.0, max=1.0, help="The --toward weights' share of each parameter."),
        weights_dir: Path = typer.Option(..., help="Where to export the blend with its manifest."),
        seed: int = typer.Option(0, help="Seeds the language prior's open-family pages."),
        threads: int = typer.Option(2, help="torch threads."),
        final_pages: int | None = FINAL_PAGES,
        calibration_pages: int | None = CALIBRATION_PAGES,
        calibration_pdf_pages: int | None = CALIBRATION_PDF_PAGES,
        real_pdf_pages: int | None = REAL_PDF_PAGES,
        prior_pages: int | None = PRIOR_PAGES,
    ) -> None:
        """Interpolate two fine-tunes' weights parameter by parameter, then calibrate, validate and export the
        blend as training does."""
        from rich.console import Console

        from ocr_subnet.model.blend import BlendError, blend
        from ocr_subnet.model.train import TrainConfig, with_overrides

        config = with_overrides(
            TrainConfig(),
            seed=seed,
            threads=threads,
            **finishing(final_pages, calibration_pages, calibration_pdf_pages, real_pdf_pages, prior_pages),
        )
        console = Console(stderr=True)
        command = shlex.join(["ocr-subnet", *sys.argv[1:]])
        try:
            with console.status("blending, then calibrating, validating and exporting the blend"):
                manifest = blend(first, second, share, config, weights_dir, command, console)
        except BlendError as exc:
            console.print(f"[red]error:[/red] {exc}")
            raise typer.Exit(1) from exc
        console.print_json(data={"validation": manifest["validation"], "sha256": manifest["sha256"]})

    @app.command("fit-prior")
    def fit_prior_command(
        weights_dir: Path = typer.Option(..., help="Exported weights folder (its manifest records the fit)."),
        seed: int = typer.Option(0, help="Seeds the open-family pages whose strings join the general text."),
        family_pages: int = typer.Option(150, min=0, help="Pages per open family."),
        general_chars: int = typer.Option(1_500_000, min=1, help="General English text at most, in characters."),
        as_json: bool = typer.Option(False, "--json", help="Print the record as JSON only."),
    ) -> None:
        """Refit the open-vocabulary lexicon and character model on general text, keeping the networks."""
        from rich.console import Console

        from ocr_subnet.model.pipeline import MANIFEST
        from ocr_subnet.model.prior import PriorConfig, fit_prior, install, prior_record

        if not (weights_dir / MANIFEST).is_file():
            raise typer.BadParameter(f"no {MANIFEST} in {weights_dir}: export weights with `ocr-subnet train`")
        config = PriorConfig(seed=seed, family_pages=family_pages, general_chars=general_chars)
        lexicon, language, fit = fit_prior(config)
        record = prior_record(shlex.join(["ocr-subnet", *sys.argv[1:]]), config, fit)
        install(weights_dir, lexicon, language, record)
        if as_json:
            typer.echo(json.dumps(record))
        else:
            Console().print_json(data=record)

    @app.command("calibrate")
    def calibrate_command(
        weights_dir: Path = typer.Option(..., help="Exported weights folder (its manifest records the fit)."),
        pages: int = typer.Option(10, min=1, max=256, help="Generated calibration pages per source."),
        pdf_pages: int = typer.Option(2, min=0, max=2, help="Pages per real-PDF calibration document (0: none)."),
        as_json: bool = typer.Option(False, "--json", help="Print the record as JSON only."),
    ) -> None:
        """Refit the corrections' out-of-vocabulary penalty and language weight on generated pages and on pages of
        Debian PDFs the real-PDF evaluation never reads, keeping the networks and the prior."""
        from rich.console import Console

        from ocr_subnet.evaluation.real_pdfs import MissingDocuments
        from ocr_subnet.model.calibrate import recalibrate
        from ocr_subnet.model.pipeline import MANIFEST, ModelLoadError

        if not (weights_dir / MANIFEST).is_file():
            raise typer.BadParameter(f"no {MANIFEST} in {weights_dir}: export weights with `ocr-subnet train`")
        console = Console(stderr=True)
        try:
            with console.status("reading the calibration pages once, then refitting the corrections on them"):
                manifest = recalibrate(weights_dir, pages, pdf_pages, shlex.join(["ocr-subnet", *sys.argv[1:]]))
        except (MissingDocuments, ModelLoadError) as exc:
            console.print(f"[red]error:[/red] {exc}")
            raise typer.Exit(1) from exc
        record = {"calibration": manifest["calibration"], "correction": manifest["calibration_fit"]["correction"]}
        if as_json:
            typer.echo(json.dumps(record))
        else:
            Console().print_json(data=record)
