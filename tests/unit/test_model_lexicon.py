"""The vocabulary, its nearest words, its file, and loading the corrections a calibration asks for."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest
from ocr_subnet.model.geometry import Calibration
from ocr_subnet.model.language import CharNgram
from ocr_subnet.model.lexicon import Lexicon, recurring_lines, vocabulary
from ocr_subnet.model.pipeline import LANGUAGE_FILE, LEXICON_FILE, ModelLoadError, load_corrector

LATE_FEE = "Late payments incur a 1.5% monthly fee"
LEXICON = Lexicon(["Payment", "within", "Elizabethmouth", "Joshua", "Passage"], [LATE_FEE, "Web hosting"])


def test_the_vocabulary_holds_fakers_words_city_compounds_and_the_templates_words() -> None:
    words = set(vocabulary(["Thank you for your business!", "Call us at 5 p.m.", "INV-00042"]))
    assert {"Elizabethmouth", "Joshua", "Suite", "Passage", "business", "Thank", "us", "INV", "MN", "KS"} <= words
    assert not {"p", "m", "00042", "INV-00042"} & words  # single letters and numbers are never corrected


def test_nearest_words_stay_within_the_edit_budget() -> None:
    assert LEXICON.candidates("Paymsrt")[0] == "Payment"  # two edits on seven letters
    assert LEXICON.candidates("Eizabethmouh") == ["Elizabethmouth"]
    assert LEXICON.candidates("Jhsa") == []  # four letters: two edits at most (Joshua is three away)
    assert LEXICON.candidates("wthn") == ["within"]  # two edits on four letters
    assert LEXICON.candidates("Zzzzzzz") == []


def test_the_lexicon_file_round_trips(tmp_path: Path) -> None:
    LEXICON.save(tmp_path / LEXICON_FILE)
    loaded = Lexicon.load(tmp_path / LEXICON_FILE)
    assert loaded.words == LEXICON.words and loaded.lines == LEXICON.lines == [LATE_FEE, "Web hosting"]


def test_recurring_lines_are_the_templates_lines_of_several_words() -> None:
    texts = ["Web hosting", "Bill To:", "Subtotal:", "12 Adam Glen", "Web hosting", "Bill To:", "Subtotal:"]
    assert recurring_lines(texts, invoices=2) == ["Bill To:", "Web hosting"]  # one word, or drawn once: not lines
    assert recurring_lines(texts * 2, invoices=2500) == []  # 4 in 2,500 invoices: too rare for a template line


def test_runs_of_words_near_a_recurring_line_are_offered_it() -> None:
    runs = ["Lane payment Pena 1.5% monthly fee", LATE_FEE, "Web hostng", "Thank you for your business!"]
    assert LEXICON.near_lines(runs) == [(0, LATE_FEE), (2, "Web hosting")]  # an exact line needs nothing
    assert Lexicon(["word"]).near_lines(runs) == []


def test_a_calibration_that_corrects_words_needs_its_lexicon(tmp_path: Path) -> None:
    calibration = Calibration(lexicon_penalty=8.0)
    assert load_corrector(tmp_path, Calibration()) is None  # no correction, no file needed
    with pytest.raises(ModelLoadError, match=r"lexicon .* is unreadable"):
        load_corrector(tmp_path, calibration)
    (tmp_path / LEXICON_FILE).write_text("")
    with pytest.raises(ModelLoadError, match="is empty"):
        load_corrector(tmp_path, calibration)
    (tmp_path / LEXICON_FILE).write_bytes(b"\xff\xfe\x00")
    with pytest.raises(ModelLoadError, match="unreadable"):
        load_corrector(tmp_path, calibration)
    LEXICON.save(tmp_path / LEXICON_FILE)
    corrector = load_corrector(tmp_path, calibration)
    assert corrector.lexicon.words == LEXICON.words and corrector.language is None  # weight 0: no model needed


@pytest.mark.parametrize(
    ("content", "reason"),
    [(None, "No such file"), (b"not gzip", "Not a gzipped file"), (b"\x1f\x8b\x08\x00", "ended"), (b"{}", "counts")],
)
def test_a_calibration_that_weighs_the_language_model_needs_a_readable_one(
    tmp_path: Path, content: bytes | None, reason: str
) -> None:
    LEXICON.save(tmp_path / LEXICON_FILE)
    if content is not None:
        (tmp_path / LANGUAGE_FILE).write_bytes(content if content != b"{}" else gzip.compress(content))
    with pytest.raises(ModelLoadError, match=f"weighs a language model, but .*{LANGUAGE_FILE} is unreadable.*{reason}"):
        load_corrector(tmp_path, Calibration(language_weight=0.3))
    CharNgram.fit(["Apt. 12"], order=3).save(tmp_path / LANGUAGE_FILE)
    corrector = load_corrector(tmp_path, Calibration(language_weight=0.3))
    assert corrector.language.order == 3 and corrector.lexicon_penalty == 0.0
