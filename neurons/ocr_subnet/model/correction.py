"""From a crop's greedy reading to its corrected text: vocabulary words, then the invoice language model.

Two priors, each weighed against the recognizer's CTC posterior of the crop:
1. `Lexicon.correct`: a word outside the closed vocabulary pays `lexicon_penalty` nats.
2. Token rescoring: each whitespace token may become a near vocabulary word or change its trailing
   punctuation ("Apt" -> "Apt.", "Subtotal" -> "Subtotal:"); the string with the lowest
   CTC cost - `language_weight` x log P_lm(string) wins. Tokens are visited right to left, each
   with the others as already chosen. Variants the posterior rules out by more than
   `CTC_MARGIN` nats are never scored by the language model, so clear readings cost little.
"""

from __future__ import annotations

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
    """`token` and its variants: near vocabulary words (for a word token) with each trailing punctuation."""
    word = WORD_TOKEN.fullmatch(token)
    if word is None:
        core, prefix, words = token.rstrip(".:,!"), "", [""]
    else:
        prefix, core_word, suffix = word.groups()
        words = [core_word]
        if len(core_word) >= MIN_LENGTH:
            words += lexicon.candidates(core_word)[:WORD_OPTIONS]
        core = suffix.rstrip(".:,!")
    options = {prefix + w + core + ending for w in words for ending in ENDINGS} if word else {core + e for e in ENDINGS}
    return {token} | {option for option in options if option}


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
        for match in reversed(list(TOKEN.finditer(text))):
            options = sorted(token_options(match.group(), self.lexicon))
            if len(options) == 1:
                continue
            variants = [text[: match.start()] + option + text[match.end() :] for option in options]
            costs = ctc_costs(log_probs, variants).tolist()
            likely = [(c, v) for c, v in zip(costs, variants, strict=True) if c - min(costs) <= CTC_MARGIN]
            if len(likely) > 1:
                text = min(likely, key=self.joint_cost)[1]
        return text

    def joint_cost(self, candidate: tuple[float, str]) -> float:
        """CTC cost of a (cost, text) candidate less the weighted language-model log-probability of its text."""
        cost, text = candidate
        return cost - self.language_weight * self.language.log_prob(text)
