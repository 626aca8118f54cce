"""Open vocabulary for the open families: English words from Debian's `wamerican`, and what is built
from them (titles, sentences, names), with numbers, dates and codes drawn per page.

`/usr/share/dict/words` (SCOWL size 50, about 104k entries; its licence permits use, copying and
redistribution: /usr/share/doc/wamerican/copyright) is far too large to memorise as a closed
lexicon, and its words are drawn uniformly, so no n-gram model of our text helps a miner either.
Only plain ASCII words are kept (letters and apostrophes), so every character is in every face.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
import string
from pathlib import Path

import numpy as np

WORDS_FILE = Path("/usr/share/dict/words")
_PLAIN = re.compile(r"[A-Za-z][A-Za-z']*")
_ACCENTED = re.compile(r"[A-Za-z'\u00c0-\u00ff]*[\u00c0-\u00ff][A-Za-z'\u00c0-\u00ff]*")
ENDINGS = (".", ".", ".", "?", "!", ";", ":")
DATE_FORMATS = ("%B %d, %Y", "%d %B %Y", "%Y-%m-%d", "%m/%d/%Y", "%d.%m.%Y", "%d %b %Y", "%b %d, %Y")
FIRST_DATE = dt.date(1940, 1, 1)


class VocabularyMissing(RuntimeError):
    """The word list is absent: Debian's `wamerican` is not installed."""


@functools.cache
def vocabulary() -> tuple[str, ...]:
    """Every plain word of the list, in its order (the order fixes what a seed draws)."""
    return tuple(line for line in _all_lines() if _PLAIN.fullmatch(line))


@functools.cache
def accented_vocabulary() -> tuple[str, ...]:
    """The list's words with Latin-1 letters (Bogotá, Dürer, Gruyère, ...), in its order: never drawn into a
    challenge, whose fonts may lack them; the miner's model trains on them and its prior knows them."""
    return tuple(w for w in _all_lines() if _ACCENTED.fullmatch(w))


@functools.cache
def _all_lines() -> tuple[str, ...]:
    try:
        return tuple(WORDS_FILE.read_text(encoding="utf-8").splitlines())
    except OSError as exc:
        raise VocabularyMissing(
            f"{WORDS_FILE}: {exc.strerror or exc}; install wamerican (scripts/setup.sh does)"
        ) from exc


def words(rng: np.random.Generator, count: int) -> list[str]:
    """`count` words drawn uniformly from the vocabulary."""
    vocab = vocabulary()
    return [vocab[i] for i in rng.integers(0, len(vocab), size=count)]


def pick(rng: np.random.Generator, options: tuple[str, ...]) -> str:
    return options[int(rng.integers(len(options)))]


def capitalized(word: str) -> str:
    return word[:1].upper() + word[1:]


def title_words(rng: np.random.Generator, low: int, high: int) -> str:
    """`low` to `high` capitalized words: a title, a heading, a name."""
    return " ".join(capitalized(w) for w in words(rng, int(rng.integers(low, high + 1))))


def token(rng: np.random.Generator) -> str:
    """Mostly a word; sometimes a number, an amount, a year or a code."""
    kind = rng.random()
    if kind < 0.9:
        return words(rng, 1)[0]
    if kind < 0.94:
        return str(int(rng.integers(1, 10_000)))
    if kind < 0.97:
        return f"${rng.uniform(1, 5000):,.2f}"
    return f"{int(rng.integers(1900, 2030))}"


def sentence(rng: np.random.Generator) -> str:
    """4 to 16 tokens, capitalized, a few commas, and an ending."""
    tokens = [token(rng) for _ in range(int(rng.integers(4, 17)))]
    for i in range(1, len(tokens) - 1):
        if rng.random() < 0.08:
            tokens[i] += ","
    tokens[0] = capitalized(tokens[0])
    return " ".join(tokens) + pick(rng, ENDINGS)


def paragraph(rng: np.random.Generator, low: int = 2, high: int = 6) -> str:
    return " ".join(sentence(rng) for _ in range(int(rng.integers(low, high + 1))))


def date(rng: np.random.Generator, fmt: str | None = None) -> str:
    """A day from 1940 to 2030, in `fmt` or a format drawn from `DATE_FORMATS`."""
    day = FIRST_DATE + dt.timedelta(days=int(rng.integers(0, 365 * 90)))
    return day.strftime(fmt or pick(rng, DATE_FORMATS))


def code(rng: np.random.Generator) -> str:
    """An identifier: letters and digits in one of a few shapes (AB-1234, X7Q93K, 2024/0315)."""
    letters = "".join(rng.choice(list(string.ascii_uppercase), size=int(rng.integers(1, 4))))
    digits = str(int(rng.integers(10, 1_000_000)))
    shape = int(rng.integers(4))
    if shape == 0:
        return f"{letters}-{digits}"
    if shape == 1:
        return "".join(rng.choice(list(string.ascii_uppercase + string.digits), size=int(rng.integers(5, 10))))
    if shape == 2:
        return f"{int(rng.integers(1990, 2031))}/{int(rng.integers(1, 10_000)):04d}"
    return f"{letters}{digits}"


def number(rng: np.random.Generator) -> str:
    """A quantity, an amount, a decimal or a percentage, as printed."""
    kind = int(rng.integers(4))
    if kind == 0:
        return f"{int(rng.lognormal(3, 2)):,}"
    if kind == 1:
        return f"{rng.lognormal(4, 2):,.2f}"
    if kind == 2:
        return f"{rng.normal(0, 50):.{int(rng.integers(1, 4))}f}"
    return f"{rng.uniform(0, 100):.1f}%"
