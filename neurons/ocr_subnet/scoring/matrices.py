"""Pairwise label x prediction similarity matrices, vectorized.

Both scorers (ours and the tutorial's) compare every label with every prediction before
matching; at the protocol's limits that is ~100 x 1000 pairs per answer, so the work is done
by rapidfuzz's C++ `cdist` and numpy broadcasting rather than Python loops.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from rapidfuzz import process
from rapidfuzz.distance import Levenshtein

from ocr_subnet.sections import Section


def text_similarity(labels: Sequence[Section], predictions: Sequence[Section]) -> np.ndarray:
    """1 - Levenshtein distance / length of the longer string, for every pair (labels x predictions)."""
    if not labels or not predictions:
        return np.zeros((len(labels), len(predictions)))
    return process.cdist(
        [s.text for s in labels],
        [s.text for s in predictions],
        scorer=Levenshtein.normalized_similarity,
        dtype=np.float64,
        workers=1,
    )


def boxes(sections: Sequence[Section]) -> np.ndarray:
    """The sections' positions as an (n, 4) float array of x0, y0, x1, y1."""
    return np.array([s.position for s in sections], dtype=np.float64).reshape(len(sections), 4)


def iou(labels: Sequence[Section], predictions: Sequence[Section], pixel_offset: float = 0.0) -> np.ndarray:
    """Intersection over union of every pair of boxes, in pixels.

    `pixel_offset` exists only to reproduce the tutorial's `+1` (inclusive integer pixel
    edges), which inflates small boxes' overlap; our scorer keeps it at 0.
    """
    ax0, ay0, ax1, ay1 = (column[:, None] for column in boxes(labels).T)
    bx0, by0, bx1, by1 = boxes(predictions).T
    inter_w = np.clip(np.minimum(ax1, bx1) - np.maximum(ax0, bx0) + pixel_offset, 0, None)
    inter_h = np.clip(np.minimum(ay1, by1) - np.maximum(ay0, by0) + pixel_offset, 0, None)
    inter = inter_w * inter_h
    area_a = (ax1 - ax0 + pixel_offset) * (ay1 - ay0 + pixel_offset)
    area_b = (bx1 - bx0 + pixel_offset) * (by1 - by0 + pixel_offset)
    union = area_a + area_b - inter
    with np.errstate(divide="ignore", invalid="ignore"):
        result = np.where(union > 0, inter / union, 0.0)
    return np.nan_to_num(result, nan=0.0, posinf=0.0, neginf=0.0)


def font_similarity(labels: Sequence[Section], predictions: Sequence[Section]) -> np.ndarray:
    """Mean of family match (case-insensitive name equality) and size ratio (smaller / larger)."""
    codes: dict[str, int] = {}
    family_code = np.array([codes.setdefault(s.font.family.casefold(), len(codes)) for s in [*labels, *predictions]])
    same_family = family_code[: len(labels), None] == family_code[None, len(labels) :]
    family = same_family.astype(np.float64)
    label_sizes = np.array([s.font.size for s in labels], dtype=np.float64)[:, None]
    predicted_sizes = np.array([s.font.size for s in predictions], dtype=np.float64)[None, :]
    with np.errstate(divide="ignore", invalid="ignore"):
        size = np.minimum(label_sizes, predicted_sizes) / np.maximum(label_sizes, predicted_sizes)
    size = np.nan_to_num(size, nan=0.0, posinf=0.0, neginf=0.0)
    return (family + size) / 2
