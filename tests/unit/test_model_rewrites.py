"""Rewrites of training strings into real documents' typography: labels keep matching their pixels."""

from __future__ import annotations

import re
import string
from collections.abc import Callable, Iterator

import numpy as np
import pytest
from ocr_subnet.challenge.families import OPEN_FAMILIES
from ocr_subnet.challenge.fonts import MONOSPACE
from ocr_subnet.challenge.generate import page_layout
from ocr_subnet.challenge.invoice import PAGE_HEIGHT, PAGE_WIDTH, Layout, Text, text
from ocr_subnet.challenge.render import draw_pdf, rasterize
from ocr_subnet.model import charset, glyphs
from ocr_subnet.model.data import DataConfig, recognizer_examples, training_sample
from ocr_subnet.model.geometry import quad_bounds
from ocr_subnet.model.prior import manual_lines
from ocr_subnet.model.rewrites import (
    BULLET,
    HEADLINE_PT,
    LEADER_GAP_EM,
    LEADER_MARGIN,
    LEADER_MAX_EM,
    LEADER_MIN_EM,
    MIN_GAP_EM,
    MIN_SCALE,
    bracketed,
    command_lines,
    commanded,
    curled,
    dashed,
    headline,
    leaders,
    led,
    prose,
    respace,
    snippet,
    source_code,
    symbolic,
    typeset,
)
from ocr_subnet.model.synth import pick_fonts
from ocr_subnet.sections import Font
from reportlab.pdfbase.pdfmetrics import stringWidth

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
    config = DataConfig(typeset_share=1.0, respace_share=1.0, open_share=1.0)
    sample = training_sample(seed, config)
    assert any(set(t) & EXTRA for t in sample.texts)
    examples = recognizer_examples(sample, np.random.default_rng(0), config)
    assert any(max(ex.target) > len(charset.ASCII) for ex in examples)  # the new classes are trained
    for box in quad_bounds(sample.quads).astype(int):
        x0, y0, x1, y1 = box
        assert sample.image[max(y0, 0) : y1, max(x0, 0) : x1].min() < 180


def test_dashed_draws_hyphens_where_prints_put_them_as_often_as_dashes() -> None:
    rng = np.random.default_rng(0)
    rewritten = [dashed("structures management and more", rng) for _ in range(400)]
    options = [v for v in rewritten if re.match(r"--?\w+ structures", v)]
    broken = [v for v in rewritten if v.endswith("-") and not v.endswith(" -")]
    ranges = {sign for v in rewritten for sign in re.findall(r"\d([-\u2013])\d", v)}
    dashes = [v for v in rewritten if "\u2013" in v or "\u2014" in v]
    hyphens = [v for v in rewritten if "-" in v]
    assert options and broken and ranges == {"-", "\u2013"}
    assert all(v.split(" ")[:-1] == ["structures", "management", "and"] for v in broken)  # only the last word breaks
    assert 0.5 < len(hyphens) / len(dashes) < 4


def test_respaced_strings_keep_their_place_and_advance_and_never_close_a_gap() -> None:
    spacings = []
    for seed in range(8):
        original = page_layout(seed, ("letter", "columns")[seed % 2])
        fonts = pick_fonts(np.random.default_rng(seed), 0.4)
        rewritten = respace(original, fonts, np.random.default_rng(seed))
        for before, after in zip(original.texts, rewritten.texts, strict=True):
            assert (after.text, after.x, after.baseline) == (before.text, before.x, before.baseline)
            assert after.advance <= before.advance + 1e-6
            assert after.font.size >= MIN_SCALE * before.font.size - 1e-9
            if after.word_space:
                drawn = fonts.get(after.font.family, after.font.family)
                gap = stringWidth(" ", drawn, after.font.size) + after.word_space
                assert gap >= MIN_GAP_EM * after.font.size - 1e-6
                spacings.append(after.word_space / after.font.size)
    assert min(spacings) < -0.05 and max(spacings) > 0.2  # both tight and loose lines


@pytest.mark.parametrize("word_space", [-2.0, 4.0])
def test_drawn_word_spacing_moves_the_ink_as_the_advance_says(word_space: float) -> None:
    def ink_width(spacing: float) -> int:
        item = text("a fact worth it", Font(family="Helvetica", size=12.0), 20.0, 700.0, spacing)
        page = rasterize(draw_pdf([Layout("test", (item,))]), 2.0)[0]
        columns = np.flatnonzero(page.min(axis=0) < 128)
        return int(columns[-1] - columns[0])

    spaced = text("a fact worth it", Font(family="Helvetica", size=12.0), word_space=word_space)
    assert spaced.advance == pytest.approx(stringWidth("a fact worth it", "Helvetica", 12.0) + 3 * word_space)
    assert ink_width(word_space) - ink_width(0.0) == pytest.approx(3 * word_space * 2.0, abs=1.5)


def test_bracketed_draws_asides_plurals_calls_slashes_paths_and_addresses() -> None:
    rng = np.random.default_rng(1)
    value = "Distinguished Encoding Rules apply"
    rewritten = [bracketed(value, rng) for _ in range(400)]
    asides = [v for v in rewritten if re.search(r"[(\[][A-Z][^)\]]*[)\]]", v)]
    assert asides and any(re.search(r"\)[,.;:]", v) for v in asides)  # "(DER)," as manuals print it
    assert any("(s)" in v for v in rewritten) and any(re.search(r"[a-z_]+\([a-z0-9]*\)", v) for v in rewritten)
    slashed = [v for v in rewritten if "/" in v]
    assert any(re.search(r"[A-Za-z]/[A-Za-z]", v) for v in slashed) and any("://" in v for v in slashed)
    assert sum("(" in v or "[" in v for v in rewritten) > sum("/" in v for v in rewritten) > 0
    for v in rewritten:  # the words are kept, in order, around what was added
        kept = [w for w in value.split(" ") if w in v]
        assert len(kept) >= 3 and v.index(kept[0]) <= v.index(kept[-1]), v
        assert set(v) <= set(charset.ASCII)


def test_symbolic_prints_addresses_keys_number_signs_pluses_ampersands_and_figures_beside_the_words() -> None:
    rng = np.random.default_rng(2)
    value = "Distinguished Encoding Rules apply"
    rewritten = [symbolic(value, rng) for _ in range(600)]
    assert any(re.search(r"<[a-z0-9._-]+@[a-z.]+\.(org|com|net|edu)>", v) for v in rewritten)
    assert any(re.search(r"\b(Ctrl|Shift|Alt|Meta|Control|Cmd)\+\w", v) for v in rewritten)  # "Shift+Lock"
    assert any(re.search(r"#\d+\b", v) for v in rewritten) and any("C++" in v for v in rewritten)
    assert any(re.search(r"\w & \w", v) for v in rewritten) and any(re.search(r"\bX\d+", v) for v in rewritten)
    for v in rewritten:  # the other words are kept, in order
        kept = [w for w in value.split(" ") if w in v.split(" ")]
        assert len(kept) >= 3 and v.index(kept[0]) <= v.index(kept[-1]), v
        assert set(v) <= set(charset.ASCII) and "  " not in v


def test_commanded_prints_long_and_short_options_values_compiler_flags_and_the_end_of_options() -> None:
    rng = np.random.default_rng(2)
    value = "structures management and more"
    rewritten = [commanded(value, rng) for _ in range(300)]
    tokens = {t for v in rewritten for t in v.split(" ") if t.startswith("-") or "=" in t}
    assert "--" in tokens and any(re.fullmatch(r"-[A-Za-z0-9]", t) for t in tokens)
    assert any(re.fullmatch(r"--[a-z0-9]+(-[a-z0-9]+)*", t) for t in tokens)
    assert any(re.fullmatch(r"(--)?[a-z0-9-]+=[a-z0-9]+", t) for t in tokens)
    assert any(re.fullmatch(r"-[WOfDIlm](no-)?[a-z0-9-]+", t) for t in tokens)
    lists = [v for v in rewritten if "structures" not in v]  # "-L --license -V --version": options alone
    assert lists and all(t.startswith("-") or "=" in t for v in lists for t in v.split(" "))
    for v in rewritten:
        assert set(v) <= set(string.ascii_letters + string.digits + "-= "), v
        if "structures" in v:  # the words are kept, in order, with options among them
            assert [w for w in v.split(" ") if w in value.split(" ")] == value.split(" "), v


def rewritten_in_place(rewrite: Callable[[Layout, np.random.Generator], Layout]) -> Iterator[tuple[Text, Text]]:
    """Each string of ten open-family pages before and after `rewrite`, checked to keep its place, to take no more
    than its advance and to shrink no more than `MIN_SCALE`."""
    for seed in range(10):
        original = page_layout(seed, ("letter", "columns", "table", "form", "receipt")[seed % 5])
        rewritten = rewrite(original, np.random.default_rng(seed))
        for before, after in zip(original.texts, rewritten.texts, strict=True):
            assert (after.x, after.baseline) == (before.x, before.baseline)
            assert after.advance <= before.advance + 1e-6
            assert after.font.size >= MIN_SCALE * before.font.size - 1e-9
            yield before, after


def test_command_lines_set_most_commands_in_typewriter_type_within_their_place() -> None:
    proportional, mono = 0, 0
    for before, after in rewritten_in_place(command_lines):
        if after.text == before.text:
            assert after.font == before.font
            continue
        assert re.search(r"(^| )(--?[A-Za-z0-9]|--( |$)|[a-z0-9-]+=)", after.text), after.text
        if before.font.family in MONOSPACE:
            assert after.font.family == before.font.family
            continue
        proportional += 1
        if after.font.family != before.font.family:
            mono += 1
            assert after.font.family in MONOSPACE
            assert ("Bold" in after.font.family) == ("Bold" in before.font.family)
    assert proportional > 20 and 0.5 < mono / proportional < 0.9  # MONO_COMMANDS of them in typewriter type


def test_snippets_print_the_symbols_of_source_code_in_the_recognizers_alphabet() -> None:
    rng = np.random.default_rng(3)
    pieces = [snippet(rng) for _ in range(2000)]
    printed = set("".join(pieces))
    assert set("*%#<>{}=+$&|;[]()!~^/\\'\"_") <= printed  # what manuals' code prints and prose never does
    assert printed <= set(charset.ALPHABET)
    assert any(p.startswith("#include <") and p.endswith(".h>") for p in pieces)
    assert any(re.fullmatch(r"[A-Z_]+ := \$\([A-Z_]+\).*", p) for p in pieces)  # a makefile's variables
    assert any(re.fullmatch(r"(char|int|FILE|void|const char|size_t) \*[a-z0-9_]+[;,)]?", p) for p in pieces)


def test_source_code_sets_most_code_lines_in_typewriter_type_within_their_place() -> None:
    proportional, mono, inline = 0, 0, 0  # strings in a proportional face; set as code lines; given code inline
    for before, after in rewritten_in_place(source_code):
        assert set(after.text) <= set(charset.ALPHABET)
        proportional += before.font.family not in MONOSPACE and bool(before.text.strip())
        if after.font.family == before.font.family:
            inline += after.text != before.text
            continue
        assert before.font.family not in MONOSPACE and after.font.family in MONOSPACE
        assert re.search(r"[^A-Za-z0-9 ]|\b0x[0-9a-f]{4}\b", after.text), after.text  # a line of code
        assert ("Bold" in after.font.family) == ("Bold" in before.font.family)
        mono += 1
    assert inline > 10 and mono > 10
    assert mono / proportional > 0.05  # short strings (dates, labels) have no room for a line of code


@pytest.mark.parametrize(
    ("config", "rewritten"),
    [
        (DataConfig(command_share=1.0, open_share=1.0), r"(^| )--?[A-Za-z0-9]"),
        (DataConfig(source_share=1.0, open_share=1.0), r"[*%#<>{}=$&|]"),
        (DataConfig(prose_share=1.0, open_share=1.0), r"^[a-z]+ [a-z]+ [a-z]+"),
        (DataConfig(leader_share=1.0, open_share=1.0), r" (\.{3,}|(\. ){2,}\.)( |$)"),
    ],
    ids=["commands", "source code", "prose", "leaders"],
)
def test_rewritten_pages_keep_ink_inside_their_labels(config: DataConfig, rewritten: str) -> None:
    sample = training_sample(4, config)
    assert any(re.search(rewritten, t) for t in sample.texts)
    for box in quad_bounds(sample.quads).astype(int):
        x0, y0, x1, y1 = box
        assert sample.image[max(y0, 0) : y1, max(x0, 0) : x1].min() < 180


def test_pages_without_source_code_are_the_pages_drawn_before_it() -> None:
    """The rewrite draws from its own random streams, so a config without it draws the earlier runs' pages."""
    plain = training_sample(5, DataConfig(source_share=0.0))
    assert plain.texts == training_sample(5, DataConfig(source_share=0.0)).texts
    coded = [training_sample(seed, DataConfig(source_share=1.0, open_share=1.0)) for seed in range(3)]
    bare = [training_sample(seed, DataConfig(source_share=0.0, open_share=1.0)) for seed in range(3)]
    assert any(c.texts != b.texts for c, b in zip(coded, bare, strict=True))
    assert all(c.image.shape == b.image.shape for c, b in zip(coded, bare, strict=True))


LINES = (
    "the default, i.e., what you get when you don't say otherwise",
    "See \u2018--help\u2019 (or \u201cinfo grep\u201d) for the options you can use.",
    "e.g., \u2018~/.config/app.conf\u2019 or C++ sources",
)


def test_prose_sets_runs_of_real_lines_in_place() -> None:
    changed, lower, curly, bulleted = 0, 0, 0, 0
    for before, after in rewritten_in_place(lambda layout, rng: prose(layout, LINES, {}, rng)):
        assert after.font == before.font or after.font.size < before.font.size  # its face, shrunk at most
        if after.text == before.text:
            continue
        assert " " in before.text.strip()
        run = after.text.removeprefix(f"{BULLET} ")
        # whole words of one line, as written or typeset
        assert any(f" {run} " in f" {line} " or f" {run} " in f" {curled(line)} " for line in LINES), after.text
        changed += 1
        lower += run[0].islower()
        curly += "don\u2019t" in run
        bulleted += after.text.startswith(f"{BULLET} ")
    assert changed > 20 and lower / changed > 0.5  # runs start anywhere in a line, mostly mid-sentence
    assert curly and bulleted  # some runs set as typesetters print them, some opening a list's item


@pytest.mark.parametrize(
    ("plain", "typeset_"),
    [
        ("when you don't say", "when you don\u2019t say"),
        ("'foo' and 'bar'", "\u2018foo\u2019 and \u2018bar\u2019"),
        ('The key words "MUST", "SHALL"', "The key words \u201cMUST\u201d, \u201cSHALL\u201d"),
        ('use `ls\' (or "dir")', "use \u2018ls\u2019 (or \u201cdir\u201d)"),
        ("the users' files", "the users\u2019 files"),
        ("no quotes at all", "no quotes at all"),
    ],
)
def test_curled_sets_quotes_as_typesetters_print_them(plain: str, typeset_: str) -> None:
    assert curled(plain) == typeset_
    assert len(curled(plain)) == len(plain)  # one character for one: the run keeps its words


def test_prose_leaves_a_string_whose_run_its_glyph_source_cannot_draw() -> None:
    original = page_layout(4, "letter")
    families = {t.font.family for t in original.texts}
    curly = (" ".join(f"\u201c{word}\u201d" for word in ("every", "word", "is", "quoted", "in", "curly", "quotes")),)
    rewritten = prose(original, curly, dict.fromkeys(families, "ZapfDingbats"), np.random.default_rng(4))
    assert rewritten == original
    assert prose(original, (), {}, np.random.default_rng(4)) == original  # no text on this machine: no rewrite


def test_prose_pages_print_runs_of_the_manuals_and_pages_without_it_none() -> None:
    manuals = "\n".join(f" {line} " for line in manual_lines())

    def runs(config: DataConfig) -> list[str]:
        samples = [training_sample(seed, config) for seed in range(4)]
        return [t for s in samples for t in s.texts if len(t) > 20 and f" {t} " in manuals]

    assert len(runs(DataConfig(prose_share=1.0, open_share=1.0))) > 5
    assert runs(DataConfig(prose_share=0.0, open_share=1.0)) == []


def test_a_headline_grows_in_place_and_takes_the_strings_it_would_cover_off_the_page() -> None:
    grown = 0
    for seed in range(12):
        layout = page_layout(seed, OPEN_FAMILIES[seed % len(OPEN_FAMILIES)])
        after = headline(layout, np.random.default_rng(seed))
        big = [item for item in after.texts if item.font.size >= HEADLINE_PT[0]]
        if not big:
            assert after == layout  # nothing short enough to fit: the page as it was
            continue
        grown += 1
        (head,) = big
        assert set(after.texts) - {head} <= set(layout.texts)  # the others untouched, some taken off
        assert head.font.size <= HEADLINE_PT[1] and head.text in {t.text.strip() for t in layout.texts} | {
            t.text.split()[0] for t in layout.texts if t.text.split()
        }
        x0, y0, x1, y1 = head.box
        assert x0 >= 0 and x1 <= PAGE_WIDTH and y0 >= 0 and y1 <= PAGE_HEIGHT
        for other in set(after.texts) - {head}:
            ox0, oy0, ox1, oy1 = other.box
            assert ox1 <= x0 or x1 <= ox0 or oy1 <= y0 or y1 <= oy0, other
    assert grown >= 9


def test_headline_pages_keep_ink_inside_their_labels() -> None:
    sample = training_sample(3, DataConfig(headline_share=1.0, open_share=1.0))
    assert sample.sizes.max() >= HEADLINE_PT[0]
    for box in quad_bounds(sample.quads).astype(int):
        x0, y0, x1, y1 = box
        assert sample.image[max(y0, 0) : y1, max(x0, 0) : x1].min() < 180


LEADER_ROW = re.compile(r" (\.+|(\. )+\.)( (\$?[\d,]+(\.\d\d)?|[ivx]+))?$")


def test_leaders_grow_strings_rightward_into_their_lines_free_room_only() -> None:
    led_strings = 0
    for seed in range(12):
        layout = page_layout(seed, OPEN_FAMILIES[seed % len(OPEN_FAMILIES)])
        after = leaders(layout, {}, np.random.default_rng(seed))
        assert len(after.texts) == len(layout.texts)
        rules = [(min(r.x0, r.x1), min(r.y0, r.y1), max(r.x0, r.x1), max(r.y0, r.y1)) for r in layout.rules]
        for before, item in zip(layout.texts, after.texts, strict=True):
            if item == before:
                continue
            led_strings += 1
            assert (item.x, item.baseline, item.font) == (before.x, before.baseline, before.font)
            assert item.text.startswith(before.text.strip() + " ") and LEADER_ROW.search(item.text), item.text
            _, y0, x1, y1 = item.box
            assert x1 <= PAGE_WIDTH - LEADER_MARGIN + 1e-6
            gap = LEADER_GAP_EM * item.font.size - 1e-6
            for other in [o.box for o in after.texts if o is not item] + rules:
                ox0, oy0, ox1, oy1 = other
                beside = oy0 <= y1 and y0 <= oy1 and ox1 > before.box[2]
                assert not beside or x1 <= ox0 - gap, (item.text, other)
    assert led_strings >= 20


def test_a_leader_is_tight_or_spaced_and_ends_in_a_number_a_price_or_nothing() -> None:
    rng = np.random.default_rng(0)
    rows = [led("Introduction", "Times-Roman", 10.0, 300.0, rng) for _ in range(60)]
    assert all(r is not None and r.startswith("Introduction ") for r in rows)
    assert any(" ...." in r for r in rows) and any(" . . . ." in r for r in rows)
    ends = {r.rsplit(" ", 1)[-1] for r in rows}
    assert any(e.isdigit() for e in ends) and any(e in {"i", "ii", "iii", "iv", "v", "x"} for e in ends)
    assert any(re.fullmatch(r"\$?[\d,]+\.\d\d", e) for e in ends) and any(set(e) == {"."} for e in ends)
    for r in rows:  # within the room, and no row of dots longer than LEADER_MAX_EM: a line is never all dots
        assert stringWidth(r, "Times-Roman", 10.0) <= 300.0
        row = re.search(r"\.[. ]*\.", r)
        assert row is not None and stringWidth(row.group(), "Times-Roman", 10.0) <= LEADER_MAX_EM * 10.0
    short = stringWidth("Introduction ", "Times-Roman", 10.0) + (LEADER_MIN_EM - 0.5) * 10.0
    assert all(led("Introduction", "Times-Roman", 10.0, short, rng) is None for _ in range(20))


def test_pages_without_leaders_are_the_pages_drawn_before_them() -> None:
    """The rewrite draws from its own random streams: a page with it differs only in its led strings."""
    for seed in range(4):
        plain = training_sample(seed, DataConfig(leader_share=0.0, open_share=1.0))
        leading = training_sample(seed, DataConfig(leader_share=1.0, open_share=1.0))
        assert not any(LEADER_ROW.search(t) and " ..." in t for t in plain.texts)
        assert plain.image.shape == leading.image.shape and len(plain.texts) == len(leading.texts)
        assert all(b == a or b.startswith(a.strip() + " ") for a, b in zip(plain.texts, leading.texts, strict=True))
