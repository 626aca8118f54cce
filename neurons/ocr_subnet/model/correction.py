"""From a crop's greedy reading to its corrected text: vocabulary words, then the invoice language model.

Both steps weigh the recognizer's CTC posterior of the crop against two priors: the closed
vocabulary (`lexicon`) and the invoice language model (`language`), whose log-probability of the
whole string counts `language_weight` times. A candidate's cost is its CTC cost less that.
1. Words: a word outside the vocabulary pays `lexicon_penalty` nats more; its cheapest near
   vocabulary word replaces it where that costs less.
2. Tokens: each word token may change its trailing punctuation ("Apt" -> "Apt.", "Subtotal" ->
   "Subtotal:") or come apart from a number glued to it ("SD83332" -> "SD 83332"), and a word
   still outside the vocabulary may become a near one. Per token the cheapest variant wins, each
   token judged with the others as read (one CTC call per crop). Variants the posterior rules out
   by more than `CTC_MARGIN` nats are never scored by the model.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import torch
from torch.nn import functional as F

from ocr_subnet.model import charset
from ocr_subnet.model.language import CharNgram
from ocr_subnet.model.lexicon import MIN_LENGTH, WORD, Lexicon

TOKEN = re.compile(r"\S+")
WORD_TOKEN = re.compile(r"([^A-Za-z]*)([A-Za-z]+)([^A-Za-z]*)")  # one word with what precedes and follows it
ENDINGS = ("", ".", ":", ",", ".:")  # the trailing punctuation invoices put after a token
WORD_OPTIONS = 6  # nearest vocabulary words tried for each word token
CTC_MARGIN = 16.0  # nats: variants this much less likely than the best reading are not rescored


def token_options(token: str, lexicon: Lexicon) -> set[str]:
    """A word token and its variants: each trailing punctuation on it, split from a number it is glued to (a
    state code and its ZIP: "SD83332"), and for a word outside the vocabulary its nearest vocabulary words too.
    Other tokens (numbers, codes) and the neighbours of vocabulary words are left as read: trying them cost 3x
    the time and gained nothing measurable on validation pages."""
    word = WORD_TOKEN.fullmatch(token)
    if word is None:
        return {token}
    prefix, core_word, suffix = word.groups()
    words = [core_word]
    if len(core_word) >= MIN_LENGTH and core_word not in lexicon.words:
        words += lexicon.candidates(core_word)[:WORD_OPTIONS]
    core = suffix.rstrip(".:,!")
    before = [prefix, prefix + " "] if prefix[-1:].isdigit() else [prefix]
    after = [core, " " + core] if core[:1].isdigit() else [core]
    return {token} | {p + w + a + ending for p in before for w in words for a in after for ending in ENDINGS}


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
            text = self.correct_words(text, log_probs)
        if self.language is not None and self.language_weight > 0:
            text = self.rescore_tokens(text, log_probs)
        return text

    def prior(self, text: str) -> float:
        """What the language model takes off a text's cost, in nats."""
        if self.language is None or self.language_weight <= 0:
            return 0.0
        return self.language_weight * self.language.log_prob(text)

    def correct_words(self, text: str, log_probs: torch.Tensor) -> str:
        """Each out-of-vocabulary word (right to left: earlier spans stay valid) replaced by its best near
        vocabulary word, when that costs less than the word itself plus the out-of-vocabulary penalty."""
        for match in reversed(list(WORD.finditer(text))):
            word = match.group()
            if len(word) < MIN_LENGTH or word in self.lexicon.words:
                continue
            options = self.lexicon.candidates(word)
            if not options:
                continue
            texts = [text, *(text[: match.start()] + option + text[match.end() :] for option in options)]
            costs = ctc_costs(log_probs, texts).tolist()
            costs[0] += self.lexicon_penalty
            text = texts[self.cheapest(costs, texts)]
        return text

    def rescore_tokens(self, text: str, log_probs: torch.Tensor) -> str:
        """Each word token's punctuation (and, still out of vocabulary, its word) as the joint cost prefers,
        every token judged with the others as read."""
        spans = []  # (token, its options, the text with each option)
        for match in TOKEN.finditer(text):
            options = sorted(token_options(match.group(), self.lexicon))
            if len(options) > 1:
                spans.append((match, options, [text[: match.start()] + o + text[match.end() :] for o in options]))
        if not spans:
            return text
        costs = ctc_costs(log_probs, [variant for *_, texts in spans for variant in texts]).tolist()  # one call
        chosen, start = [], 0
        for match, options, texts in spans:
            chosen.append((match, options[self.cheapest(costs[start : start + len(texts)], texts)]))
            start += len(texts)
        for match, option in reversed(chosen):  # right to left: earlier spans stay valid
            text = text[: match.start()] + option + text[match.end() :]
        return text

    def cheapest(self, costs: list[float], texts: list[str]) -> int:
        """The index of the text with the lowest CTC cost less the prior, among those the posterior has not ruled
        out by more than `CTC_MARGIN` nats (the language model is never asked about the rest)."""
        floor = min(costs)
        likely = [i for i, cost in enumerate(costs) if cost - floor <= CTC_MARGIN]
        if len(likely) == 1:
            return likely[0]
        return min(likely, key=lambda i: (costs[i] - self.prior(texts[i]), texts[i]))


def ctc_costs(log_probs: torch.Tensor, texts: list[str]) -> torch.Tensor:
    """Negative CTC log-likelihood of each text under one crop's (T, classes) log-probabilities
    (infinite where the text cannot fit T columns)."""
    targets = [charset.encode(text) for text in texts]
    steps = log_probs.shape[0]
    return F.ctc_loss(
        log_probs[:, None].expand(steps, len(texts), -1),
        torch.tensor([i for target in targets for i in target], dtype=torch.long),
        torch.full((len(texts),), steps, dtype=torch.long),
        torch.tensor([len(target) for target in targets], dtype=torch.long),
        blank=charset.BLANK,
        reduction="none",
    )
