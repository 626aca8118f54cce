"""From a crop's greedy reading to its corrected text: vocabulary words, then the invoice language model.

Two priors, each weighed against the recognizer's CTC posterior of the crop:
1. `Lexicon.correct`: a word outside the closed vocabulary pays `lexicon_penalty` nats.
2. Token rescoring: each word token may change its trailing punctuation ("Apt" -> "Apt.",
   "Subtotal" -> "Subtotal:") and a word still outside the vocabulary may become a near one; per
   token, the string with the lowest CTC cost - `language_weight` x log P_lm(string) wins, each
   token judged with the others as read (one CTC call per crop). Variants the posterior rules out
   by more than `CTC_MARGIN` nats are never scored by the language model.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass

import torch

from ocr_subnet.model.language import CharNgram
from ocr_subnet.model.lexicon import MIN_LENGTH, Lexicon, ctc_costs

TOKEN = re.compile(r"\S+")
WORD_TOKEN = re.compile(r"([^A-Za-z]*)([A-Za-z]+)([^A-Za-z]*)")  # one word with what precedes and follows it
ENDINGS = ("", ".", ":", ",", ".:")  # the trailing punctuation invoices put after a token
WORD_OPTIONS = 6  # nearest vocabulary words tried for each word token
CTC_MARGIN = 16.0  # nats: variants this much less likely than the best reading are not rescored


def token_options(token: str, lexicon: Lexicon) -> set[str]:
    """A word token and its variants: each trailing punctuation on it, and for a word outside the vocabulary on
    its nearest vocabulary words too. Other tokens (numbers, codes) and the neighbours of vocabulary words are
    left as read: trying them cost 3x the time and gained nothing measurable on validation pages."""
    word = WORD_TOKEN.fullmatch(token)
    if word is None:
        return {token}
    prefix, core_word, suffix = word.groups()
    words = [core_word]
    if len(core_word) >= MIN_LENGTH and core_word not in lexicon.words:
        words += lexicon.candidates(core_word)[:WORD_OPTIONS]
    core = suffix.rstrip(".:,!")
    return {token} | {prefix + w + core + ending for w in words for ending in ENDINGS}


@dataclass(frozen=True)
class Corrector:
    """The calibrated corrections, applied per crop (`OcrPipeline` calls it on every greedy reading)."""

    lexicon: Lexicon
    language: CharNgram | None
    lexicon_penalty: float
    language_weight: float

    def __call__(self, text: str, log_probs: torch.Tensor) -> str:
        """The corrected reading of a crop read greedily as `text` under its (T, classes) log-probabilities."""
        if self.lexicon_penalty > 0:
            text = self.lexicon.correct(text, log_probs, self.lexicon_penalty)
        if self.language is None or self.language_weight <= 0:
            return text
        tokens = list(TOKEN.finditer(text))
        variants: list[tuple[int, str, str]] = []  # (token index, its option, the text with that option)
        for index, match in enumerate(tokens):
            options = token_options(match.group(), self.lexicon)
            if len(options) > 1:
                variants += [(index, o, text[: match.start()] + o + text[match.end() :]) for o in sorted(options)]
        if not variants:
            return text
        costs = ctc_costs(log_probs, [variant for *_, variant in variants]).tolist()  # one CTC call per crop
        chosen: dict[int, str] = {}
        for index, group in itertools.groupby(zip(costs, variants, strict=True), key=lambda c: c[1][0]):
            scored = [(cost, variant, option) for cost, (_, option, variant) in group]
            floor = min(cost for cost, *_ in scored)
            likely = [s for s in scored if s[0] - floor <= CTC_MARGIN]
            if len(likely) > 1:
                chosen[index] = min(likely, key=self.joint_cost)[2]
        for index in sorted(chosen, reverse=True):  # right to left: earlier spans stay valid
            text = text[: tokens[index].start()] + chosen[index] + text[tokens[index].end() :]
        return text

    def joint_cost(self, candidate: tuple[float, str, str]) -> float:
        """CTC cost of a (cost, text, option) candidate less the weighted language-model log-probability of its
        text."""
        cost, text, _ = candidate
        return cost - self.language_weight * self.language.log_prob(text)
