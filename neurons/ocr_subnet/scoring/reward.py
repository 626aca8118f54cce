"""Our reward: what a miner earns for one answer to one challenge (scoring version 2).

The tutorial's scorer (see `tutorial.py`) can be gamed: extra and duplicate predictions cost
nothing and position/font credit is paid for boxes whose text was never read, so a constant box
with a guessed font beats real OCR. Here every credit is earned by reading text where it is drawn,
and paid by the character, so the reward grows with the share of the page actually read:

* per pair (label i, prediction j): text t = 1 - normalized edit distance, floored and rescaled to
  t' = max(0, (t - text_floor) / (1 - text_floor)), so text of the right length that was not read
  (t well below 1) earns nothing; position p = IoU in pixels, font f = mean of family match and
  size ratio;
* localization gate g = min(1, p / full_credit_iou): text read elsewhere on the page earns little;
* pair quality q = t' * g * (w_t + w_p * p + w_f * f) / (w_t + w_p + w_f): position and font pay
  only as far as the text was read there;
* characters: a string weighs its length (at least 1), times `stock_weight` when it is one of the
  generator's fixed strings (`stock`: template labels a miner could send without reading); a pair
  weighs the lighter of its two strings, so no pair pays more than either side carries;
* the Hungarian algorithm pairs predictions with labels to maximize the sum of weight * q;
* recall = sum weight * q / label characters, precision = sum weight * q / predicted characters,
  prediction reward = min(recall, precision): reading a fraction f of the page pays f (not F1's
  2f/(1+f)), and every unmatched, duplicate or padded character costs;
* time: 1 up to `fast_latency_s`, falling linearly to 0 at the request deadline; it is paid in
  proportion to the prediction reward, so a fast empty answer earns nothing;
* total = alpha_prediction * prediction + alpha_time * time.

Any non-finite input yields an all-zero reward: NaN or inf never reaches the EMA or the chain.
Changing any of this (or a default below) changes what validators pay: bump `SCORING_VERSION`.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Sequence
from typing import Annotated

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator
from scipy.optimize import linear_sum_assignment

from ocr_subnet.metric_names import REWARD_PARTS
from ocr_subnet.scoring import matrices
from ocr_subnet.sections import Section

UnitFloat = Annotated[float, Field(ge=0.0, le=1.0, allow_inf_nan=False)]
SCORING_VERSION = 2  # consensus-relevant: part of the weights' version key (see validator.policy)
_SUM_TOLERANCE = 1e-9


class ScoringConfig(BaseModel):
    """The validator's reward knobs; validated so a bad config fails at start-up, not mid-round."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    alpha_prediction: UnitFloat = 0.8
    alpha_time: UnitFloat = 0.2
    weight_text: UnitFloat = 0.5
    weight_position: UnitFloat = 0.25
    weight_font: UnitFloat = 0.25
    full_credit_iou: float = Field(default=0.5, gt=0.0, le=1.0, allow_inf_nan=False)
    fast_latency_s: float = Field(default=1.0, ge=0.0, allow_inf_nan=False)
    text_floor: float = Field(default=0.5, ge=0.0, lt=1.0, allow_inf_nan=False)
    stock_weight: UnitFloat = 0.1

    @model_validator(mode="after")
    def _weights_sum_to_one(self) -> ScoringConfig:
        alphas = self.alpha_prediction + self.alpha_time
        if abs(alphas - 1.0) > _SUM_TOLERANCE:
            raise ValueError(f"alpha_prediction + alpha_time must be 1, got {alphas}")
        weights = self.weight_text + self.weight_position + self.weight_font
        if abs(weights - 1.0) > _SUM_TOLERANCE:
            raise ValueError(f"weight_text + weight_position + weight_font must be 1, got {weights}")
        return self


DEFAULT_CONFIG = ScoringConfig()


class Reward(BaseModel):
    """One answer's reward and the parts it is made of (all in [0, 1]).

    text, position and font are recall-style, character-weighted means over the labels of the
    gated credits, so recall = weighted mean of them; `speed` is the bare latency score, `time` what it earned.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    text: UnitFloat
    position: UnitFloat
    font: UnitFloat
    precision: UnitFloat
    recall: UnitFloat
    prediction: UnitFloat
    speed: UnitFloat
    time: UnitFloat
    total: UnitFloat
    matched: int = Field(ge=0)
    labels: int = Field(ge=0)
    predictions: int = Field(ge=0)

    def parts(self) -> dict[str, float]:
        """The parts the validator exports as metrics, keyed by `metric_names.REWARD_PARTS`."""
        return {name: getattr(self, name) for name in REWARD_PARTS}


_FRACTIONS = ("text", "position", "font", "precision", "recall", "prediction", "speed", "time", "total")


def _weighted_mean(values: Sequence[float], weights: Sequence[float]) -> float:
    """Dividing by the weights' own sum keeps a perfect answer at exactly 1.0, not 0.9999999."""
    return float(sum(w * v for w, v in zip(weights, values, strict=True)) / sum(weights))


def _finite_inputs(sections: Sequence[Section], *numbers: float) -> bool:
    """Sections built without validation (model_construct) could still carry NaN or inf."""
    values = [c for s in sections for c in s.position] + [s.font.size for s in sections] + list(numbers)
    return bool(np.all(np.isfinite(np.asarray(values, dtype=np.float64))))


def time_reward(latency_s: float, deadline_s: float, fast_latency_s: float = DEFAULT_CONFIG.fast_latency_s) -> float:
    """1 at or below `fast_latency_s`, linear down to 0 at the deadline, 0 past it or for bad input."""
    if not all(math.isfinite(v) for v in (latency_s, deadline_s, fast_latency_s)):
        return 0.0
    if latency_s < 0 or deadline_s <= 0 or latency_s >= deadline_s:
        return 0.0
    if latency_s <= fast_latency_s:
        return 1.0
    return (deadline_s - latency_s) / (deadline_s - fast_latency_s)


def pair_credits(
    labels: Sequence[Section], predictions: Sequence[Section], config: ScoringConfig = DEFAULT_CONFIG
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The gated text, position and font credit of every (label, prediction) pair."""
    similarity = matrices.text_similarity(labels, predictions)
    text = np.clip((similarity - config.text_floor) / (1.0 - config.text_floor), 0.0, 1.0)
    position = matrices.iou(labels, predictions)
    font = matrices.font_similarity(labels, predictions)
    read_here = text * np.minimum(1.0, position / config.full_credit_iou)
    return read_here, read_here * position, read_here * font


def characters(
    sections: Sequence[Section], stock: Collection[str] = (), stock_weight: float = DEFAULT_CONFIG.stock_weight
) -> np.ndarray:
    """What each string weighs: its length (at least 1), times `stock_weight` for a fixed template string."""
    return np.array(
        [max(1, len(s.text)) * (stock_weight if s.text in stock else 1.0) for s in sections], dtype=np.float64
    )


def score(
    labels: Sequence[Section],
    predictions: Sequence[Section],
    latency_s: float,
    deadline_s: float,
    config: ScoringConfig = DEFAULT_CONFIG,
    stock: Collection[str] = (),
) -> Reward:
    """The reward of `predictions` (a miner's answer) against `labels`, answered in `latency_s`.

    `stock` holds the texts the challenge's generator can draw without reading the page (its
    template strings); they weigh `config.stock_weight` per character.

    A latency that is not a real measurement (non-finite or negative) or a deadline that is not
    positive means the validator's clock failed: the answer earns nothing rather than a guess.
    """
    n_labels, n_predictions = len(labels), len(predictions)
    counts = {"labels": n_labels, "predictions": n_predictions}
    zero = Reward(**dict.fromkeys(_FRACTIONS, 0.0), matched=0, **counts)
    if not _finite_inputs([*labels, *predictions], latency_s, deadline_s) or latency_s < 0 or deadline_s <= 0:
        return zero
    weights = (config.weight_text, config.weight_position, config.weight_font)
    label_chars = characters(labels, stock, config.stock_weight)
    predicted_chars = characters(predictions, stock, config.stock_weight)
    parts = (0.0, 0.0, 0.0)
    matched = 0
    if n_labels and n_predictions:
        credits = pair_credits(labels, predictions, config)
        pair_chars = np.minimum(label_chars[:, None], predicted_chars[None, :])
        quality = sum(w * c for w, c in zip(weights, credits, strict=True)) / sum(weights)
        rows, cols = linear_sum_assignment(quality * pair_chars, maximize=True)
        matched = int(np.count_nonzero(quality[rows, cols] > 0))
        paid = pair_chars[rows, cols]
        parts = tuple(float((c[rows, cols] * paid).sum() / label_chars.sum()) for c in credits)
    recall = _weighted_mean(parts, weights) if n_labels else float(n_predictions == 0)
    if n_predictions:
        precision = recall * float(label_chars.sum()) / float(predicted_chars.sum()) if n_labels else 0.0
    else:
        precision = float(n_labels == 0)
    prediction = min(recall, precision)
    speed = time_reward(latency_s, deadline_s, config.fast_latency_s)
    time = speed * prediction
    total = _weighted_mean((prediction, time), (config.alpha_prediction, config.alpha_time))
    values = dict(zip(_FRACTIONS, (*parts, precision, recall, prediction, speed, time, total), strict=True))
    if not all(math.isfinite(v) for v in values.values()):
        return zero
    # Sums of values <= 1 can round a hair above 1; clip so the model's bounds always hold.
    return Reward(**{k: min(1.0, max(0.0, v)) for k, v in values.items()}, matched=matched, **counts)
