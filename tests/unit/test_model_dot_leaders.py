"""Rows of dot leaders counted from their pixels: blobs on a baseline, matched to the reading's runs of dots."""

from __future__ import annotations

import numpy as np
import pytest
from ocr_subnet.challenge.invoice import Layout, text
from ocr_subnet.challenge.render import draw_pdf, rasterize
from ocr_subnet.model import charset
from ocr_subnet.model.dot_leaders import DotRow, dot_rows, recount_leaders
from ocr_subnet.model.pipeline import OcrPipeline
from ocr_subnet.sections import Font


def crop(*rows: tuple[int, int], width: int = 600, specks: int = 0, pitch: int = 7) -> np.ndarray:
    """A normalised 32-px crop: a word (16-px blobs), then for each (start, dots) a row of 3x3 dots `pitch` px
    apart on the word's baseline (DocBook's 0.4 of the letters' height), each row closed by a figure; `specks`
    loose dots off the baseline."""
    image = np.zeros((32, width), np.float32)
    for x in range(4, 60, 10):
        image[8:24, x : x + 7] = 1.0  # letters, their feet on row 23
    for start, dots in rows:
        for k in range(dots):
            image[21:24, start + pitch * k : start + pitch * k + 3] = 1.0
        end = start + pitch * dots + 4
        image[8:24, end : end + 7] = 1.0  # the page number
    rng = np.random.default_rng(0)
    for x in rng.choice(np.arange(4, width - 4, 9), size=specks, replace=False):
        y = int(rng.integers(2, 14))
        image[y : y + 2, x : x + 2] = 1.0
    return image


def test_a_row_of_dots_is_counted_blob_by_blob() -> None:
    assert dot_rows(crop((70, 30))) == [DotRow(30, spaced=False)]
    assert dot_rows(crop((70, 20), (250, 12))) == [DotRow(20, False), DotRow(12, False)]  # a figure between them
    assert dot_rows(crop((70, 30), pitch=10)) == [DotRow(30, spaced=True)]  # TeX's, 0.6 of the letters apart


def test_short_runs_loose_specks_and_plain_words_make_no_row() -> None:
    assert dot_rows(crop((70, 3))) == []  # an ellipsis
    assert dot_rows(crop(specks=40)) == []  # specks above the baseline, with letters between them
    assert dot_rows(np.zeros((32, 100), np.float32)) == []


def test_a_dash_breaks_a_row() -> None:
    image = crop((70, 30))
    image[22:24, 150:170] = 1.0  # a rule across four dots' places
    rows = dot_rows(image)
    assert len(rows) == 2 and sum(row.dots for row in rows) < 30


def test_a_figure_s_stroke_cut_off_its_glyph_is_not_a_dot() -> None:
    image = crop((70, 30))
    end = 70 + 7 * 30 + 4
    image[8:24, end : end + 7] = 0.0
    image[8:18, end : end + 7] = 1.0  # a "2" whose foot the ink threshold cut off: a dot-sized bar on the baseline
    image[19:24, end - 2 : end + 9] = 1.0
    assert dot_rows(image) == [DotRow(30, spaced=False)]


def test_a_reading_takes_its_rows_length_from_the_pixels() -> None:
    image = crop((70, 30))
    assert recount_leaders("Intro .............. 3", image) == "Intro " + "." * 30 + " 3"
    # a row read as broken runs is still one row, and becomes one run
    assert recount_leaders("Intro ........ ... .3", image) == "Intro " + "." * 30 + "3"
    # spaced dots read tight are written spaced, as the text layer of TeX's leaders holds them
    assert recount_leaders("Intro ........ 3", crop((70, 30), pitch=10)) == "Intro " + " ".join("." * 30) + " 3"


@pytest.mark.parametrize(
    ("reading", "image"),
    [
        ("Intro ... 3", crop((70, 30))),  # no tight run read: nothing to recount
        ("Intro . . . . . 3", crop((70, 30))),  # spaced dots are read one by one already
        ("Intro ...... 3 ...... 4", crop((70, 30))),  # two runs read, one row seen
        ("Intro " + "." * 40 + " 3", crop((70, 30))),  # the row holds fewer dots than were read
        ("Intro ........ 3", crop()),  # no row seen
    ],
)
def test_a_reading_the_pixels_do_not_bear_out_is_left_as_it_is(reading: str, image: np.ndarray) -> None:
    assert recount_leaders(reading, image) == reading


def contents_page() -> tuple[np.ndarray, dict[str, int]]:
    """Three rows as DocBook sets them (a dot every quarter em of 10-pt Times) at 150 dpi, and each title's dots."""
    font = Font(family="Times-Roman", size=10.0)
    titles = ("Introduction", "Details of the components", "Build changes")
    rows = {title: int((380 - text(title + " ", font).advance) // text(".", font).advance) for title in titles}
    layout = Layout(
        "contents",
        tuple(
            text(f"{title} {'.' * dots} {page}", font, 72.0, 120.0 + 18.0 * i)
            for i, ((title, dots), page) in enumerate(zip(rows.items(), (3, 14, 27), strict=True))
        ),
    )
    (image,) = rasterize(draw_pdf([layout]), 150 / 72)
    return image, rows


def test_the_shipped_pipeline_reads_a_tight_table_of_contents_dot_for_dot() -> None:
    """CTC alone reads about half of each row's dots."""
    image, rows = contents_page()
    read = [s.text for s in OcrPipeline.load()([image])[0]]
    for title, dots in rows.items():
        (line,) = [r for r in read if r.startswith(title.split()[0])]
        assert "." * dots in line and "." * (dots + 1) not in line, (line, dots)


def test_the_uncorrected_pipeline_keeps_its_greedy_readings_dots_and_all() -> None:
    """What the corrections are calibrated on: the texts the frames spell, which a recount would no longer be."""
    image, _ = contents_page()
    (reading,) = OcrPipeline.load().uncorrected().read([image])
    greedy = [charset.greedy_decode(frames[None].numpy(), [len(frames)])[0] for frames in reading.log_probs]
    assert reading.texts == greedy and any("...." in text for text in greedy)
