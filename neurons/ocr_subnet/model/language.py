"""A character n-gram language model of general text (Witten-Bell interpolation).

A character model knows the shapes of a language, word boundaries, punctuation and numbers included ("Apt." has
its period, money reads "$1,234.56"), which a word list cannot; the correction step (`correction`) weighs it
against the recognizer's own CTC posterior. `prior` fits it on general English and the open families' strings.
"""

from __future__ import annotations

import gzip
import json
import math
from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path

START, END = "\x02", "\x03"  # padding before a string's first character; the character after its last
# A curly apostrophe or single quote is typography, not spelling: the model counts and scores it as the straight
# one, so it never argues a typeset page's curly apostrophes straight (the posterior alone tells them apart). Double
# quotes stay apart: the recognizer confuses them more at small sizes, and the model mends those (measured).
TYPOGRAPHY = str.maketrans({"\u2018": "'", "\u2019": "'"})
PROBABILITY_CACHE = 1 << 18  # (context, character) probabilities kept; bounds memory in a long-running server
TEXT_CACHE = 1 << 14  # whole-text log-probabilities kept


class CharNgram:
    """P(character | the previous order-1 characters), interpolated down to a uniform floor."""

    def __init__(self, order: int, counts: dict[str, dict[str, int]]) -> None:
        if order < 1:
            raise ValueError(f"an n-gram needs order >= 1, got {order}")
        self.order = order
        self.counts = counts  # context (0 .. order-1 characters) -> next character -> count
        self.totals = {context: sum(following.values()) for context, following in counts.items()}
        self.alphabet = len(counts.get("", {})) + 1  # +1: characters never seen
        self.probability = lru_cache(maxsize=PROBABILITY_CACHE)(self._probability)
        self.log_prob = lru_cache(maxsize=TEXT_CACHE)(self._log_prob)  # corrections ask about a text many times

    @classmethod
    def fit(cls, texts: Iterable[str], order: int = 5) -> CharNgram:
        counts: dict[str, dict[str, int]] = {}
        for text in texts:
            padded = START * (order - 1) + text.translate(TYPOGRAPHY) + END
            for i in range(order - 1, len(padded)):
                for length in range(order):
                    following = counts.setdefault(padded[i - length : i], {})
                    following[padded[i]] = following.get(padded[i], 0) + 1
        return cls(order, counts)

    def _probability(self, context: str, char: str) -> float:
        following = self.counts.get(context)
        if not context:
            seen = following.get(char, 0) if following else 0
            return (seen + 1) / (self.totals.get("", 0) + self.alphabet)
        lower = self.probability(context[1:], char)
        if not following:
            return lower
        types = len(following)
        return (following.get(char, 0) + types * lower) / (self.totals[context] + types)

    def _log_prob(self, text: str) -> float:
        """Natural-log probability of `text` as a whole string (its end included)."""
        padded = START * (self.order - 1) + text.translate(TYPOGRAPHY) + END
        n = self.order - 1
        return sum(math.log(self.probability(padded[i - n : i], padded[i])) for i in range(n, len(padded)))

    def save(self, path: Path) -> None:
        payload = json.dumps({"order": self.order, "counts": self.counts}, separators=(",", ":"), sort_keys=True)
        path.write_bytes(gzip.compress(payload.encode(), mtime=0))

    @classmethod
    def load(cls, path: Path) -> CharNgram:
        """Raises OSError or EOFError (bad or truncated gzip), ValueError (bad JSON) or KeyError/TypeError (wrong
        shape)."""
        payload = json.loads(gzip.decompress(path.read_bytes()))
        counts = payload["counts"]
        if not isinstance(counts, dict) or not all(isinstance(v, dict) for v in counts.values()):
            raise TypeError("counts must map each context to {character: count}")
        return cls(int(payload["order"]), counts)
