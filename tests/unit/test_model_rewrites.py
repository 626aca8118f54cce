"""Rewrites of training strings into real documents' typography: labels keep matching their pixels."""

from __future__ import annotations

import string

import numpy as np
import pytest
from ocr_subnet.challenge.generate import page_layout
from ocr_subnet.model import charset, glyphs
from ocr_subnet.model.data import DataConfig, recognizer_examples, training_sample
from ocr_subnet.model.geometry import quad_bounds
from ocr_subnet.model.rewrites import MIN_SCALE, typeset
from ocr_subnet.model.synth import pick_fonts

EXTRA = set(charset.ALPHABET) - set(charset.ASCII)


def test_typeset_strings_keep_their_place_and_only_grow_into_the_alphabet() -> None:
    seen: set[str] = set()
    for seed in range(12):
        original = page_layout(seed, ("letter", "receipt", "columns", "table", "form")[seed % 5])
        fonts = pick_fonts(np.random.default_rng(seed), 0.4)
        rewritten = typeset(original, fonts, np.random.default_rng(seed))
        for before, after in zip(original.texts, rewritten.texts, strict=True):
            assert (after.x, after.baseline, after.font.family) == (before.x, before.baseline, before.font.family)
            assert after.advance <= before.advance + 1e-6
            assert after.font.size >= MIN_SCALE * before.font.size - 1e-9
            assert set(after.text) <= set(charset.ALPHABET), after.text
            seen |= set(after.text) & EXTRA
    # every kind of feature shows up: curly apostrophes and quotes, dashes, bullets, accented letters, signs
    assert "\u2019" in seen and seen & {"\u201c", "\u2018", "\u00ab"} and seen & {"\u2013", "\u2014"}
    assert seen & {"\u2022", "\u00b7", "\u00a7", "\u00b6"} and seen & set(charset.LATIN1_LETTERS)
    assert seen & {"\u00b0", "\u00a9", "\u00a3", "\u20ac", "\u00a5", "\u00a2", "\u00b1", "\u00d7", "\u00f7"}


def test_a_glyph_source_that_lacks_the_characters_gets_no_rewrite_that_needs_them() -> None:
    original = page_layout(4, "letter")
    families = {t.font.family for t in original.texts}
    rewritten = typeset(original, dict.fromkeys(families, "ZapfDingbats"), np.random.default_rng(4))
    assert all(set(t.text) <= set(string.printable) for t in rewritten.texts)


def test_drawable_reads_each_fonts_own_glyphs() -> None:
    assert glyphs.drawable("Times-Roman") == EXTRA  # pdfium's substitutes draw all of WinAnsi
    assert glyphs.drawable("Symbol") == {"\u00b0", "\u00b1"}  # its own encoding: only these two sit where WinAnsi's do
    assert glyphs.drawable("ZapfDingbats") == frozenset()
    for names in glyphs.sources().values():
        for name in names:  # every installed glyph source (Latin Modern, URW, TrueType) draws the whole alphabet
            assert glyphs.drawable(name) == EXTRA, name


@pytest.mark.parametrize("seed", [2, 5])
def test_typeset_pages_label_their_new_characters_and_keep_ink_inside_the_labels(seed: int) -> None:
    config = DataConfig(typeset_share=1.0, open_share=1.0)
    sample = training_sample(seed, config)
    assert any(set(t) & EXTRA for t in sample.texts)
    examples = recognizer_examples(sample, np.random.default_rng(0), config)
    assert any(max(ex.target) > len(charset.ASCII) for ex in examples)  # the new classes are trained
    for box in quad_bounds(sample.quads).astype(int):
        x0, y0, x1, y1 = box
        assert sample.image[max(y0, 0) : y1, max(x0, 0) : x1].min() < 180
