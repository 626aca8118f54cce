"""The recognizer's alphabet and CTC decoding: pure functions over integer sequences.

Index 0 is the CTC blank; then printable ASCII, which covers every character the validator's generators
draw, then what real documents add: typographic punctuation (curly quotes, dashes, bullets), Latin-1's
letters and common signs, and the euro, all in the PDF base fonts' WinAnsi encoding. NFKC leaves every
added character as it is (real-PDF truth is NFKC-normalised, which spells ligatures as their letters and
an ellipsis as three periods). New characters only ever go at the end, so a network trained on a shorter
alphabet keeps its classes (`nets.load_exported`).
"""

from __future__ import annotations

import string
from collections.abc import Iterable, Sequence

import numpy as np

BLANK = 0
ASCII = string.digits + string.ascii_letters + string.punctuation + " "
TYPOGRAPHIC = "\u2018\u2019\u201c\u201d\u2013\u2014\u2022\u20ac"  # curly quotes, en and em dash, bullet, euro
# inverted !, cent, pound, yen, section, copyright, guillemets, registered, degree, plus-minus, pilcrow, middle
# dot, inverted ?, multiplication and division signs
SIGN_CODES = (0xA1, 0xA2, 0xA3, 0xA5, 0xA7, 0xA9, 0xAB, 0xAE, 0xB0, 0xB1, 0xB6, 0xB7, 0xBB, 0xBF, 0xD7, 0xF7)
LATIN1_SIGNS = "".join(chr(c) for c in SIGN_CODES)
LATIN1_LETTERS = "".join(chr(c) for c in range(0xC0, 0x100) if c not in SIGN_CODES)
ALPHABET = ASCII + TYPOGRAPHIC + LATIN1_SIGNS + LATIN1_LETTERS
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
