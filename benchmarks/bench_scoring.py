"""Scoring benchmark: speed against a naive baseline, and who earns what under which scorer.

Speed: our `score()` (rapidfuzz cdist + numpy matrices, one Hungarian matching) against a
pure-Python double loop computing the same pair credits, timed in the same run at realistic
sizes up to the protocol's limit (~100 labels x 1000 predictions).

Comparison (issue 14's targets): on N generated challenges per level, our model's and tesseract's
answers and every non-reading strategy scored by our reward and by the tutorial's, side by side;
each non-reading strategy must earn at most 0.02. Then the validator's own weight function on a
population of one hotkey per answer (EMA = its mean reward): no non-reading hotkey may keep more
than 1% of the weight. Sybil: one operator behind K hotkeys in the validator's real round, once
with a page per miner (now) and once with one page per round (before): how many reads it needs.

    python benchmarks/bench_scoring.py [--challenges 10] [--level 1 --level 3] [--hotkeys 4] [--json]
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import random
import statistics
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import typer
from ocr_subnet.backends.base import BackendError
from ocr_subnet.backends.tesseract import TesseractBackend
from ocr_subnet.chain.port import AxonInfo, Hyperparameters, Metagraph, NeuronInfo
from ocr_subnet.challenge.api import Challenge
from ocr_subnet.challenge.families import check_families
from ocr_subnet.challenge.generate import generate_challenge
from ocr_subnet.logs import configure_logging
from ocr_subnet.protocol import OcrRequest, decode_image, encode_image
from ocr_subnet.scoring import strategies
from ocr_subnet.scoring.cer import character_error_rate
from ocr_subnet.scoring.reward import DEFAULT_CONFIG, score
from ocr_subnet.scoring.tutorial import tutorial_reward
from ocr_subnet.sections import Font, Section
from ocr_subnet.validator.metrics import ValidatorMetrics
from ocr_subnet.validator.neuron import Validator, ValidatorConfig, reward_parts
from ocr_subnet.validator.policy import DEFAULT_WEIGHT_POWER, MinerScore, parse_networks, weights_from_scores
from ocr_subnet.validator.query import Outcome, QueryResult
from PIL import Image
from prometheus_client import CollectorRegistry
from rapidfuzz.distance import Levenshtein
from rich.console import Console
from rich.table import Table
from scipy.optimize import linear_sum_assignment

DEADLINE_S = 12.0
INSTANT_S = 0.01
SIZES = ((50, 50), (100, 200), (100, 1000))
TRAINING_SEEDS = range(1000, 1030)
DOC_NET = parse_networks(["198.51.100.0/24"])  # the weight function must count these made-up axons
LOOPBACK = parse_networks(["127.0.0.0/8"])  # the Sybil operator's axons (never dialled: it answers in-process)
NO_READ_TARGET = 0.02  # issue 14: an answer that reads nothing earns at most this

app = typer.Typer(add_completion=False)


def naive_prediction(labels: Sequence[Section], predictions: Sequence[Section]) -> float:
    """The baseline: the same reward (no stock strings) computed pair by pair in Python, as the tutorial does."""
    config = DEFAULT_CONFIG
    quality = np.zeros((len(labels), len(predictions)))
    for i, label in enumerate(labels):
        for j, prediction in enumerate(predictions):
            similarity = Levenshtein.normalized_similarity(label.text, prediction.text)
            text = max(0.0, (similarity - config.text_floor) / (1.0 - config.text_floor))
            a, b = label.position, prediction.position
            inter = max(0.0, min(a[2], b[2]) - max(a[0], b[0])) * max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
            iou = inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)
            family = float(label.font.family.casefold() == prediction.font.family.casefold())
            sizes = sorted((label.font.size, prediction.font.size))
            font = (family + sizes[0] / sizes[1]) / 2
            read = text * min(1.0, iou / config.full_credit_iou)
            chars = min(max(1, len(label.text)), max(1, len(prediction.text)))
            quality[i, j] = (
                chars * read * (config.weight_text + config.weight_position * iou + config.weight_font * font)
            )
    rows, cols = linear_sum_assignment(quality, maximize=True)
    matched = quality[rows, cols].sum()
    label_chars = sum(max(1, len(s.text)) for s in labels)
    predicted_chars = sum(max(1, len(s.text)) for s in predictions)
    return min(matched / label_chars, matched / predicted_chars)


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


Engine = Callable[[np.ndarray], list[Section]]


def non_reading(challenge: Challenge, learned: list[Section], pool: list[str]) -> dict[str, list[Section]]:
    """Every answer that does not read the page: the targets say each earns at most `NO_READ_TARGET`."""
    labels = challenge.sections
    return {
        "stock words, tiny box": strategies.constant_box(strategies.STOCK_INVOICE_WORDS, (0, 0, 1, 1)),
        "stock words, line box": strategies.constant_box(strategies.STOCK_INVOICE_WORDS, (40, 100, 200, 111)),
        "template strings at template boxes": learned,
        "whole page, empty text": strategies.whole_page_empty(challenge.width, challenge.height),
        "true boxes, empty text": strategies.true_boxes_empty_text(labels),
        "true boxes, plausible text": strategies.plausible_text(labels, pool, np.random.default_rng(challenge.seed)),
        "empty answer": [],
    }


def engines(use_tesseract: bool, use_model: bool) -> dict[str, Engine]:
    """The honest readers that are installed: our model (packaged weights, CPU) and tesseract."""
    found: dict[str, Engine] = {}
    if use_model:
        from ocr_subnet.model.pipeline import OcrPipeline

        pipeline = OcrPipeline.load()
        found["our model"] = lambda image: pipeline([image])[0]
    if use_tesseract:
        try:
            backend = TesseractBackend()
        except BackendError as exc:
            typer.echo(f"note: comparing without tesseract: {exc}", err=True)
        else:
            found["tesseract"] = lambda image: backend.recognize(Image.fromarray(image))
    return found


def comparison(
    n_challenges: int, levels: Sequence[int], readers: dict[str, Engine], families: Sequence[str] = ("invoice",)
) -> dict:
    """Mean rewards per answer (ours and the tutorial's), per family and level for the engines; CER and latency."""
    learned = strategies.learned_layout(generate_challenge(seed, 1).sections for seed in TRAINING_SEEDS)
    pool = [s.text for seed in TRAINING_SEEDS[:5] for s in generate_challenge(seed, 1).sections]
    rows: dict[str, dict[str, list[float]]] = {}
    tasks = [(family, level) for family in families for level in levels]
    per_level: dict[str, dict[str, list[float]]] = {name: {f"{f}/level{v}": [] for f, v in tasks} for name in readers}
    cers: dict[str, list[float]] = {name: [] for name in readers}
    latencies: dict[str, list[float]] = {name: [] for name in readers}
    for family, level in tasks:
        for seed in range(1, n_challenges + 1):
            challenge = generate_challenge(seed, level, (family,))
            named = {"oracle (labels)": strategies.oracle(challenge.sections)}
            named["oracle duplicated x5"] = strategies.duplicated(challenge.sections, 5)
            named |= non_reading(challenge, learned, pool)
            latency = dict.fromkeys(named, INSTANT_S)
            image = np.asarray(decode_image(encode_image(challenge.image)).convert("L"))  # what a miner decodes
            for name, engine in readers.items():
                start = time.perf_counter()
                named[name] = engine(image)
                latency[name] = time.perf_counter() - start
                latencies[name].append(latency[name])
                cers[name].append(character_error_rate(challenge.sections, named[name]))
            for name, answer in named.items():
                ours = score(challenge.sections, answer, latency[name], DEADLINE_S, stock=challenge.stock)
                theirs = tutorial_reward(challenge.sections, answer, latency[name], DEADLINE_S)
                row = rows.setdefault(name, {"ours": [], "tutorial": []})
                row["ours"].append(ours.total)
                row["tutorial"].append(theirs.total)
                if name in per_level:
                    per_level[name][f"{family}/level{level}"].append(ours.total)
    answers = {
        name: {
            "ours": statistics.fmean(r["ours"]),
            "ours_max": max(r["ours"]),
            "tutorial": statistics.fmean(r["tutorial"]),
        }
        for name, r in rows.items()
    }
    engine_stats = {
        name: {
            "cer": statistics.fmean(cers[name]),
            "latency_s": statistics.fmean(latencies[name]),
            "reward_by_family_level": {task: statistics.fmean(v) for task, v in per_level[name].items()},
        }
        for name in readers
    }
    return {
        "challenges": n_challenges,
        "levels": list(levels),
        "families": list(families),
        "answers": answers,
        "engines": engine_stats,
    }


def metagraph_of(hotkeys: Sequence[str]) -> Metagraph:
    """One neuron per hotkey at a documentation address (never dialled: weights only look at it)."""
    neurons = tuple(
        NeuronInfo(uid, hotkey, "cold", 0.0, False, AxonInfo(f"198.51.100.{uid + 1}", 8091), 0)
        for uid, hotkey in enumerate(hotkeys)
    )
    return Metagraph(netuid=1, block=1, neurons=neurons)


def weight_shares(emas: dict[str, float], power: float) -> dict[str, float]:
    """The validator's own weight function on a population whose EMAs are the mean rewards measured."""
    scores = {hotkey: MinerScore(uid=uid, ema=ema) for uid, (hotkey, ema) in enumerate(emas.items())}
    _, weights = weights_from_scores(scores, metagraph_of(list(emas)), "validator", allowed=DOC_NET, power=power)
    return dict(zip(emas, weights, strict=True))


def population(compared: dict, readers: Sequence[str]) -> dict:
    """Honest engines beside every non-reading answer, one hotkey each: shares at the default power and linear."""
    no_read = [
        name for name in compared["answers"] if name not in (*readers, "oracle (labels)", "oracle duplicated x5")
    ]
    emas = {name: compared["answers"][name]["ours"] for name in (*readers, *no_read)}
    shares = {"default": weight_shares(emas, DEFAULT_WEIGHT_POWER), "linear": weight_shares(emas, 1.0)}
    return {"emas": emas, "shares": shares, "no_read": no_read, "power": DEFAULT_WEIGHT_POWER}


class StaticChain:
    """A chain that only answers reads: the Sybil round needs the metagraph, never a weight set."""

    netuid = 1

    def __init__(self, hotkeys: Sequence[str]) -> None:
        neurons = [NeuronInfo(0, "validator", "cold", 1e6, True, None, 0)]
        neurons += [
            NeuronInfo(uid, h, "cold", 0.0, False, AxonInfo("127.0.0.1", 1), 0) for uid, h in enumerate(hotkeys, 1)
        ]
        self._metagraph = Metagraph(netuid=1, block=1, neurons=tuple(neurons))

    def metagraph(self) -> Metagraph:
        return self._metagraph

    def hyperparameters(self) -> Hyperparameters:
        return Hyperparameters(tempo=100, weights_rate_limit=100, commit_reveal_enabled=False)


def sybil(hotkeys: int, rounds: int, per_miner_pages: bool, relay: bool = False) -> dict:
    """One operator behind `hotkeys` hotkeys, in the validator's real round (`Validator.run_round`, the real
    generator and scorer), reading each distinct page once (a perfect reader: the page's labels) and
    answering every hotkey from that cache. Per-miner pages: K pages, K reads; a shared page: 1 read. With
    `relay` it reads only the first hotkey's page and sends that answer for all of them."""
    pages: dict[bytes, Challenge] = {}
    reads = 0
    round_seed = 0

    def make_challenge(seed: int, difficulty: int) -> Challenge:
        challenge = generate_challenge(seed if per_miner_pages else round_seed, difficulty)
        pages[challenge.image] = challenge
        return challenge

    async def operator(client, wallet, miners, bodies, deadline_s) -> list[QueryResult]:
        nonlocal reads
        answers: dict[bytes, tuple[Section, ...]] = {}
        results = []
        for miner, body in zip(miners, bodies, strict=True):
            image = base64.b64decode(OcrRequest.model_validate_json(body).image)
            if relay and answers:
                image = next(iter(answers))
            if image not in answers:
                reads += 1
                answers[image] = pages[image].sections
            results.append(QueryResult(miner.uid, miner.hotkey, Outcome.OK, INSTANT_S, answers[image]))
        return results

    names = [f"sybil-{i}" for i in range(hotkeys)]
    with tempfile.TemporaryDirectory(prefix="bench-scoring-") as home:
        validator = Validator(
            chain=StaticChain(names),
            wallet=None,  # the operator strategy answers in-process: nothing is signed
            hotkey="validator",
            config=ValidatorConfig(
                state_path=Path(home) / "state.json",
                sample_size=hotkeys,
                deadline_s=DEADLINE_S,
                allowed_axon_networks=LOOPBACK,
            ),
            make_challenge=make_challenge,
            score=reward_parts,
            metrics=ValidatorMetrics("validator", CollectorRegistry()),
            rng=random.Random(11),
            query=operator,
        )
        paid = 0.0
        for index in range(rounds):
            round_seed = 5000 + index
            report = asyncio.run(validator.run_round())
            paid += sum(parts["total"] for parts in report.parts.values())
    return {"hotkeys": hotkeys, "reads_per_round": reads / rounds, "reward_per_round": paid / rounds}


def print_report(speed_rows: list[dict], compared: dict, shares: dict, sybils: list[dict]) -> None:
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
    levels = ", ".join(str(level) for level in compared["levels"])
    families = ", ".join(compared["families"])
    table = Table(title=f"mean total over {compared['challenges']} pages of each of {families} at levels {levels}")
    table.add_column("answer")
    for column in ("ours", "ours max", "tutorial's", f"target (<= {NO_READ_TARGET})", "weight share", "linear share"):
        table.add_column(column, justify="right")
    for name, row in compared["answers"].items():
        no_read = name in shares["no_read"]
        verdict = ("ok" if row["ours_max"] <= NO_READ_TARGET else "MISSED") if no_read else ""
        share = shares["shares"]["default"].get(name)
        linear = shares["shares"]["linear"].get(name)
        table.add_row(
            name,
            f"{row['ours']:.3f}",
            f"{row['ours_max']:.3f}",
            f"{row['tutorial']:.3f}",
            verdict,
            "" if share is None else f"{share:.2%}",
            "" if linear is None else f"{linear:.2%}",
        )
    console.print(table)
    no_read_share = sum(shares["shares"]["default"][name] for name in shares["no_read"])
    console.print(
        f"all non-reading hotkeys together keep {no_read_share:.3%} of the weight at power {shares['power']:g} "
        f"(target <= 1%: {'ok' if no_read_share <= 0.01 else 'MISSED'}); linear weights left them "
        f"{sum(shares['shares']['linear'][name] for name in shares['no_read']):.2%}"
    )
    for name, stats in compared["engines"].items():
        by_level = ", ".join(f"{k} {v:.3f}" for k, v in stats["reward_by_family_level"].items())
        console.print(f"{name}: CER {stats['cer']:.3f}, {stats['latency_s']:.2f} s per page; reward {by_level}")
    table = Table(title="Sybil: one operator, K hotkeys, one read per distinct page (validator's real round)")
    for column in ("pages", "hotkeys", "reads per round", "reward per round (all hotkeys)"):
        table.add_column(column, justify="right")
    for row in sybils:
        table.add_row(
            row["pages"], str(row["hotkeys"]), f"{row['reads_per_round']:.1f}", f"{row['reward_per_round']:.2f}"
        )
    console.print(table)


@app.command()
def main(
    challenges: int = typer.Option(10, min=1, help="Generated challenges per level to compare the scorers on."),
    levels: list[int] = typer.Option([1], "--level", min=0, max=4, help="Challenge difficulty levels (repeat)."),
    repeats: int = typer.Option(9, min=1, help="Timing repeats per size (best of)."),
    tesseract: bool = typer.Option(True, help="Run the tesseract backend (needs Debian tesseract-ocr)."),
    model: bool = typer.Option(True, help="Run our model (packaged weights, on the CPU)."),
    hotkeys: int = typer.Option(4, min=2, help="Hotkeys of the Sybil operator."),
    family: list[str] = typer.Option(["invoice"], "--family", help="Document families to compare on (repeat)."),
    as_json: bool = typer.Option(False, "--json", help="Print the results as JSON."),
) -> None:
    """Time our scorer against a naive baseline; compare it with the tutorial's on real challenges; weights
    of honest and non-reading miners; what K hotkeys cost one operator."""
    configure_logging(logging.ERROR)
    speed_rows = speed(repeats)
    readers = engines(tesseract, model)
    compared = comparison(challenges, levels, readers, check_families(family))
    shares = population(compared, list(readers))
    sybils = [
        {"pages": "one per miner", **sybil(hotkeys, 3, per_miner_pages=True)},
        {"pages": "one per miner, one read relayed", **sybil(hotkeys, 3, per_miner_pages=True, relay=True)},
        {"pages": "one per round (v1)", **sybil(hotkeys, 3, per_miner_pages=False)},
    ]
    if as_json:
        typer.echo(
            json.dumps({"speed": speed_rows, "comparison": compared, "weights": shares, "sybil": sybils}, indent=2)
        )
    else:
        print_report(speed_rows, compared, shares, sybils)


if __name__ == "__main__":
    app()
