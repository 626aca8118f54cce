"""Scoring benchmark: speed against a naive baseline, and who earns what under which scorer.

Speed: our `score()` (rapidfuzz cdist + numpy matrices, one Hungarian matching) against a
pure-Python double loop computing the same pair credits, timed in the same run at realistic
sizes up to the protocol's limit (~100 labels x 1000 predictions).

Comparison: on N generated challenges, tesseract's answer and every gaming strategy scored by
our reward and by the tutorial's, side by side.

    python benchmarks/bench_scoring.py [--challenges 10] [--difficulty 1] [--json]
"""

from __future__ import annotations

import json
import statistics
import time
from collections.abc import Callable, Sequence

import numpy as np
import typer
from ocr_subnet.backends.base import BackendError
from ocr_subnet.backends.tesseract import TesseractBackend
from ocr_subnet.challenge.api import Challenge
from ocr_subnet.challenge.generate import generate_challenge
from ocr_subnet.protocol import decode_image, encode_image
from ocr_subnet.scoring import strategies
from ocr_subnet.scoring.cer import character_error_rate
from ocr_subnet.scoring.reward import DEFAULT_CONFIG, score
from ocr_subnet.scoring.tutorial import tutorial_reward
from ocr_subnet.sections import Font, Section
from rapidfuzz.distance import Levenshtein
from rich.console import Console
from rich.table import Table
from scipy.optimize import linear_sum_assignment

DEADLINE_S = 12.0
INSTANT_S = 0.01
SIZES = ((50, 50), (100, 200), (100, 1000))
TRAINING_SEEDS = range(1000, 1030)

app = typer.Typer(add_completion=False)


def naive_prediction(labels: Sequence[Section], predictions: Sequence[Section]) -> float:
    """The baseline: the same reward computed pair by pair in Python, as the tutorial does."""
    config = DEFAULT_CONFIG
    quality = np.zeros((len(labels), len(predictions)))
    for i, label in enumerate(labels):
        for j, prediction in enumerate(predictions):
            text = Levenshtein.normalized_similarity(label.text, prediction.text)
            a, b = label.position, prediction.position
            inter = max(0.0, min(a[2], b[2]) - max(a[0], b[0])) * max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
            iou = inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)
            family = float(label.font.family.casefold() == prediction.font.family.casefold())
            sizes = sorted((label.font.size, prediction.font.size))
            font = (family + sizes[0] / sizes[1]) / 2
            read = text * min(1.0, iou / config.full_credit_iou)
            quality[i, j] = read * (config.weight_text + config.weight_position * iou + config.weight_font * font)
    rows, cols = linear_sum_assignment(quality, maximize=True)
    matched = quality[rows, cols].sum()
    return 2 * matched / (len(labels) + len(predictions))


def realistic_answer(labels: Sequence[Section], size: int, rng: np.random.Generator) -> list[Section]:
    """An engine-like answer: every label slightly misread and shifted, padded with decoys."""
    answer = []
    for label in labels[:size]:
        x0, y0, x1, y1 = label.position
        dx, dy = rng.normal(0, 2, 2)
        text = label.text[:-1] + "x" if rng.random() < 0.3 else label.text
        answer.append(label.model_copy(update={"text": text, "position": (x0 + dx, y0 + dy, x1 + dx, y1 + dy)}))
    while len(answer) < size:
        x, y = rng.uniform(0, 600), rng.uniform(0, 800)
        text = "".join(rng.choice(list("abcdefghij0123456789 $.,"), int(rng.integers(3, 25))))
        answer.append(Section(text=text, position=(x, y, x + 80, y + 11), font=Font(family="Helvetica", size=10)))
    return answer


def best_time(function: Callable[[], object], repeats: int) -> float:
    """Best of `repeats` runs in seconds: the least disturbed by other load on the machine."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return min(times)


def hostile_answer(size: int, rng: np.random.Generator) -> list[Section]:
    """The protocol's worst case for the validator: every prediction a page-sized box of 1000 chars."""
    alphabet = list("abcdef 0123456789")
    return [
        Section(text="".join(rng.choice(alphabet, 1000)), position=(0, 0, 631, 816), font=Font(family="x", size=10))
        for _ in range(size)
    ]


def speed(repeats: int) -> list[dict]:
    rng = np.random.default_rng(0)
    pool = [s for seed in range(1, 4) for s in generate_challenge(seed, 1).sections]
    cases = [
        (f"{n_labels} x {n_predictions}", pool[:n_labels], realistic_answer(pool[:n_labels], n_predictions, rng))
        for n_labels, n_predictions in SIZES
    ]
    cases.append(("100 x 1000, 1000-char page boxes", pool[:100], hostile_answer(1000, rng)))
    rows = []
    for name, labels, answer in cases:
        ours = score(labels, answer, INSTANT_S, DEADLINE_S).prediction
        baseline = naive_prediction(labels, answer)
        ours_s = best_time(lambda: score(labels, answer, INSTANT_S, DEADLINE_S), repeats)  # noqa: B023
        naive_s = best_time(lambda: naive_prediction(labels, answer), max(1, repeats // 3))  # noqa: B023
        rows.append(
            {
                "case": name,
                "ours_ms": ours_s * 1e3,
                "naive_ms": naive_s * 1e3,
                "speedup": naive_s / ours_s,
                "same_result": bool(abs(ours - baseline) < 1e-9),
            }
        )
    return rows


def answers(challenge: Challenge, tesseract: list[Section] | None, learned: list[Section]) -> dict:
    """Every answer to compare, keyed by name; tesseract's only when the engine ran."""
    labels = challenge.sections
    named = {
        "oracle (labels)": strategies.oracle(labels),
        "oracle duplicated x5": strategies.duplicated(labels, 5),
        "stock words, tiny box": strategies.constant_box(strategies.STOCK_INVOICE_WORDS, (0, 0, 1, 1)),
        "stock words, line box": strategies.constant_box(strategies.STOCK_INVOICE_WORDS, (40, 100, 200, 111)),
        "learned words at learned boxes": learned,
        "whole page, empty text": strategies.whole_page_empty(challenge.width, challenge.height),
        "true boxes, empty text": strategies.true_boxes_empty_text(labels),
        "empty answer": [],
    }
    if tesseract is not None:
        named["tesseract"] = tesseract
        named["tesseract text, box [0,0,1,1]"] = strategies.constant_box([s.text for s in tesseract], (0, 0, 1, 1))
    return named


def tesseract_backend() -> TesseractBackend | None:
    """The reference engine, or None (with a note) where Debian's tesseract-ocr is missing."""
    try:
        return TesseractBackend()
    except BackendError as exc:
        typer.echo(f"note: comparing without tesseract: {exc}", err=True)
        return None


def comparison(n_challenges: int, difficulty: int, use_tesseract: bool) -> dict:
    backend = tesseract_backend() if use_tesseract else None
    learned = strategies.learned_layout(generate_challenge(seed, difficulty).sections for seed in TRAINING_SEEDS)
    results: dict[str, dict[str, list[float]]] = {}
    latencies, cers = [], []
    for seed in range(1, n_challenges + 1):
        challenge = generate_challenge(seed, difficulty)
        tesseract = None
        latency = {}
        if backend is not None:
            image = decode_image(encode_image(challenge.image))  # exactly what a miner decodes
            start = time.perf_counter()
            tesseract = backend.recognize(image)
            latency["tesseract"] = time.perf_counter() - start
            latencies.append(latency["tesseract"])
            cers.append(character_error_rate(challenge.sections, tesseract))
        for name, answer in answers(challenge, tesseract, learned).items():
            elapsed = latency.get(name, INSTANT_S)
            ours = score(challenge.sections, answer, elapsed, DEADLINE_S)
            theirs = tutorial_reward(challenge.sections, answer, elapsed, DEADLINE_S)
            row = results.setdefault(name, {k: [] for k in ("ours_pred", "ours_total", "tut_pred", "tut_total")})
            row["ours_pred"].append(ours.prediction)
            row["ours_total"].append(ours.total)
            row["tut_pred"].append(theirs.prediction)
            row["tut_total"].append(theirs.total)
    summary = {
        name: {**{k: statistics.fmean(v) for k, v in row.items()}, "ours_total_max": max(row["ours_total"])}
        for name, row in results.items()
    }
    tesseract_stats = (
        {"cer": statistics.fmean(cers), "latency_s": statistics.fmean(latencies)} if backend is not None else None
    )
    return {"challenges": n_challenges, "difficulty": difficulty, "answers": summary, "tesseract": tesseract_stats}


def print_report(speed_rows: list[dict], compared: dict) -> None:
    console = Console(width=max(Console().width, 110))
    table = Table(title="time per score: ours (vectorized) vs naive Python double loop")
    for column in ("labels x predictions", "ours ms", "naive ms", "speed-up", "same reward"):
        table.add_column(column, justify="right")
    for row in speed_rows:
        table.add_row(
            row["case"],
            f"{row['ours_ms']:.2f}",
            f"{row['naive_ms']:.1f}",
            f"{row['speedup']:.0f}x",
            "yes" if row["same_result"] else "NO",
        )
    console.print(table)
    title = f"mean over {compared['challenges']} challenges at difficulty {compared['difficulty']}"
    table = Table(title=title)
    table.add_column("answer")
    for column in ("ours pred", "ours total", "ours max", "tutorial pred", "tutorial total"):
        table.add_column(column, justify="right")
    for name, row in compared["answers"].items():
        table.add_row(
            name,
            *(f"{row[k]:.3f}" for k in ("ours_pred", "ours_total", "ours_total_max", "tut_pred", "tut_total")),
        )
    console.print(table)
    if compared["tesseract"]:
        stats = compared["tesseract"]
        console.print(f"tesseract: CER {stats['cer']:.3f}, latency {stats['latency_s']:.2f} s per page")


@app.command()
def main(
    challenges: int = typer.Option(10, min=1, help="Generated challenges to compare the scorers on."),
    difficulty: int = typer.Option(1, min=0, max=4, help="Challenge difficulty level."),
    repeats: int = typer.Option(9, min=1, help="Timing repeats per size (best of)."),
    tesseract: bool = typer.Option(True, help="Run the tesseract backend (needs Debian tesseract-ocr)."),
    as_json: bool = typer.Option(False, "--json", help="Print the results as JSON."),
) -> None:
    """Time our scorer against a naive baseline and compare it with the tutorial's on real challenges."""
    speed_rows = speed(repeats)
    compared = comparison(challenges, difficulty, tesseract)
    if as_json:
        typer.echo(json.dumps({"speed": speed_rows, "comparison": compared}, indent=2))
    else:
        print_report(speed_rows, compared)


if __name__ == "__main__":
    app()
