"""Challenge generation speed: ours at every difficulty against the tutorial's pipeline, in one run.

The baseline is the tutorial's way, re-implemented in its style: a new Faker per invoice, a
static Helvetica 12 layout, an RGB render, and corruption with Python loops over pixels
(getpixel/putpixel for the border, one ImageDraw point per noise and spot pixel), then Pillow
resize, rotate and blur and a default-quality JPEG. It renders at our density, so both deliver
the same 631 x 816 image. Ours is `generate_challenge`, for the tutorial-compatible invoice at every
difficulty, for each document family of the validator's mix at level 1, and for the validator's whole
mix (families, levels 0-4, resolutions drawn as challenges draw them; target: a median at or below
60 ms on one core). Then each family at level 2 (scan effects on) at each density: the tutorial's and
scans at 150, 200 and 300 dpi, timed through the same stages as `generate_challenge` with the density
fixed. Single-threaded; run it on a quiet core.

    python benchmarks/bench_challenge.py --runs 30 --baseline-runs 5 [--json]
"""

from __future__ import annotations

import datetime as dt
import io
import json
import math
import random
import statistics
import time
from collections.abc import Callable

import typer
from faker import Faker
from ocr_subnet.challenge import corrupt, levels
from ocr_subnet.challenge.families import DEFAULT_MIX
from ocr_subnet.challenge.generate import (
    GEOMETRY,
    PHOTOMETRY,
    corrupt_page,
    generate_challenge,
    invoice_layout,
    plan_distortion,
    prepare,
    render_page,
    stream,
)
from ocr_subnet.challenge.invoice import CATALOGUE
from ocr_subnet.challenge.render import draw_pdf, labels, rasterize
from PIL import Image, ImageDraw, ImageFilter
from reportlab.lib.pagesizes import letter
from reportlab.pdfgen import canvas
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

app = typer.Typer(add_completion=False, help=__doc__)


def tutorial_invoice(rng: random.Random) -> bytes:
    """The tutorial's static layout: Helvetica 12 at fixed positions, drawn into a PDF."""
    fake = Faker()
    fake.seed_instance(rng.random())
    buffer = io.BytesIO()
    pdf = canvas.Canvas(buffer, pagesize=letter)
    pdf.setFont("Helvetica", 12)
    issued = dt.date(2015, 1, 1) + dt.timedelta(days=rng.randrange(4000))
    pdf.drawString(30, 750, fake.company())
    pdf.drawString(30, 735, fake.street_address())
    pdf.drawString(30, 720, f"{fake.city()}, {fake.zipcode()}")
    pdf.drawString(400, 750, "Invoice Date: " + issued.strftime("%B %d, %Y"))
    pdf.drawString(400, 735, f"Invoice #: INV{rng.randint(1, 10000):06}")
    pdf.drawString(30, 690, "Bill To:")
    pdf.drawString(120, 690, fake.name())
    for x, header in ((30, "Description"), (300, "Qty"), (460, "Cost")):
        pdf.drawString(x, 650, header)
    pdf.line(30, 645, 560, 645)
    y, total = 625, 0.0
    for description, cost in sorted(rng.sample(CATALOGUE, rng.randint(3, 15))):
        quantity = rng.randint(1, 5)
        pdf.drawString(30, y, description)
        pdf.drawString(300, y, str(quantity))
        pdf.drawString(460, y, f"${cost:.2f}")
        total += quantity * cost
        y -= 15
    pdf.drawString(400, y - 15, f"Total: ${total:,.2f}")
    pdf.drawString(30, y - 45, "Terms:")
    pdf.drawString(120, y - 45, "Payment due within 30 days")
    pdf.save()
    return buffer.getvalue()


def tutorial_corrupt(image: Image.Image, rng: random.Random) -> Image.Image:
    """The tutorial's corruption, pixel by pixel: border 50, noise 0.1, spot, 95%, 0.2 deg, blur 1."""
    width, height = image.size
    border, noise, spot = 50, 0.1, (100, 100)
    for x in range(1, border):
        tone = 256 - int(250 * (x / border - 1) ** 2)
        for y in range(height):
            if min(image.getpixel((x, y))) < 20:
                continue
            image.putpixel((x, y), (tone, tone, tone))
            image.putpixel((width - x, y), (tone, tone, tone))
    draw = ImageDraw.Draw(image)
    for _ in range(int(width * height * noise)):
        x, y = rng.randint(0, width - 1), rng.randint(0, height - 1)
        delta = rng.gauss(0, 50)
        draw.point((x, y), fill=tuple(int(min(max(0, v + delta), 255)) for v in image.getpixel((x, y))))
    for _ in range(int(width * height * noise)):
        x, y = rng.randint(0, width - 1), rng.randint(0, height - 1)
        delta = 100000 / (1 + math.sqrt((spot[0] - x) ** 2 + (spot[1] - y) ** 2))
        draw.point((x, y), fill=tuple(int(min(max(0, v - delta), 255)) for v in image.getpixel((x, y))))
    image = image.resize((int(0.95 * width), int(0.95 * height)))
    image = image.rotate(0.2, expand=True)
    return image.filter(ImageFilter.GaussianBlur(1))


def tutorial_challenge(seed: int) -> bytes:
    rng = random.Random(seed)
    (page,) = rasterize(tutorial_invoice(rng), levels.RENDER_PX_PER_PT)
    image = tutorial_corrupt(Image.fromarray(page).convert("RGB"), rng)
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG")
    return buffer.getvalue()


DENSITIES: dict[str, float] = {
    "tutorial": levels.RENDER_PX_PER_PT,
    **{f"{dpi} dpi": dpi / levels.POINTS_PER_INCH for dpi in (levels.SCAN_DPI[0], 200, levels.SCAN_DPI[1])},
}
DENSITY_LEVEL = 2  # the first level with scan effects


def challenge_at(seed: int, family: str, px_per_pt: float, difficulty: int = DENSITY_LEVEL) -> bytes:
    """`generate_challenge`'s stages (render, distort, corrupt, encode, labels) at a fixed density."""
    level = levels.difficulty(difficulty)
    page, distortion = prepare(seed, difficulty, family, px_per_pt)
    raster = corrupt_page(page, level, distortion, stream(seed, PHOTOMETRY, difficulty))
    labels(page.layout, distortion.matrix @ page.to_pixels)
    return corrupt.encode(raster, level.jpeg_quality)


def stage_timers() -> dict[str, Callable[[int], object]]:
    """Level-1 generation split into its stages, to see what dominates before optimising."""
    level = levels.difficulty(1)
    page = render_page(0)
    pdf = draw_pdf([page.layout])
    height, width = page.raster.shape
    distortion = plan_distortion(level, width, height, stream(0, GEOMETRY, 1))
    raster = corrupt_page(page, level, distortion, stream(0, PHOTOMETRY, 1))
    return {
        "layout": invoice_layout,
        "reportlab": lambda _: draw_pdf([page.layout]),
        "pdfium": lambda _: rasterize(pdf, levels.RENDER_PX_PER_PT),
        "corrupt": lambda seed: corrupt_page(page, level, distortion, stream(seed, PHOTOMETRY, 1)),
        "jpeg": lambda _: corrupt.encode(raster, level.jpeg_quality),
    }


def summary(wall: list[float], cpu: list[float]) -> dict[str, float]:
    def p95(samples: list[float]) -> float:
        return sorted(samples)[min(len(samples) - 1, math.ceil(0.95 * len(samples)) - 1)] * 1000

    return {
        "min_ms": min(wall) * 1000,
        "median_ms": statistics.median(wall) * 1000,
        "p95_ms": p95(wall),
        "cpu_median_ms": statistics.median(cpu) * 1000,
        "cpu_p95_ms": p95(cpu),
        "runs": len(wall),
    }


def time_runs(work: Callable[[int], object], runs: int, progress: Progress, task: int) -> dict[str, float]:
    """Wall and CPU time per call: on a shared machine the minimum and CPU time show the uncontended cost."""
    work(10_000)  # warm-up: Faker instance, font metrics, pdfium
    wall, cpu = [], []
    for seed in range(runs):
        start, start_cpu = time.perf_counter(), time.process_time()
        work(seed)
        wall.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
        progress.advance(task)
    return summary(wall, cpu)


@app.command()
def main(
    runs: int = typer.Option(30, min=1, help="Timed challenges per difficulty."),
    baseline_runs: int = typer.Option(5, min=1, help="Timed tutorial challenges (about 1 s each)."),
    mix_runs: int = typer.Option(
        100, min=1, help="Timed challenges of the validator's mix: enough seeds that its resolution draws are its own."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the results as JSON instead of a table."),
) -> None:
    """Time generate_challenge at every difficulty, its level-1 stages, and the tutorial baseline."""
    jobs: dict[str, tuple[Callable[[int], object], int]] = {
        f"ours, level {level.level}": (lambda seed, d=level.level: generate_challenge(seed, d), runs)
        for level in levels.LEVELS
    }
    jobs.update({f"  level 1: {name}": (work, runs) for name, work in stage_timers().items()})
    jobs.update(
        {
            f"family {family}, level 1": (lambda seed, f=family: generate_challenge(seed, 1, (f,)), runs)
            for family in DEFAULT_MIX
        }
    )
    jobs["validator mix (families, levels 0-4, drawn dpi)"] = (
        lambda seed: generate_challenge(seed, seed % len(levels.LEVELS), DEFAULT_MIX),
        mix_runs,
    )
    jobs.update(
        {
            f"family {family}, level {DENSITY_LEVEL}, {name}": (
                lambda seed, f=family, px=px: challenge_at(seed, f, px),
                runs,
            )
            for family in DEFAULT_MIX
            for name, px in DENSITIES.items()
        }
    )
    jobs["tutorial"] = (tutorial_challenge, baseline_runs)
    results: dict[str, dict[str, float]] = {}
    with Progress(console=Console(stderr=True), transient=True) as progress:
        task = progress.add_task("timing", total=sum(n for _, n in jobs.values()))
        for name, (work, n) in jobs.items():
            progress.update(task, description=name)
            results[name] = time_runs(work, n, progress, task)
    ours, baseline = results["ours, level 1"], results["tutorial"]
    speedup = {
        "wall": baseline["median_ms"] / ours["median_ms"],
        "cpu": baseline["cpu_median_ms"] / ours["cpu_median_ms"],
    }
    if as_json:
        typer.echo(json.dumps({"results": results, "speedup_at_difficulty_1": speedup}, indent=2))
        return
    table = Table(title="ms per challenge, one core")
    table.add_column("what")
    for column in ("min", "median", "p95", "cpu median", "cpu p95", "runs"):
        table.add_column(column, justify="right")
    for name, row in results.items():
        cells = (row["min_ms"], row["median_ms"], row["p95_ms"], row["cpu_median_ms"], row["cpu_p95_ms"])
        table.add_row(name, *(f"{v:.1f}" for v in cells), str(row["runs"]))
    console = Console()
    console.print(table)
    console.print(
        f"difficulty 1 vs the tutorial: [bold]{speedup['wall']:.1f}x[/bold] faster by wall time, "
        f"[bold]{speedup['cpu']:.1f}x[/bold] by CPU time"
    )


if __name__ == "__main__":
    app()
