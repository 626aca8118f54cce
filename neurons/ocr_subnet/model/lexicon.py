"""The open vocabulary, and the nearest of its words to a misread reading.

The vocabulary (`prior.prior_words`) is general English (Debian's `wamerican`) plus the names,
streets and cities Faker draws (a city is often a name plus a suffix, "Elizabethmouth"). A
recognized word outside it is likely misread; `correction` replaces it with one of the nearest
vocabulary words when the recognizer's CTC posterior allows. Tesseract uses word lists the same way.
Case is folded: "Invoice", "INVOICE" and "invoice" are one word, and a correction takes the case of the
word it replaces. Numbers and single letters are never corrected.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path

from rapidfuzz import process
from rapidfuzz.distance import Levenshtein

LETTERS = "A-Za-z\u00c0-\u00d6\u00d8-\u00f6\u00f8-\u00ff"  # a regex class: ASCII's and Latin-1's letters
WORD = re.compile(f"[{LETTERS}]+")
MIN_LENGTH = 2  # single letters are too ambiguous to correct; two-letter state codes are worth it
CANDIDATES = 24  # nearest vocabulary words scored per misread word
NEAREST_CACHE = 4096  # misread words whose candidates are kept
LENGTH_CHANGE = 2  # letters a correction may add or drop (wider windows cost time and found nothing more)


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


def with_case(word: str, like: str) -> str:
    """`word` (as the vocabulary spells it) in the case of `like`: capitals (most of its letters are: a misread
    capital may come out small, "INVOlCE"), a capital first, or as spelled."""
    if len(like) > 1 and 2 * sum(c.isupper() for c in like) > len(like):
        return word.upper()
    if like[:1].isupper():
        return word[:1].upper() + word[1:]
    return word


class Lexicon:
    """A word set, case folded, with the candidates for each length of misread word precomputed (lookups are per
    crop)."""

    def __init__(self, words: Iterable[str]) -> None:
        self.words = frozenset(words)
        spellings: dict[str, str] = {}
        for word in sorted(self.words, key=lambda w: (w.lower(), w.swapcase())):  # lower case first: "bill" over "Bill"
            spellings.setdefault(word.lower(), word)
        self.spellings = spellings
        by_length: dict[int, list[str]] = {}
        for folded in sorted(spellings):
            by_length.setdefault(len(folded), []).append(folded)
        # per length of a misread word, the words a correction may reach (lengths within LENGTH_CHANGE of it)
        longest = max(by_length, default=0)
        self.reachable = {
            n: [w for m in range(n - LENGTH_CHANGE, n + LENGTH_CHANGE + 1) for w in by_length.get(m, ())]
            for n in range(MIN_LENGTH, longest + LENGTH_CHANGE + 1)
        }
        self.nearest = lru_cache(maxsize=NEAREST_CACHE)(self._nearest)

    def __contains__(self, word: str) -> bool:
        return word.lower() in self.spellings

    @classmethod
    def load(cls, path: Path) -> Lexicon:
        """One word per line."""
        return cls(entry for entry in path.read_text().splitlines() if entry)

    def save(self, path: Path) -> None:
        path.write_text("".join(word + "\n" for word in sorted(self.words)))

    def candidates(self, word: str) -> list[str]:
        """The vocabulary words nearest `word` (case folded), within `max_distance` edits, closest first, in
        `word`'s case (cached: both corrections ask for the same misread words)."""
        return [with_case(self.spellings[match], word) for match in self.nearest(word.lower())]

    def _nearest(self, word: str) -> tuple[str, ...]:
        pool = self.reachable.get(len(word), ())
        limit = max_distance(len(word))
        found = process.extract(word, pool, scorer=Levenshtein.distance, score_cutoff=limit, limit=CANDIDATES)
        return tuple(match for match, _, _ in found)
