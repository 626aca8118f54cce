"""The invoices' closed vocabulary, their recurring lines, and the nearest of either to a misread reading.

Invoices draw their words from a closed vocabulary: Faker's en_US names, streets and cities (a
city is often a name plus a suffix, "Elizabethmouth") and the templates' labels and items. A
recognized word outside it is likely misread; `correction` replaces it with one of the nearest
vocabulary words when the recognizer's CTC posterior allows. Tesseract uses word lists the same way.
Numbers and single letters are never corrected. The templates also repeat whole lines (items,
terms, notes: "Late payments incur a 1.5% monthly fee"); small print garbles them beyond any
one word's reach, so a run of words near such a line is offered the line itself.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from functools import lru_cache
from pathlib import Path

import numpy as np
from rapidfuzz import process
from rapidfuzz.distance import Levenshtein

WORD = re.compile(r"[A-Za-z]+")
MIN_LENGTH = 2  # single letters are too ambiguous to correct; two-letter state codes are worth it
CANDIDATES = 24  # nearest vocabulary words scored per misread word
NEAREST_CACHE = 4096  # misread words whose candidates are kept
LENGTH_CHANGE = 2  # letters a correction may add or drop (wider windows cost time and found nothing more)
RECURRING_SHARE = 1 / 500  # a line of several words drawn at least this often per invoice is a template's line
LINE_DISTANCE = 0.45  # a run of words this near a recurring line (edits per character) is offered the line


def max_distance(length: int) -> int:
    """How many edits a correction of a `length`-letter word may make: up to half its letters (the CTC
    posterior, not the distance, decides; small print at ~1 px per point loses that much)."""
    return max(1, (length + 1) // 2)


def faker_words() -> set[str]:
    """Every word Faker's en_US person, address and company providers can put on an invoice."""
    from faker.providers.address.en_US import Provider as Address  # only exports need Faker
    from faker.providers.company.en_US import Provider as Company
    from faker.providers.person.en_US import Provider as Person

    names = {*Person.first_names, *Person.first_names_female, *Person.first_names_male, *Person.last_names}
    cities = {name + suffix for name in names for suffix in Address.city_suffixes}
    phrases = (*names, *cities, *Address.city_prefixes, *Address.street_suffixes, *Address.secondary_address_formats)
    phrases += (*Address.states_abbr, *Company.company_suffixes)
    return {word for phrase in phrases for word in WORD.findall(phrase)}


def vocabulary(texts: Iterable[str]) -> list[str]:
    """The words worth correcting toward: Faker's, and those of `texts` (the templates' strings)."""
    words = faker_words() | {word for text in texts for word in WORD.findall(text)}
    return sorted(word for word in words if len(word) >= MIN_LENGTH)


def recurring_lines(texts: Iterable[str], invoices: int) -> list[str]:
    """The strings of several words that `invoices` invoices' `texts` repeat at least `RECURRING_SHARE` times each
    (addresses, names and amounts never recur; items, labels and terms do)."""
    least = max(2, math.ceil(invoices * RECURRING_SHARE))
    return sorted(text for text, count in Counter(texts).items() if " " in text.strip() and count >= least)


class Lexicon:
    """A word set, with the candidates for each length of misread word precomputed (lookups are per crop), and the
    recurring lines."""

    def __init__(self, words: Iterable[str], lines: Iterable[str] = ()) -> None:
        self.words = frozenset(words)
        self.lines = sorted(set(lines))
        by_length: dict[int, list[str]] = {}
        for word in sorted(self.words):
            by_length.setdefault(len(word), []).append(word)
        # per length of a misread word, the words a correction may reach (lengths within LENGTH_CHANGE of it)
        longest = max(by_length, default=0)
        self.reachable = {
            n: [w for m in range(n - LENGTH_CHANGE, n + LENGTH_CHANGE + 1) for w in by_length.get(m, ())]
            for n in range(MIN_LENGTH, longest + LENGTH_CHANGE + 1)
        }
        self.nearest = lru_cache(maxsize=NEAREST_CACHE)(self._nearest)

    @classmethod
    def load(cls, path: Path) -> Lexicon:
        """One entry per line: a word, or (with a space in it) a recurring line."""
        entries = [entry for entry in path.read_text().splitlines() if entry]
        return cls((e for e in entries if " " not in e), (e for e in entries if " " in e))

    def save(self, path: Path) -> None:
        path.write_text("".join(entry + "\n" for entry in [*sorted(self.words), *self.lines]))

    def candidates(self, word: str) -> list[str]:
        """The vocabulary words nearest `word`, within `max_distance` edits, closest first (cached: both
        corrections ask for the same misread words)."""
        return list(self.nearest(word))

    def _nearest(self, word: str) -> tuple[str, ...]:
        pool = self.reachable.get(len(word), ())
        limit = max_distance(len(word))
        found = process.extract(word, pool, scorer=Levenshtein.distance, score_cutoff=limit, limit=CANDIDATES)
        return tuple(match for match, _, _ in found)

    def near_lines(self, runs: Sequence[str]) -> list[tuple[int, str]]:
        """(index of a run, a recurring line within `LINE_DISTANCE` of it) for every such pair but exact ones."""
        if not runs or not self.lines:
            return []
        distances = process.cdist(runs, self.lines, scorer=Levenshtein.normalized_distance, dtype=np.float32)
        return [
            (run, self.lines[line])
            for run, line in np.argwhere(distances <= LINE_DISTANCE).tolist()
            if runs[run] != self.lines[line]
        ]
