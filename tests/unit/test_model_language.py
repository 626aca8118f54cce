"""The invoice language model and token rescoring: what the model learns, that it round-trips, and that it only
tips readings the recognizer itself finds doubtful."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch
from ocr_subnet.model import charset
from ocr_subnet.model.correction import Corrector, token_options
from ocr_subnet.model.evaluate import EvalPage, calibrate_correction
from ocr_subnet.model.geometry import Calibration
from ocr_subnet.model.language import CharNgram
from ocr_subnet.model.lexicon import Lexicon
from ocr_subnet.model.pipeline import Reading
from ocr_subnet.sections import Font, Section

from tests.support.ctc import reading

KINDS = ("Glen", "Way")
STREETS = [
    f"{n} {name} {kind} Apt. {n + 7}" for n in range(10, 60) for name in ("Adam", "Wade") for kind in ("Glen", "Way")
]
LANGUAGE = CharNgram.fit([*STREETS, "Subtotal: $1,234.56", "Invoice No.: INV-00042"], order=4)
LEXICON = Lexicon(["Adam", "Wade", "Glen", "Way", "Apt", "Subtotal", "Invoice", "No", "INV"])


def test_the_model_prefers_the_shapes_it_was_fitted_on() -> None:
    assert LANGUAGE.log_prob("12 Adam Glen Apt. 19") > LANGUAGE.log_prob("12 Adam Glen Apt 19")
    assert LANGUAGE.log_prob("Subtotal: $1,234.56") > LANGUAGE.log_prob("Subtota1 $1.234,56")
    total = sum(math.exp(LANGUAGE.log_prob(c)) for c in ["", *map(chr, range(32, 127))])  # strings of length <= 1
    assert 0 < total < 1  # a distribution over strings: these few take part of the mass, never more than all of it


def test_unseen_characters_and_contexts_keep_a_finite_probability() -> None:
    assert math.isfinite(LANGUAGE.log_prob("zzq~~ \u00e9"))
    assert math.isfinite(CharNgram.fit([], order=3).log_prob("anything"))
    with pytest.raises(ValueError, match="order >= 1"):
        CharNgram.fit(["x"], order=0)


def test_the_model_file_round_trips(tmp_path: Path) -> None:
    LANGUAGE.save(tmp_path / "language.json.gz")
    loaded = CharNgram.load(tmp_path / "language.json.gz")
    assert loaded.order == LANGUAGE.order and loaded.counts == LANGUAGE.counts
    assert loaded.log_prob("10 Wade Way Apt. 17") == pytest.approx(LANGUAGE.log_prob("10 Wade Way Apt. 17"))
    (tmp_path / "bad.json.gz").write_bytes(b"\x1f\x8bnot really")
    with pytest.raises((OSError, ValueError)):
        CharNgram.load(tmp_path / "bad.json.gz")


def test_token_options_vary_punctuation_and_out_of_vocabulary_words_only() -> None:
    assert token_options("Apt", LEXICON) == {"Apt", "Apt.", "Apt:", "Apt,", "Apt.:"}  # a vocabulary word keeps itself
    assert {"Glen", "Glen.", "Gien", "Gien:"} <= token_options("Gien", LEXICON)
    assert token_options("(No.:", LEXICON) == {"(No", "(No.", "(No:", "(No,", "(No.:"}
    assert token_options("$12.50.", LEXICON) == {"$12.50."}  # numbers and codes stay as read
    assert token_options("2019-59070", LEXICON) == {"2019-59070"}


def test_the_language_model_restores_a_faint_period_and_a_doubtful_letter() -> None:
    # "Apt" then a frame that is almost blank but might be a period; "Gien": the i might be an l
    text = "12 Adam Gien Apt 19"
    frames = reading(text, doubt={9: {"l": 0.4, "i": 0.58}})
    faint = torch.cat([frames[:32], reading(".", doubt={0: {"": 0.7, ".": 0.28}})[:1], frames[32:]])
    assert charset.greedy_decode(faint[None].numpy(), [len(faint)]) == [text]
    corrector = Corrector(LEXICON, LANGUAGE, lexicon_penalty=0.0, language_weight=0.3)
    assert corrector(text, faint) == "12 Adam Glen Apt. 19"
    assert Corrector(LEXICON, LANGUAGE, 0.0, 0.0)(text, faint) == text  # weight 0: the reading stands


def test_a_clear_reading_stands_against_the_language_model() -> None:
    text = "12 Adam Glen Apt 19"  # no period anywhere near "Apt": the posterior rules "Apt." out
    corrector = Corrector(LEXICON, LANGUAGE, lexicon_penalty=0.0, language_weight=0.3)
    assert corrector(text, reading(text)) == text


def test_calibration_turns_on_the_corrections_that_lower_cer() -> None:
    truth = "12 Adam Glen Apt. 19"
    label = Section(text=truth, position=(10.0, 10.0, 210.0, 24.0), font=Font(family="Courier", size=10.0))
    page = EvalPage("level1", 0, np.full((792, 612), 255, np.uint8), (label,))
    frames = reading("12 Adam Gien Apt 19", doubt={9: {"l": 0.4, "i": 0.58}})
    faint = torch.cat([frames[:32], reading(".", doubt={0: {"": 0.7, ".": 0.28}})[:1], frames[32:]])
    rects = np.array([[110.0, 17.0, 200.0, 14.0, 0.0, 1.0]])
    raw = Reading(rects, ["12 Adam Gien Apt 19"], np.full((1, 6), 1 / 6, np.float32), (faint,))
    calibration, fit = calibrate_correction([(raw, page)], LEXICON, LANGUAGE, Calibration())
    assert calibration.language_weight > 0
    assert fit["cer_corrected"] == 0.0 < fit["cer_uncorrected"]
