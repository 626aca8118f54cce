"""From a crop's greedy reading to its corrected text: characters, words and punctuation.

Every step weighs the recognizer's CTC posterior of the crop against two open-vocabulary priors
fitted on general text (`prior`): the word list (`lexicon`) and the character language model
(`language`), whose log-probability of the whole string counts `language_weight` times.
A candidate's cost is its CTC cost less that.
1. Characters (with the language model): where the posterior hesitates between the character read
   and others ("4S days" / "45 days", "l.5%" / "1.5%"), or between a blank and a character, each
   token takes the variant the joint cost prefers.
2. Words: a word outside the vocabulary pays `lexicon_penalty` nats more; its cheapest near
   vocabulary word replaces it where that costs less.
3. Tokens: each word token may change its trailing punctuation ("Apt" -> "Apt.", "Subtotal" ->
   "Subtotal:") or come apart from a number glued to it ("SD83332" -> "SD 83332"), and a word
   still outside the vocabulary may become a near one.
4. Quotes: a pair of double quotes is set in one style (`paired_quotes`).
In steps 1 and 3 each token is judged with the others as they stand. Variants the posterior rules
out by more than `CTC_MARGIN` nats are never scored by the model.
"""

from __future__ import annotations

import itertools
import math
import re
from dataclasses import dataclass

import numpy as np
import torch
from torch.nn import functional as F

from ocr_subnet.model import charset
from ocr_subnet.model.language import CharNgram
from ocr_subnet.model.lexicon import LETTERS, MIN_LENGTH, WORD, Lexicon

TOKEN = re.compile(r"\S+")
WORD_TOKEN = re.compile(f"([^{LETTERS}]*)([{LETTERS}]+)([^{LETTERS}]*)")  # one word with what precedes and follows it
# what glues letters into a code ("INV-19677", "A4") or an identifier ("BZ_OK", "not_eq"): no dictionary word
CODE = re.compile(r"(\d-?|_)$|^(-?\d|_)")
DOUBLE_QUOTES = '"\u201c\u201d'  # straight, left and right
ENDINGS = ("", ".", ":", ",", ".:")  # the trailing punctuation invoices put after a token
WORD_OPTIONS = 6  # nearest vocabulary words tried for each word token
CTC_MARGIN = 16.0  # nats: variants this much less likely than the best reading are not rescored
DOUBT_FLOOR = 0.07  # posterior a rival character needs on some frame of a slot to be tried there
CHARACTER_VARIANTS = 32  # variants of one token at most: its most doubtful slots are varied first


CLASS_TEXT = [charset.decode_indices([index]) for index in range(charset.NUM_CLASSES)]  # "" for the blank


@dataclass(frozen=True)
class Slot:
    """One run of the greedy path: what greedy decoding keeps there (a character, or "" for blanks) first,
    then the rivals that reach `DOUBT_FLOOR` on some frame of the run, and the strongest rival's probability."""

    options: tuple[str, ...]
    doubt: float
    frames: tuple[int, int]  # the run's first frame and the frame after its last


def greedy_slots(log_probs: torch.Tensor, floor: float = DOUBT_FLOOR) -> list[Slot]:
    """A crop's (T, classes) posterior as the runs of its greedy path; joined, their first options are the greedy
    reading (outer spaces included)."""
    scores = log_probs.numpy()
    path = scores.argmax(-1)
    starts = np.flatnonzero(np.diff(path, prepend=-1))
    kept = path[starts]
    peaks = np.maximum.reduceat(scores, starts, axis=0)  # (runs, classes): each class's best frame in each run
    peaks[np.arange(len(starts)), kept] = -np.inf
    peaks[:, charset.BLANK] = -np.inf
    floor = math.log(floor)
    bounds = [*starts.tolist(), len(path)]
    slots = [
        Slot((CLASS_TEXT[index],), 0.0, frames)
        for index, frames in zip(kept.tolist(), itertools.pairwise(bounds), strict=True)
    ]
    for run in np.flatnonzero((peaks >= floor).any(axis=1)).tolist():
        rivals = np.flatnonzero(peaks[run] >= floor)
        ranked = rivals[np.argsort(-peaks[run, rivals])].tolist()
        options = (slots[run].options[0], *(CLASS_TEXT[i] for i in ranked))
        slots[run] = Slot(options, math.exp(peaks[run, ranked[0]]), slots[run].frames)
    return slots


def most_doubtful(slots: list[Slot], token: list[int]) -> list[int]:
    """The token's doubtful slots, most doubtful first, while every combination of their options stays within
    `CHARACTER_VARIANTS`."""
    varied: list[int] = []
    for i in sorted((i for i in token if len(slots[i].options) > 1), key=lambda i: -slots[i].doubt):
        if math.prod(len(slots[j].options) for j in [*varied, i]) <= CHARACTER_VARIANTS:
            varied.append(i)
    return varied


def paired_quotes(text: str) -> str:
    """`text` with each pair of double quotes (the first and second in the line, the third and fourth, ...) in the
    style of its opening quote. A print sets a pair in one style; the recognizer reads a straight closing quote,
    as typewriter faces draw it, as a curly one far more often than it mistakes an opening one (`"yes”` for
    `"yes"`: about one straight quote in seven on real manuals), and an opening quote shows which style it is: a
    straight one has no left-hand shape."""
    quotes = [i for i, char in enumerate(text) if char in DOUBLE_QUOTES]
    chars = list(text)
    for opening, closing in zip(quotes[::2], quotes[1::2], strict=False):
        if chars[opening] == '"' and chars[closing] == "\u201d":
            chars[closing] = '"'
        elif chars[opening] == "\u201c" and chars[closing] == '"':
            chars[closing] = "\u201d"
    return "".join(chars)


def is_code(before: str, after: str) -> bool:
    """Whether letters with `before` and `after` them (within their token) are part of a code: glued to a digit,
    or to one by a hyphen, or joined to more by an underscore as a program's names are. Codes are read, not
    spelled, so the vocabulary has no say over them (it made "BZ_OK" "BE_OK" and "not_eq" "not_ea")."""
    return bool(CODE.search(before) or CODE.search(after))


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
    if len(core_word) >= MIN_LENGTH and core_word not in lexicon and not is_code(prefix, suffix):
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
        weighs_language = self.language is not None and self.language_weight > 0
        if not weighs_language and self.lexicon_penalty <= 0:
            return text
        slots = greedy_slots(log_probs, DOUBT_FLOOR if weighs_language else 1.0)
        if weighs_language:
            text, chosen = self.correct_characters(text, slots, log_probs)
        else:
            chosen = [slot.options[0] for slot in slots]
        # The tokens' frames as the characters now split them (a doubtful slot read as a space splits a token): the
        # later steps cost each token on its own frames only while the text's tokens line up with these.
        windows = token_windows(slots, chosen, len(log_probs))
        if self.lexicon_penalty > 0:
            text = self.correct_words(text, log_probs, windows)
        if weighs_language:
            text = self.rescore_tokens(text, log_probs, windows)
        return paired_quotes(text)

    def prior(self, text: str) -> float:
        """What the language model takes off a text's cost, in nats."""
        if self.language is None or self.language_weight <= 0:
            return 0.0
        return self.language_weight * self.language.log_prob(text)

    def correct_characters(self, text: str, slots: list[Slot], log_probs: torch.Tensor) -> tuple[str, list[str]]:
        """Each token's doubtful slots (`greedy_slots` of `log_probs`) as the joint cost prefers: the corrected text
        and the option chosen for each slot. Without the language model the posterior alone would keep the greedy
        reading nearly always (measured), hence only with it. A `text` that is not the greedy reading has no slots
        to align and is returned as it is, with the greedy options."""
        chosen = [slot.options[0] for slot in slots]
        if "".join(chosen).strip() != text:
            return text, chosen
        tokens: list[list[int]] = [[]]
        for i, option in enumerate(chosen):
            if option == " ":
                tokens.append([])
            else:
                tokens[-1].append(i)
        for token in tokens:
            varied = most_doubtful(slots, token)
            if not varied:
                continue
            # the token is costed on its own frames, between the spaces around it (the same for all its variants),
            # and judged by the language model with the rest of the crop as it stands
            before, after = token[0] - 1, token[-1] + 1
            start = slots[before].frames[0] if before >= 0 else 0
            end = slots[after].frames[1] if after < len(slots) else len(log_probs)
            edges = (" " if before >= 0 else "", " " if after < len(slots) else "")
            combinations = itertools.product(*(slots[i].options for i in varied))
            changes = [dict(zip(varied, combination, strict=True)) for combination in combinations]
            spelled = ["".join(change.get(i, chosen[i]) for i in token) for change in changes]
            costs = ctc_costs(log_probs[start:end], [edges[0] + word + edges[1] for word in spelled]).tolist()
            likely = within_margin(costs)  # only these are spelled out in full for the language model
            head, tail = "".join(chosen[: token[0]]), "".join(chosen[after:])
            best = likely[
                self.cheapest([costs[k] for k in likely], [(head + spelled[k] + tail).strip() for k in likely])
            ]
            for i, option in changes[best].items():
                chosen[i] = option
        return "".join(chosen).strip(), chosen

    def correct_words(self, text: str, log_probs: torch.Tensor, windows: list[Window]) -> str:
        """Each out-of-vocabulary word (right to left: earlier spans stay valid) replaced by its best near
        vocabulary word, when that costs less than the word itself plus the out-of-vocabulary penalty."""
        for match in reversed(list(WORD.finditer(text))):
            word = match.group()
            token = token_around(text, match.start(), match.end())
            before, after = text[token[0] : match.start()], text[match.end() : token[1]]
            if len(word) < MIN_LENGTH or word in self.lexicon or is_code(before, after):
                continue
            options = self.lexicon.candidates(word)
            if not options:
                continue
            variants = [before + option + after for option in [word, *options]]
            texts = [text[: token[0]] + variant + text[token[1] :] for variant in variants]
            costs = self.token_costs(log_probs, windows, text, token, variants)
            costs[0] += self.lexicon_penalty
            text = texts[self.cheapest(costs, texts)]
        return text

    def rescore_tokens(self, text: str, log_probs: torch.Tensor, windows: list[Window]) -> str:
        """Each word token's punctuation (and, still out of vocabulary, its word) as the joint cost prefers,
        every token judged with the others as read."""
        chosen = []  # (token span, the option the joint cost prefers)
        for match in TOKEN.finditer(text):
            options = sorted(token_options(match.group(), self.lexicon))
            if len(options) > 1:
                texts = [text[: match.start()] + o + text[match.end() :] for o in options]
                costs = self.token_costs(log_probs, windows, text, match.span(), options)
                chosen.append((match.span(), options[self.cheapest(costs, texts)]))
        for (start, end), option in reversed(chosen):  # earlier spans stay valid
            text = text[:start] + option + text[end:]
        return text

    def token_costs(
        self, log_probs: torch.Tensor, windows: list[Window], text: str, token: tuple[int, int], variants: list[str]
    ) -> list[float]:
        """CTC costs of `text` with its `token` span replaced by each variant: on the token's own frames where the
        text's tokens line up with the greedy reading's (`windows`), else on the whole crop. Costs compare within
        one call only. The window is what keeps long lines of prose cheap: a crop's cost grows with its length
        times the candidates', and a line holds many tokens."""
        tokens = [match.span() for match in TOKEN.finditer(text)]
        if len(tokens) != len(windows) or token not in tokens:
            return ctc_costs(log_probs, [text[: token[0]] + v + text[token[1] :] for v in variants]).tolist()
        start, end, lead, trail = windows[tokens.index(token)]
        return ctc_costs(log_probs[start:end], [lead + v + trail for v in variants]).tolist()

    def cheapest(self, costs: list[float], texts: list[str], margin: float = CTC_MARGIN) -> int:
        """The index of the text with the lowest CTC cost less the prior, among those the posterior has not ruled
        out by more than `margin` nats (the language model is never asked about the rest)."""
        likely = within_margin(costs, margin)
        if len(likely) == 1:
            return likely[0]
        return min(likely, key=lambda i: (costs[i] - self.prior(texts[i]), texts[i]))


Window = tuple[int, int, str, str]  # a token's frames (first, after last) and the spaces costed on their edges


def token_windows(slots: list[Slot], chosen: list[str], frames: int) -> list[Window]:
    """Per token of the reading `chosen` spells on `slots` (a crop of `frames` columns), the frames between the
    spaces around it (as `correct_characters` costs a token), with the spaces those frames hold."""
    windows: list[Window] = []
    token: list[int] = []
    for i, option in enumerate([*chosen, " "]):
        if option != " ":
            token.append(i)
            continue
        if "".join(chosen[j] for j in token):
            before, after = token[0] - 1, token[-1] + 1
            start = slots[before].frames[0] if before >= 0 else 0
            end = slots[after].frames[1] if after < len(slots) else frames
            windows.append((start, end, " " if before >= 0 else "", " " if after < len(slots) else ""))
        token = []
    return windows


def token_around(text: str, start: int, end: int) -> tuple[int, int]:
    """The span of the whitespace-delimited token holding text[start:end]."""
    left = text.rfind(" ", 0, start) + 1
    right = text.find(" ", end)
    return left, len(text) if right < 0 else right


def within_margin(costs: list[float], margin: float = CTC_MARGIN) -> list[int]:
    """The indices of the costs within `margin` nats of the lowest."""
    floor = min(costs)
    return [i for i, cost in enumerate(costs) if cost - floor <= margin]


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
