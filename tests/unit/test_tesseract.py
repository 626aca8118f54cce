"""The tesseract backend: TSV parsing and word grouping (pure), and the real binary at the edges."""

from __future__ import annotations

import stat
from pathlib import Path

import numpy as np
import pytest
from ocr_subnet.backends.base import BackendError, OcrBackend
from ocr_subnet.backends.tesseract import (
    INK_SPREAD_PX,
    GroupingConfig,
    TesseractBackend,
    Word,
    font_size_px,
    parse_tsv,
    split_on_gaps,
    to_section,
    upscale_factor,
    words_to_sections,
)
from ocr_subnet.challenge.generate import generate_challenge
from ocr_subnet.protocol import ProtocolError, decode_image, encode_image
from ocr_subnet.scoring import strategies
from ocr_subnet.scoring.cer import character_error_rate
from ocr_subnet.scoring.reward import score
from ocr_subnet.sections import Font, Section
from PIL import Image, ImageDraw, ImageFont
from rapidfuzz.distance import Levenshtein

from tests.support.tools import require_tool

HEADER = "level\tpage_num\tblock_num\tpar_num\tline_num\tword_num\tleft\ttop\twidth\theight\tconf\ttext"


def word(text: str, left: float, right: float, top: float = 100, bottom: float = 107, line=(1, 1, 1), conf=90.0):
    return Word(text=text, left=left, top=top, right=right, bottom=bottom, line=line, confidence=conf)


# --- pure parts -----------------------------------------------------------------------------------


def test_parse_tsv_keeps_words_and_undoes_the_upscale():
    tsv = "\n".join(
        [
            HEADER,
            "1\t1\t0\t0\t0\t0\t0\t0\t1800\t2400\t-1\t",
            "4\t1\t1\t1\t1\t0\t300\t300\t600\t30\t-1\t",
            "5\t1\t1\t1\t1\t1\t300\t300\t210\t21\t95.5\tINVOICE",
            "5\t1\t1\t1\t1\t2\t540\t300\t90\t21\t12.0\t \t",
            "5\t1\t2\t1\t1\t1\t900\t303\t60\t27\t88\tpay",
        ]
    )
    words = parse_tsv(tsv, scale=3)
    assert [w.text for w in words] == ["INVOICE", "pay"]
    assert (words[0].left, words[0].top, words[0].right, words[0].bottom) == (100, 100, 170, 107)
    assert words[1].line == (2, 1, 1)
    assert words[0].confidence == 95.5


@pytest.mark.parametrize("tsv", ["", "Error: something", HEADER + "\n5\t1\t1\t1\t1\t1\tx\t0\t1\t1\t90\tword"])
def test_parse_tsv_refuses_what_is_not_tesseract_tsv(tsv):
    with pytest.raises(BackendError):
        parse_tsv(tsv)


def test_font_size_comes_from_ink_height_and_glyph_classes():
    """Capitals rise 0.7 font sizes; blur adds INK_SPREAD_PX; descenders fall 0.21 more."""
    assert font_size_px([word("INVOICE", 100, 170, top=100, bottom=107 + INK_SPREAD_PX)]) == pytest.approx(10)
    assert font_size_px([word("pay", 0, 20, top=102, bottom=109.1 + INK_SPREAD_PX)]) == pytest.approx(10)
    assert font_size_px([word("one", 0, 20, top=102, bottom=107 + INK_SPREAD_PX)]) == pytest.approx(10)


def test_section_box_follows_the_label_rule_around_the_baseline():
    """Capitals 7 px tall on baseline 107: a 10 px font's box runs from 107 - 8 to 107 + 2."""
    section = to_section([word("INVOICE", 100, 170, top=100, bottom=107)], 10.0, px_per_pt=1.0, family="Helvetica")
    assert section.text == "INVOICE"
    assert section.position == pytest.approx((99.75, 99, 170.25, 109))
    assert section.font == Font(family="Helvetica", size=10.0)


def test_descending_words_do_not_pull_the_baseline_down():
    words = [word("Total", 100, 130, top=100, bottom=107), word("pay", 134, 150, top=102, bottom=109.1)]
    section = to_section(words, 10.0, px_per_pt=2.0, family="Helvetica")
    assert section.position[1] == pytest.approx(99)  # baseline 107 - 0.8 * 10
    assert section.position[3] == pytest.approx(109)  # baseline 107 + 0.2 * 10
    assert section.font.size == pytest.approx(5.0)  # 10 px at 2 px per point


def test_a_degenerate_word_box_still_gives_a_valid_section():
    section = to_section([word("-", 10, 10, top=50, bottom=50)], 0.0, px_per_pt=1.0, family="Helvetica")
    x0, y0, x1, y1 = section.position
    assert x0 < x1 and y0 < y1


def test_words_with_ordinary_spaces_form_one_section_and_wide_gaps_split():
    words = [word("Web", 100, 120), word("hosting", 123, 160), word("2", 400, 405), word("$120.00", 500, 540)]
    runs = split_on_gaps(words, gap_em=1.2)
    assert [[w.text for w in run] for run in runs] == [["Web", "hosting"], ["2"], ["$120.00"]]


def test_words_to_sections_keeps_lines_apart_and_can_drop_untrusted_words():
    words = [
        word("Bill", 100, 118),
        word("To:", 121, 136),
        word("~~", 200, 210, conf=5.0),
        word("Acme", 100, 125, top=120, bottom=127, line=(1, 1, 2)),
    ]
    assert [s.text for s in words_to_sections(words, 612, GroupingConfig())] == ["Bill To:", "~~", "Acme"]
    trusting = GroupingConfig(min_confidence=30)
    assert [s.text for s in words_to_sections(words, 612, trusting)] == ["Bill To:", "Acme"]


def test_a_run_boxed_far_taller_than_the_page_text_takes_the_typical_size():
    """Tesseract sometimes gives words the height of a line spanning two columns."""
    lines = [[word(f"Row{i}", 100, 140, top=100 + 20 * i, bottom=107.8 + 20 * i, line=(1, 1, i))] for i in range(4)]
    stretched = word("Berry", 300, 340, top=190, bottom=215, line=(1, 1, 9))
    sections = words_to_sections([w for line in lines for w in line] + [stretched], 612, GroupingConfig())
    assert {s.font.size for s in sections} == {10.0}
    baseline = (190 + 215) / 2 + (0.7 - 0.21) / 2 * 10  # the ink's centre, then down to the baseline
    assert sections[-1].position == pytest.approx((299.75, baseline - 8, 340.25, baseline + 2))


@pytest.mark.parametrize(("width", "factor"), [(631, 2), (661, 2), (300, 2), (1300, 1), (2550, 1), (5000, 1)])
def test_small_pages_are_enlarged_and_large_ones_left_alone(width, factor):
    assert upscale_factor(width, max_upscale=2) == factor


def test_no_words_no_sections():
    assert words_to_sections([], 612, GroupingConfig()) == []


# --- the real binary ------------------------------------------------------------------------------


def fake_tesseract(tmp_path: Path, body: str) -> str:
    script = tmp_path / "tesseract"
    script.write_text(f"#!/bin/sh\n{body}\n")
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    return str(script)


def test_missing_binary_is_a_clear_error_at_construction():
    with pytest.raises(BackendError, match="not found: install Debian's tesseract-ocr"):
        TesseractBackend(binary="/nonexistent/tesseract")


def test_a_hanging_binary_times_out_as_a_backend_error(tmp_path):
    with pytest.raises(BackendError, match="took over"):
        TesseractBackend(binary=fake_tesseract(tmp_path, "exec sleep 5"), timeout_s=0.2)


def test_a_failing_binary_is_a_backend_error(tmp_path):
    with pytest.raises(BackendError, match="exited with 3: broken"):
        TesseractBackend(binary=fake_tesseract(tmp_path, "echo broken >&2; exit 3"))


def test_a_binary_without_the_language_is_refused(tmp_path):
    with pytest.raises(BackendError, match="no 'eng' language"):
        TesseractBackend(binary=fake_tesseract(tmp_path, "echo 'List of available languages (1):'; echo osd"))


def test_a_binary_printing_garbage_is_a_backend_error(tmp_path):
    script = 'case "$1" in --list-langs) echo "List of languages (1):"; echo eng;; *) echo garbage;; esac'
    backend = TesseractBackend(binary=fake_tesseract(tmp_path, script))
    with pytest.raises(BackendError, match="no TSV header"):
        backend.recognize(Image.new("L", (100, 100), 255))


@pytest.fixture(scope="module")
def backend():
    require_tool("tesseract")
    engine = TesseractBackend()
    yield engine
    engine.close()


def test_it_implements_the_backend_interface(backend):
    engine: OcrBackend = backend
    assert engine.name == "tesseract"
    assert engine.recognize(Image.new("L", (64, 64), 255)) == []


def test_blank_page_reads_nothing(backend):
    assert backend.recognize(Image.new("RGB", (631, 816), "white")) == []


@pytest.mark.parametrize(
    "image",
    [
        Image.fromarray(np.random.default_rng(0).integers(0, 256, (300, 400), dtype=np.uint8)),
        Image.new("L", (1, 1), 0),
        Image.new("RGBA", (3, 2000), (0, 0, 0, 0)),
        Image.new("I;16", (64, 64)),
        Image.new("P", (200, 50)),
    ],
    ids=["noise", "one-pixel", "sliver-rgba", "16-bit", "palette"],
)
def test_garbage_images_never_crash(backend, image):
    try:
        sections = backend.recognize(image)
    except BackendError:
        return
    assert all(isinstance(s, Section) for s in sections)


@pytest.mark.parametrize("raw", [b"garbage", bytes(range(256)) * 8, b"\x89PNG\r\n\x1a\n" + b"\x00" * 100])
def test_garbage_bytes_never_reach_it_and_never_crash(backend, raw):
    """The miner decodes with the protocol first: garbage is refused there, the engine never runs."""
    with pytest.raises(ProtocolError):
        backend.recognize(decode_image(encode_image(raw)))


def test_reads_drawn_text_and_boxes_it_where_it_is(backend):
    image = Image.new("L", (612, 200), 255)
    draw = ImageDraw.Draw(image)
    font = ImageFont.load_default(size=14)
    draw.text((40, 50), "Invoice Number: 4711", font=font, fill=0)
    draw.text((400, 50), "Total: $120.00", font=font, fill=0)
    sections = sorted(backend.recognize(image), key=lambda s: s.position[0])
    assert len(sections) == 2
    for section, drawn in zip(sections, ["Invoice Number: 4711", "Total: $120.00"], strict=True):
        assert Levenshtein.normalized_similarity(section.text, drawn) >= 0.9
    x0, y0, _, y1 = sections[0].position
    assert 35 <= x0 <= 45 and 45 <= y0 <= 55 and y1 <= 75
    assert 10 <= sections[0].font.size <= 20


@pytest.fixture(scope="module")
def read_challenges(backend):
    """Two level-1 challenges and tesseract's answers to them."""
    challenges = [generate_challenge(seed, difficulty=1) for seed in (1, 2)]
    return [(c, backend.recognize(decode_image(encode_image(c.image)))) for c in challenges]


def test_reads_most_of_a_generated_challenge(read_challenges):
    for challenge, answer in read_challenges:
        assert character_error_rate(challenge.sections, answer) < 0.35


def test_its_answers_score_far_above_any_non_reading_answer(read_challenges):
    for challenge, answer in read_challenges:
        reward = score(challenge.sections, answer, 1.0, 12.0)
        assert reward.prediction > 0.45
        assert reward.position > 0.3  # its boxes follow the label convention
        text_at_a_constant_box = strategies.constant_box([s.text for s in answer], (0, 0, 1, 1))
        assert score(challenge.sections, text_at_a_constant_box, 1.0, 12.0).prediction < 0.02
