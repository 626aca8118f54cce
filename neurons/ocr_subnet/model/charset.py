"""The recognizer's alphabet and CTC decoding: pure functions over integer sequences.

Index 0 is the CTC blank; the rest is printable ASCII, which covers every character the
invoice generator draws (Faker en_US names and addresses, dates, money, punctuation).
"""

from __future__ import annotations

import string
from collections.abc import Iterable, Sequence

import numpy as np

BLANK = 0
ALPHABET = string.digits + string.ascii_letters + string.punctuation + " "
NUM_CLASSES = len(ALPHABET) + 1
_INDEX = {ch: i + 1 for i, ch in enumerate(ALPHABET)}


def encode(text: str) -> list[int]:
    """Characters -> class indices; characters outside the alphabet are dropped (they never score)."""
    return [_INDEX[ch] for ch in text if ch in _INDEX]


def decode_indices(indices: Iterable[int]) -> str:
    return "".join(ALPHABET[i - 1] for i in indices if 0 < i <= len(ALPHABET))


def ctc_collapse(path: Sequence[int]) -> list[int]:
    """Greedy CTC: merge repeated classes, then drop blanks."""
    collapsed: list[int] = []
    previous = BLANK
    for index in path:
        if index != previous and index != BLANK:
            collapsed.append(int(index))
        previous = index
    return collapsed


def greedy_decode(logits: np.ndarray, lengths: Sequence[int]) -> list[str]:
    """(batch, time, classes) scores and each row's valid length -> decoded strings, outer spaces stripped."""
    best = np.asarray(logits).argmax(axis=-1)
    return [
        decode_indices(ctc_collapse(row[:length].tolist())).strip() for row, length in zip(best, lengths, strict=True)
    ]
