"""Open vocabulary for the prose and receipt families: English words from Debian's `wamerican`.

`/usr/share/dict/words` (SCOWL size 50, about 104k entries; its licence permits use, copying and
redistribution: /usr/share/doc/wamerican/copyright) is far too large to memorise as a closed
lexicon, and its words are drawn uniformly, so no n-gram model of our text helps a miner either.
Only plain ASCII words are kept (letters and apostrophes), so every character is in every face.
"""

from __future__ import annotations

import functools
import re
from pathlib import Path

import numpy as np

WORDS_FILE = Path("/usr/share/dict/words")
_PLAIN = re.compile(r"[A-Za-z][A-Za-z']*")


class VocabularyMissing(RuntimeError):
    """The word list is absent: Debian's `wamerican` is not installed."""


@functools.cache
def vocabulary() -> tuple[str, ...]:
    """Every plain word of the list, in its order (the order fixes what a seed draws)."""
    try:
        lines = WORDS_FILE.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise VocabularyMissing(
            f"{WORDS_FILE}: {exc.strerror or exc}; install wamerican (scripts/setup.sh does)"
        ) from exc
    return tuple(line for line in lines if _PLAIN.fullmatch(line))


def words(rng: np.random.Generator, count: int) -> list[str]:
    """`count` words drawn uniformly from the vocabulary."""
    vocab = vocabulary()
    return [vocab[i] for i in rng.integers(0, len(vocab), size=count)]
