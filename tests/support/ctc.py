"""Hand-made CTC posteriors: what a recognizer would output for a crop, with chosen doubts."""

from __future__ import annotations

import torch
from ocr_subnet.model import charset


def posterior(frames: list[dict[str, float]]) -> torch.Tensor:
    """(T, classes) log-probabilities: each frame gives its characters ("" is the blank) these probabilities,
    the rest of the mass spread over every other class."""
    out = torch.full((len(frames), charset.NUM_CLASSES), 0.0)
    for t, frame in enumerate(frames):
        rest = (1.0 - sum(frame.values())) / (charset.NUM_CLASSES - len(frame))
        out[t] = rest
        for ch, p in frame.items():
            out[t, charset.BLANK if ch == "" else charset.encode(ch)[0]] = p
    return out.log()


def reading(text: str, doubt: dict[int, dict[str, float]] | None = None) -> torch.Tensor:
    """A crop read as `text`, one character then one blank per frame; `doubt` replaces character i's frame."""
    frames: list[dict[str, float]] = []
    for i, ch in enumerate(text):
        frames += [(doubt or {}).get(i, {ch: 0.98}), {"": 0.98}]
    return posterior(frames)
