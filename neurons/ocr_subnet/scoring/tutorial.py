"""The original OCR subnet tutorial's reward, defects included, as the baseline we must beat.

Kept only so benchmarks and reports can print both scores side by side; the validator never
pays with it. Faithful to the reference as described in DESIGN.md: per label, the mean of text
(1 - edit distance / longer length), position (IoU with the `+1` inclusive-pixel term) and font
(mean of size ratio and family match), labels paired with predictions by the Hungarian
algorithm on that mean; prediction = mean over labels, so extra or duplicate predictions cost
nothing and box/font credit needs no text; total = 0.8 * prediction + 0.2 * time with time
= 1 - latency / deadline, paid even for an empty answer.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from pydantic import BaseModel, ConfigDict
from scipy.optimize import linear_sum_assignment

from ocr_subnet.scoring import matrices
from ocr_subnet.sections import Section

TUTORIAL_ALPHA_PREDICTION = 0.8
TUTORIAL_ALPHA_TIME = 0.2


class TutorialReward(BaseModel):
    """The tutorial scorer's parts: means over the labels, unmatched labels counting 0."""

    model_config = ConfigDict(frozen=True)

    text: float
    position: float
    font: float
    prediction: float
    time: float
    total: float
    matched: int


def tutorial_reward(
    labels: Sequence[Section], predictions: Sequence[Section], latency_s: float, deadline_s: float
) -> TutorialReward:
    """Score an answer the way the tutorial's validator would (with positions in pixels)."""
    parts = np.zeros(3)
    matched = 0
    if labels and predictions:
        credits = np.stack(
            [
                matrices.text_similarity(labels, predictions),
                matrices.iou(labels, predictions, pixel_offset=1.0),
                matrices.font_similarity(labels, predictions),
            ]
        )
        pair = credits.mean(axis=0)
        rows, cols = linear_sum_assignment(pair, maximize=True)
        matched = len(rows)
        parts = credits[:, rows, cols].sum(axis=1) / len(labels)
    prediction = float(parts.mean())
    time = max(0.0, 1.0 - latency_s / deadline_s)
    return TutorialReward(
        text=float(parts[0]),
        position=float(parts[1]),
        font=float(parts[2]),
        prediction=prediction,
        time=time,
        total=TUTORIAL_ALPHA_PREDICTION * prediction + TUTORIAL_ALPHA_TIME * time,
        matched=matched,
    )
