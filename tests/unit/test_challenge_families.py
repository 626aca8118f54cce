"""Document families: the mix a seed draws from, open vocabulary, the published faces."""

from __future__ import annotations

import collections

import pytest
from ocr_subnet.challenge import fonts, words
from ocr_subnet.challenge.families import DEFAULT_MIX, FAMILIES, check_families
from ocr_subnet.challenge.generate import STOCK, family_of, generate_challenge
from ocr_subnet.sections import FONT_FAMILIES
from reportlab.pdfbase.ttfonts import TTFont


def test_the_default_mix_holds_every_family_and_the_tutorial_invoice_stays_a_named_task() -> None:
    assert (
        DEFAULT_MIX
        == ("invoice", "letter", "receipt", "columns", "table", "form", "invoice-layout")
        == FAMILIES
        == tuple(STOCK)
    )
    assert generate_challenge(5, 1).family == "invoice"  # callers that name no mix get the tutorial's invoice


def test_each_family_is_drawn_about_equally_often_from_the_mix() -> None:
    counts = collections.Counter(family_of(seed, DEFAULT_MIX) for seed in range(200 * len(DEFAULT_MIX)))
    assert set(counts) == set(DEFAULT_MIX)
    assert all(150 <= n <= 250 for n in counts.values()), counts
    assert {family_of(seed, ["receipt"]) for seed in range(50)} == {"receipt"}


@pytest.mark.parametrize(
    ("names", "message"), [(["invoice", "poem"], "unknown document families \\['poem'\\]"), ([], "at least one")]
)
def test_an_unknown_or_empty_mix_is_a_clear_error(names: list[str], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        check_families(names)
    with pytest.raises(ValueError, match=message):
        generate_challenge(1, 1, names)


@pytest.mark.parametrize("family", DEFAULT_MIX)
def test_a_seed_fixes_the_page_of_every_family(family: str) -> None:
    first, again = generate_challenge(9, 2, (family,)), generate_challenge(9, 2, (family,))
    assert first.image == again.image and first.sections == again.sections
    assert first.family == family and first.stock == STOCK[family]
    assert generate_challenge(10, 2, (family,)).sections != first.sections


@pytest.mark.parametrize("family", [family for family in FAMILIES if family != "invoice"])
def test_open_families_read_mostly_open_vocabulary(family: str) -> None:
    """Fixed strings (register labels, closings) are a minority of the characters; the rest is drawn per page."""
    for seed in range(5):
        challenge = generate_challenge(seed, 1, (family,))
        total = sum(len(s.text) for s in challenge.sections)
        stock = sum(len(s.text) for s in challenge.sections if s.text in challenge.stock)
        assert stock / total < 0.3, (seed, stock, total)  # and the reward weighs these at 0.1 per character
        assert {s.font.family for s in challenge.sections} <= set(fonts.PUBLISHED_FAMILIES)


def test_the_vocabulary_is_an_open_english_word_list() -> None:
    vocabulary = words.vocabulary()
    assert len(vocabulary) >= 100_000
    assert all(word.isascii() for word in vocabulary)


def test_the_published_faces_are_the_faces_files_postscript_names() -> None:
    assert len(fonts.FACES) >= 40 and len(fonts.PUBLISHED_FAMILIES) == len(set(fonts.PUBLISHED_FAMILIES))
    assert fonts.PUBLISHED_FAMILIES[: len(FONT_FAMILIES)] == FONT_FAMILIES
    for name, path in fonts.FACES.items():
        assert TTFont(f"probe-{name}", str(fonts.FONT_DIR / path)).face.name.decode() == name


def test_a_missing_face_file_is_a_clear_error(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    monkeypatch.setattr(fonts, "FONT_DIR", tmp_path)
    fonts.register.cache_clear()
    try:
        with pytest.raises(fonts.FontsMissing, match="fonts-liberation"):
            fonts.register("LiberationSans")
    finally:
        fonts.register.cache_clear()
