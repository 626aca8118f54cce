"""Held-out evaluation: fixed seed sets per source (difficulty 0..4 and tutorial-like), scores and calibration.

Validation (during training), calibration (after it) and the benchmark each draw their own
seeds from their own base, and training skips every seed any of them could use, so no scored
page was ever a training page.
"""

from __future__ import annotations

import io
import itertools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from functools import partial
from statistics import fmean

import numpy as np
import numpy.typing as npt
from PIL import Image
from scipy.optimize import linear_sum_assignment

from ocr_subnet.challenge.generate import derive_seeds, generate_challenge
from ocr_subnet.challenge.levels import LEVELS
from ocr_subnet.evaluation.real_pdfs import page_cer
from ocr_subnet.model.correction import Corrector
from ocr_subnet.model.geometry import Calibration, font_sizes, page_families, quad_bounds, rect_corners
from ocr_subnet.model.language import CharNgram
from ocr_subnet.model.lexicon import Lexicon
from ocr_subnet.model.nets import FAMILY_INDEX
from ocr_subnet.model.pipeline import Maps, Reading, to_sections
from ocr_subnet.model.synth import tutorial_sample
from ocr_subnet.scoring import matrices
from ocr_subnet.scoring.cer import character_error_rate
from ocr_subnet.scoring.reward import score
from ocr_subnet.scoring.tutorial import tutorial_reward
from ocr_subnet.sections import Section, plain_text

VALIDATION_BASE, CALIBRATION_BASE, BENCHMARK_BASE = 0x0C5_0001, 0x0C5_0002, 0x0C5_0003
LEXICON_PENALTIES = (0.0, 2.0, 4.0, 8.0, 12.0, 16.0, 24.0, 32.0)  # nats; 0 turns the lexicon off
LANGUAGE_WEIGHTS = (0.0, 0.1, 0.2, 0.3, 0.5, 0.8)  # 0 turns the language model off
MAX_PAGES_PER_SOURCE = 256  # the most pages any evaluation draws per source: training skips all of them
SOURCES = (*(f"level{level.level}" for level in LEVELS), "tutorial")


@dataclass(frozen=True)
class EvalPage:
    source: str
    seed: int
    image: npt.NDArray[np.uint8]
    labels: tuple[Section, ...]


def source_seeds(base: int, source: str, count: int) -> list[int]:
    return derive_seeds(base * 16 + SOURCES.index(source), count)


def held_out_seeds() -> frozenset[int]:
    """Every seed an evaluation may draw (any base, any source, up to MAX_PAGES_PER_SOURCE)."""
    bases = (VALIDATION_BASE, CALIBRATION_BASE, BENCHMARK_BASE)
    return frozenset(s for b in bases for src in SOURCES for s in source_seeds(b, src, MAX_PAGES_PER_SOURCE))


def load_page(source: str, seed: int) -> EvalPage:
    """The page a validator would send for `seed` from `source`, decoded, with its labels."""
    if source == "tutorial":
        sample = tutorial_sample(seed)
        return EvalPage(source, seed, sample.image, tuple(sample.sections()))
    challenge = generate_challenge(seed, int(source.removeprefix("level")))
    image = np.asarray(Image.open(io.BytesIO(challenge.image)).convert("L"))
    return EvalPage(source, seed, image, challenge.sections)


def eval_pages(base: int, per_source: int, sources: Sequence[str] = SOURCES) -> list[EvalPage]:
    if per_source > MAX_PAGES_PER_SOURCE:
        raise ValueError(f"at most {MAX_PAGES_PER_SOURCE} pages per source are held out, asked {per_source}")
    return [load_page(src, seed) for src in sources for seed in source_seeds(base, src, per_source)]


def page_metrics(labels: Sequence[Section], predictions: Sequence[Section]) -> dict[str, float]:
    """One answer's quality: our prediction reward and its parts, the tutorial's, and the page CER."""
    ours = score(labels, predictions, latency_s=0.0, deadline_s=1.0)
    return {
        "reward": ours.prediction,
        "tutorial_reward": tutorial_reward(labels, predictions, 0.0, 1.0).prediction,
        "cer": character_error_rate(labels, predictions),
        "text": ours.text,
        "position": ours.position,
        "font": ours.font,
    }


def summarize(rows: Sequence[tuple[str, dict[str, float]]]) -> dict[str, dict[str, float]]:
    """(source, metrics) rows -> mean metrics per source, plus pages counted."""
    out: dict[str, dict[str, float]] = {}
    for source, group in itertools.groupby(sorted(rows, key=lambda r: r[0]), key=lambda r: r[0]):
        metrics = [m for _, m in group]
        out[source] = {k: float(np.mean([m[k] for m in metrics])) for k in metrics[0]} | {"pages": len(metrics)}
    return out


def evaluate(
    predict: Callable[[list[npt.NDArray[np.uint8]]], list[list[Section]]], pages: Sequence[EvalPage], batch: int = 4
) -> dict[str, dict[str, float]]:
    """Run `predict` over the pages in batches and summarize per source."""
    rows = []
    for start in range(0, len(pages), batch):
        chunk = pages[start : start + batch]
        for page, predicted in zip(chunk, predict([p.image for p in chunk]), strict=True):
            rows.append((page.source, page_metrics(page.labels, predicted)))
    return summarize(rows)


def match_boxes(labels: Sequence[Section], rects: npt.NDArray[np.float64]) -> tuple[np.ndarray, np.ndarray, float]:
    """Pair labels with detected rectangles by IoU (>= 0.5 only): label indices, rect indices, and the
    F1-style detection quality 2 * sum(IoU) / (labels + detections)."""
    if not labels or not len(rects):
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty, float(not labels and not len(rects))
    boxes = quad_bounds(rect_corners(rects))
    predicted = [Section(text="", position=tuple(b), font={"family": "", "size": 1.0}) for b in boxes]
    iou = matrices.iou(labels, predicted)
    iou = iou * (iou >= 0.5)
    rows, cols = linear_sum_assignment(iou, maximize=True)
    keep = iou[rows, cols] > 0
    return rows[keep], cols[keep], float(2 * iou[rows, cols].sum() / (len(labels) + len(predicted)))


def size_ratio(labels: Sequence[Section], predicted: npt.NDArray[np.float64]) -> float:
    truth = np.array([s.font.size for s in labels])
    return float(np.mean(np.minimum(truth, predicted) / np.maximum(truth, predicted))) if len(truth) else 0.0


def calibrate_boxes(maps: Sequence[tuple[Maps, EvalPage]], base: Calibration) -> tuple[Calibration, float]:
    """The box knobs (threshold, end growth, height gain) that maximize `match_boxes`' detection quality
    over pages whose detector maps are cached."""
    grid = {
        "threshold": (0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95),
        "extend_x": (-0.2, -0.15, -0.1, -0.05, 0.0, 0.05),
        "height_gain": (0.94, 0.96, 0.98, 1.0, 1.02, 1.04, 1.06, 1.08, 1.1),
    }
    best, best_quality = base, -1.0
    for values in itertools.product(*grid.values()):
        candidate = replace(base, **dict(zip(grid, values, strict=True)))
        quality = float(np.mean([match_boxes(page.labels, m.rects(candidate))[2] for m, page in maps]))
        if quality > best_quality:
            best, best_quality = candidate, quality
    return best, best_quality


def calibrate_fonts(readings: Sequence[tuple[Reading, EvalPage]], base: Calibration) -> tuple[Calibration, dict]:
    """The font knobs, from strings matched to labels: the size gain is the median true / estimated size;
    snapping, pooling and the family prior are kept where they raise the mean size ratio / family accuracy."""
    matched = []
    for reading, page in readings:
        rows, cols = match_boxes(page.labels, reading.rects)[:2]
        matched.append(([page.labels[i] for i in rows], reading.rects[cols], reading.family_probs[cols], page))
    if not any(labels for labels, *_ in matched):  # an untrained model finds nothing to fit on
        return base, {"size_ratio": 0.0, "family_accuracy": 0.0}
    raw = replace(base, size_gain=1.0, snap_size=False, pool_sizes=False)
    ratios = [
        label.font.size / size
        for labels, rects, _, page in matched
        for label, size in zip(labels, font_sizes(rects, page.image.shape[1], raw), strict=True)
    ]
    best = replace(base, size_gain=float(np.median(ratios)))

    def size_quality(candidate: Calibration) -> float:
        return float(np.mean([size_ratio(lab, font_sizes(r, p.image.shape[1], candidate)) for lab, r, _, p in matched]))

    sizing = {
        (snap, pool): size_quality(replace(best, snap_size=snap, pool_sizes=pool))
        for snap in (False, True)
        for pool in (False, True)
    }
    snap, pool = max(sizing, key=sizing.__getitem__)

    truth = [(probs, [FAMILY_INDEX[s.font.family] for s in lab]) for lab, _, probs, _ in matched if lab]

    def family_accuracy(prior: float) -> float:
        return float(np.mean([np.mean(page_families(probs, prior) == want) for probs, want in truth]))

    families = {prior: family_accuracy(prior) for prior in (0.0, 0.5, 1.0, 2.0, 4.0)}
    prior = max(families, key=families.__getitem__)
    best = replace(best, snap_size=snap, pool_sizes=pool, family_prior=prior)
    return best, {"size_ratio": sizing[(snap, pool)], "family_accuracy": families[prior]}


GENERATOR, REAL_PDFS = "generator", "real_pdfs"  # the domains the corrections are calibrated on
CER_FLOOR = 1e-3  # a domain read (nearly) perfectly uncorrected: its corrections' cost is judged against this


@dataclass(frozen=True)
class ScoredReading:
    """A page read once without corrections, and the CER of a reading of it: the validator's against a generated
    page's labels, or the real-PDF set's against a PDF's text layer."""

    reading: Reading
    width: int
    height: int
    cer: Callable[[list[Section]], float]


def label_scored(readings: Sequence[tuple[Reading, EvalPage]]) -> list[ScoredReading]:
    """Generated pages' readings, scored as the validator scores them."""
    return [
        ScoredReading(reading, page.image.shape[1], page.image.shape[0], partial(character_error_rate, page.labels))
        for reading, page in readings
    ]


def text_cer(truth: str, sections: list[Section]) -> float:
    """A real page's CER: its text layer against the sections' plain text, in reading order."""
    return page_cer(truth, plain_text(sections))


def corrected_cer(pages: Sequence[ScoredReading], corrector: Corrector, base: Calibration) -> float:
    """Mean page CER of uncorrected readings (with their log-probabilities) once `corrector` has run."""
    rates = []
    for page in pages:
        reading = page.reading
        texts = [corrector(text, columns) for text, columns in zip(reading.texts, reading.log_probs, strict=True)]
        rates.append(page.cer(to_sections(replace(reading, texts=texts), page.width, page.height, base)))
    return float(np.mean(rates))


def calibrate_correction(
    domains: Mapping[str, Sequence[ScoredReading]], lexicon: Lexicon, language: CharNgram | None, base: Calibration
) -> tuple[Calibration, dict[str, dict[str, float]]]:
    """The out-of-vocabulary penalty, then the language model's weight, each with the lowest mean over `domains` of
    the domain's mean CER relative to its uncorrected one (read once; only the corrections are re-run). Relative,
    so that a domain read at 10% CER (small, blurred invoice text) does not drown one read at 1% (a manual's page):
    a penalty that mends invoices by turning a manual's own words into dictionary ones is judged by both."""

    def rates(penalty: float, weight: float) -> dict[str, float]:
        corrector = Corrector(lexicon, language, penalty, weight)
        return {name: corrected_cer(pages, corrector, base) for name, pages in domains.items()}

    by_penalty = {penalty: rates(penalty, 0.0) for penalty in LEXICON_PENALTIES}
    raw = by_penalty[0.0]

    def relative(cers: dict[str, float]) -> float:
        return fmean(cers[name] / max(raw[name], CER_FLOOR) for name in cers)

    penalty = min(by_penalty, key=lambda p: relative(by_penalty[p]))
    by_weight = {weight: rates(penalty, weight) for weight in LANGUAGE_WEIGHTS}
    weight = min(by_weight, key=lambda w: relative(by_weight[w]))
    fit = {
        name: {
            "uncorrected": raw[name],
            "with_lexicon": by_penalty[penalty][name],
            "corrected": by_weight[weight][name],
        }
        for name in domains
    }
    return replace(base, lexicon_penalty=penalty, language_weight=weight), fit
