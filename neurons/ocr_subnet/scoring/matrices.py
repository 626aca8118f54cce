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
    a = boxes(labels)[:, None, :]
    b = boxes(predictions)[None, :, :]
    x0, y0 = np.maximum(a[..., 0], b[..., 0]), np.maximum(a[..., 1], b[..., 1])
    x1, y1 = np.minimum(a[..., 2], b[..., 2]), np.minimum(a[..., 3], b[..., 3])
    inter = np.clip(x1 - x0 + pixel_offset, 0, None) * np.clip(y1 - y0 + pixel_offset, 0, None)
    area_a = (a[..., 2] - a[..., 0] + pixel_offset) * (a[..., 3] - a[..., 1] + pixel_offset)
    area_b = (b[..., 2] - b[..., 0] + pixel_offset) * (b[..., 3] - b[..., 1] + pixel_offset)
    union = area_a + area_b - inter
    with np.errstate(divide="ignore", invalid="ignore"):
        result = np.where(union > 0, inter / union, 0.0)
    return np.nan_to_num(result, nan=0.0, posinf=0.0, neginf=0.0)


def font_similarity(labels: Sequence[Section], predictions: Sequence[Section]) -> np.ndarray:
    """Mean of family match (case-insensitive name equality) and size ratio (smaller / larger)."""
    label_families = np.array([s.font.family.casefold() for s in labels], dtype=object)[:, None]
    predicted_families = np.array([s.font.family.casefold() for s in predictions], dtype=object)[None, :]
    family = (label_families == predicted_families).astype(np.float64).reshape(len(labels), len(predictions))
    label_sizes = np.array([s.font.size for s in labels], dtype=np.float64)[:, None]
    predicted_sizes = np.array([s.font.size for s in predictions], dtype=np.float64)[None, :]
    with np.errstate(divide="ignore", invalid="ignore"):
        size = np.minimum(label_sizes, predicted_sizes) / np.maximum(label_sizes, predicted_sizes)
    size = np.nan_to_num(size, nan=0.0, posinf=0.0, neginf=0.0)
    return (family + size) / 2
