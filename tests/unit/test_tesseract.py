"""The tesseract backend: TSV parsing and word grouping (pure), and the real binary at the edges."""

from __future__ import annotations

import shutil
import stat
from pathlib import Path

import numpy as np
import pytest
from ocr_subnet.backends.base import BackendError, OcrBackend
from ocr_subnet.backends.tesseract import (
    GroupingConfig,
    TesseractBackend,
    Word,
    parse_tsv,
    split_on_gaps,
    to_section,
    words_to_sections,
)
from ocr_subnet.sections import Section
from PIL import Image, ImageDraw, ImageFont

HEADER = "level\tpage_num\tblock_num\tpar_num\tline_num\tword_num\tleft\ttop\twidth\theight\tconf\ttext"
NO_TESSERACT = shutil.which("tesseract") is None
needs_tesseract = pytest.mark.skipif(NO_TESSERACT, reason="Debian tesseract-ocr not installed")


def word(
    text: str, left: float, right: float, top: float = 100, bottom: float = 107, line=(1, 1, 1), conf=90.0
):
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


def test_section_box_follows_the_label_rule_around_the_baseline():
    """Capitals 7 px tall sit on the baseline: size 10 px, box from baseline - 8 to baseline + 2."""
    section = to_section([word("INVOICE", 100, 170, top=100, bottom=107)], px_per_pt=1.0, family="Helvetica")
    assert section.text == "INVOICE"
    assert section.position == pytest.approx((100, 99, 170, 109))
    assert section.font.size == pytest.approx(10.0)
    assert section.font.family == "Helvetica"


def test_descending_words_do_not_pull_the_baseline_down():
    words = [word("Total", 100, 130, top=100, bottom=107), word("pay", 134, 150, top=102, bottom=109.1)]
    section = to_section(words, px_per_pt=2.0, family="Helvetica")
    assert section.position[3] == pytest.approx(109)  # baseline 107 + 0.2 * 10
    assert section.font.size == pytest.approx(5.0)  # 10 px at 2 px per point


def test_words_with_ordinary_spaces_form_one_section_and_wide_gaps_split():
    words = [word("Web", 100, 120), word("hosting", 123, 160), word("2", 400, 405), word("$120.00", 500, 540)]
    runs = split_on_gaps(words, gap_em=1.2)
    assert [[w.text for w in run] for run in runs] == [["Web", "hosting"], ["2"], ["$120.00"]]


def test_words_to_sections_drops_untrusted_words_and_keeps_lines_apart():
    words = [
        word("Bill", 100, 118),
        word("To:", 121, 136),
        word("~~", 200, 210, conf=5.0),
        word("Acme", 100, 125, top=120, bottom=127, line=(1, 1, 2)),
    ]
    sections = words_to_sections(words, image_width=612, config=GroupingConfig())
    assert [s.text for s in sections] == ["Bill To:", "Acme"]


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
    if NO_TESSERACT:
        pytest.skip("Debian tesseract-ocr not installed")
    engine = TesseractBackend()
    yield engine
    engine.close()


@needs_tesseract
def test_it_implements_the_backend_interface(backend):
    engine: OcrBackend = backend
    assert engine.name == "tesseract"
    assert engine.recognize(Image.new("L", (64, 64), 255)) == []


@needs_tesseract
def test_blank_page_reads_nothing(backend):
    assert backend.recognize(Image.new("RGB", (631, 816), "white")) == []


@needs_tesseract
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


@needs_tesseract
def test_reads_drawn_text_and_boxes_it_where_it_is(backend):
    image = Image.new("L", (612, 200), 255)
    draw = ImageDraw.Draw(image)
    font = ImageFont.load_default(size=14)
    draw.text((40, 50), "Invoice Number: 4711", font=font, fill=0)
    draw.text((400, 50), "Total: $120.00", font=font, fill=0)
    sections = sorted(backend.recognize(image), key=lambda s: s.position[0])
    assert [s.text for s in sections] == ["Invoice Number: 4711", "Total: $120.00"]
    x0, y0, _, y1 = sections[0].position
    assert 35 <= x0 <= 45 and 45 <= y0 <= 55 and y1 <= 75
    assert 10 <= sections[0].font.size <= 20
