"""`ocr-subnet eval real-pdfs`: the Debian PDFs' own text layer as ground truth, the metrics, the CLI."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import numpy as np
import pytest
from ocr_subnet.cli import app
from ocr_subnet.evaluation import EngineName, Variant
from ocr_subnet.evaluation.real_pdfs import (
    BREADTH_DOCUMENTS,
    CALIBRATION_DOCUMENTS,
    CONTENTS_DOCUMENTS,
    DOCUMENT_SETS,
    DOCUMENTS,
    MissingDocuments,
    PageResult,
    SourceDocument,
    check_installed,
    missing_packages,
    normalise,
    opened,
    page_cer,
    page_plan,
    parse_bbox_layout,
    rasterize,
    select,
    summary_rows,
    text_layer,
    variant_raster,
    word_accuracy,
)
from ocr_subnet.evaluation.run import EngineUnavailable, load_engine, ppocr_sections
from ocr_subnet.sections import plain_text
from typer.testing import CliRunner

LIBTASN1 = next(d for d in DOCUMENTS if d.package == "libtasn1-doc")
BZIP2 = next(d for d in DOCUMENTS if d.package == "bzip2-doc")


def test_the_set_lists_text_pages_of_at_least_five_documents() -> None:
    assert len({d.package for d in DOCUMENTS}) >= 5
    assert all(d.pages and min(d.pages) >= 1 for d in DOCUMENTS)
    first, second = DOCUMENTS[:2]
    plan = page_plan([first, second], 2)
    assert plan == [
        (first, first.pages[0]),
        (first, first.pages[1]),
        (second, second.pages[0]),
        (second, second.pages[1]),
    ]


@pytest.mark.parametrize(
    "document", (*DOCUMENTS, *CALIBRATION_DOCUMENTS, *BREADTH_DOCUMENTS), ids=lambda d: f"{d.path.name}:{d.pages[0]}"
)
def test_every_listed_page_is_a_text_page(document: SourceDocument) -> None:
    with opened(document) as (path, _):
        for page in document.pages:
            truth = text_layer(path, page, 1000, 1000)
            assert len(truth.words) >= 150 and len(truth.lines) >= 15, (document.package, page)


@pytest.mark.parametrize("document", CONTENTS_DOCUMENTS, ids=lambda d: f"{d.path.name}:{d.pages[0]}")
def test_every_contents_page_leads_its_titles_with_dots(document: SourceDocument) -> None:
    with opened(document) as (path, _):
        (page,) = document.pages
        lines = text_layer(path, page, 1000, 1000).lines
    led = [line.text for line in lines if re.search(r"(\.{6}|(\. ){5}\.) *\S*$", line.text)]
    assert len(led) >= 5, (document.path.name, page, [line.text for line in lines][:5])


def test_no_page_is_read_by_two_sets() -> None:
    listed = [(d.path, page) for documents in DOCUMENT_SETS.values() for d in documents for page in d.pages]
    assert len(listed) == len(set(listed))
    others = {d.path for d in (*DOCUMENTS, *CALIBRATION_DOCUMENTS)}
    assert not others & {d.path for d in BREADTH_DOCUMENTS}  # breadth: documents no other text set reads
    assert len({d.path for d in BREADTH_DOCUMENTS}) == len(BREADTH_DOCUMENTS) == 11


def test_text_layer_of_a_real_page_lies_on_its_ink() -> None:
    with opened(LIBTASN1) as (path, pdf):
        raster = rasterize(pdf, 1, 150)
        truth = text_layer(path, 1, raster.shape[1], raster.shape[0])
    height, width = raster.shape
    assert width == 1275 and abs(height - 1650) <= 1  # 8.5 x 11 in at 150 dpi (pdfium rounds up)
    texts = [w.text for w in truth.words]
    assert texts[:3] == ["Libtasn1", "Abstract", "Syntax"] and "2022" in texts
    assert "Abstract Syntax Notation One (ASN.1) library for the GNU system" in truth.text
    for section in (*truth.words, *truth.lines):
        x0, y0, x1, y1 = section.position
        assert 0 <= x0 < x1 <= width and 0 <= y0 < y1 <= height
    title = truth.words[0]
    assert title.position[0] == pytest.approx(90.0 * 150 / 72)  # points -> pixels
    x0, y0, x1, y1 = (round(v) for v in title.position)
    assert raster[y0:y1, x0:x1].min() < 64  # the title's ink is inside its box
    assert raster[y0:y1, x1 + 40 : x1 + 200].min() == 255  # and the paper beside it is blank


def test_a_glyph_with_no_character_is_dropped_not_a_parse_error() -> None:
    """pdftotext writes a formula's unmapped glyph as a raw U+0001, which XML forbids (zlib's crc-doc, page 5)."""
    words = "".join(
        f'<word xMin="{x0}" yMin="10" xMax="{x1}" yMax="20">{text}</word>'
        for x0, x1, text in ((10, 30, "x\x01y"), (40, 50, "\x01"), (60, 90, "CRC"))
    )
    xhtml = (
        '<html xmlns="http://www.w3.org/1999/xhtml"><body><doc><page width="100" height="100"><flow><block>'
        f'<line xMin="10" yMin="10" xMax="90" yMax="20">{words}</line></block></flow></page></doc></body></html>'
    )
    truth = parse_bbox_layout(xhtml, 200, 200)
    assert [w.text for w in truth.words] == ["xy", "CRC"]
    assert truth.text == "xy CRC"
    assert truth.words[1].position == (120.0, 20.0, 180.0, 40.0)


def test_gzipped_documents_are_unpacked_and_read() -> None:
    with opened(BZIP2) as (path, pdf):
        page = BZIP2.pages[0]
        raster = rasterize(pdf, page, 72)
        truth = text_layer(path, page, raster.shape[1], raster.shape[0])
    assert path.suffix == ".pdf" and len(truth.words) > 100
    assert not path.exists()  # the temporary copy is gone with the context


def test_degraded_variant_keeps_the_geometry_and_is_reproducible() -> None:
    with opened(LIBTASN1) as (_, pdf):
        clean = rasterize(pdf, 4, 150)
    first = np.asarray(variant_raster(clean, Variant.DEGRADED, "libtasn1-doc", 4, 150))
    again = np.asarray(variant_raster(clean, Variant.DEGRADED, "libtasn1-doc", 4, 150))
    assert first.shape == clean.shape and np.array_equal(first, again)
    assert np.abs(first.astype(int) - clean).mean() > 1.0  # visibly marked
    assert np.array_equal(np.asarray(variant_raster(clean, Variant.CLEAN, "libtasn1-doc", 4, 150)), clean)


def test_metrics_on_known_strings() -> None:
    assert normalise("  the ﬁle\n\tis  here ") == "the file is here"
    assert page_cer("hello\nworld", "hello   world") == 0.0
    assert page_cer("abcd", "abed") == 0.25
    assert page_cer("abc", "") == 1.0
    assert page_cer("", "") == 0.0 and page_cer("", "x") == 1.0
    assert word_accuracy("a b a c", "c a c x") == 0.5  # one of the two a's, the c
    assert word_accuracy("the ﬁle", "the file") == 1.0
    assert word_accuracy("", "") == 1.0 and word_accuracy("", "x") == 0.0


def test_summary_rows_average_per_engine_dpi_and_variant() -> None:
    results = [
        PageResult("tesseract", 150, "clean", "a", 1, 0.1, 0.8, 1.0),
        PageResult("tesseract", 150, "clean", "b", 2, 0.3, 0.6, 3.0),
        PageResult("model", 150, "clean", "a", 1, 0.5, 0.2, 2.0),
    ]
    rows = summary_rows(results)
    assert [(r["engine"], r["pages"], r["documents"]) for r in rows] == [("tesseract", 2, 2), ("model", 1, 1)]
    assert rows[0]["cer"] == pytest.approx(0.2) and rows[0]["word_accuracy"] == pytest.approx(0.7)
    assert rows[0]["seconds_per_page"] == pytest.approx(2.0)


def test_a_missing_package_is_named_with_its_install_command() -> None:
    absent = SourceDocument("no-such-doc", Path("/usr/share/doc/no-such-doc/manual.pdf"), (1,))
    assert missing_packages([LIBTASN1, absent, absent]) == ["no-such-doc"]
    with pytest.raises(MissingDocuments, match=r"apt-get install no-such-doc"):
        check_installed([LIBTASN1, absent])
    check_installed([LIBTASN1])


def test_an_unknown_document_is_refused() -> None:
    with pytest.raises(ValueError, match="no-such-doc"):
        select(DOCUMENTS, ["no-such-doc"])
    assert select(DOCUMENTS, ["bzip2-doc"]) == (BZIP2,)
    result = CliRunner().invoke(app, ["eval", "real-pdfs", "--engine", "tesseract", "--document", "no-such-doc"])
    assert result.exit_code == 2 and "no-such-doc" in result.output


def test_a_model_without_weights_is_a_clear_error(tmp_path: Path) -> None:
    arguments = ["eval", "real-pdfs", "--engine", "model", "--weights-dir", str(tmp_path), "--pages", "1"]
    result = CliRunner().invoke(app, arguments)
    assert result.exit_code == 1
    assert "no model manifest" in result.output and str(tmp_path) in result.output


def test_cli_json_reads_one_page_with_tesseract() -> None:
    arguments = ["--engine", "tesseract", "--dpi", "150", "--variant", "clean", "--pages", "1"]
    result = CliRunner().invoke(app, ["eval", "real-pdfs", *arguments, "--document", "libtasn1-doc", "--json"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    (row,) = out["rows"]
    assert (row["engine"], row["dpi"], row["variant"], row["pages"]) == ("tesseract", 150, "clean", 1)
    assert row["cer"] < 0.05 and row["word_accuracy"] > 0.9  # tesseract reads clean TeX prose almost perfectly
    (page,) = out["pages"]
    assert (page["package"], page["page"]) == ("libtasn1-doc", LIBTASN1.pages[0])


def test_cli_reads_the_other_sets_on_request_and_never_records_them(tmp_path: Path) -> None:
    arguments = ["eval", "real-pdfs", "--engine", "tesseract", "--dpi", "150", "--variant", "clean", "--pages", "1"]
    result = CliRunner().invoke(app, [*arguments, "--set", "calibration", "--document", "flex-doc", "--json"])
    assert result.exit_code == 0, result.output
    (page,) = json.loads(result.stdout)["pages"]
    assert (page["package"], page["page"]) == ("flex-doc", CALIBRATION_DOCUMENTS[0].pages[0])
    refused = CliRunner().invoke(app, [*arguments, "--document", "flex-doc"])  # the evaluation set, by default
    assert refused.exit_code == 2 and "flex-doc" in refused.output
    result = CliRunner().invoke(app, [*arguments, "--set", "breadth", "--document", "lmodern", "--json"])
    assert result.exit_code == 0, result.output
    (page,) = json.loads(result.stdout)["pages"]
    assert (page["package"], page["page"], page["cer"] < 0.1) == ("lmodern", 2, True)
    record = ["--engine", "model", "--set", "calibration", "--weights-dir", str(tmp_path), "--record"]
    result = CliRunner().invoke(app, [*arguments, *record], env={"COLUMNS": "200"})
    assert result.exit_code == 2 and "calibration set is tuned on" in result.output


def test_setup_installs_every_package_of_the_set() -> None:
    setup = (Path(__file__).parents[2] / "scripts" / "setup.sh").read_text()
    (line,) = [line for line in setup.splitlines() if line.startswith("APT_PACKAGES=(")]
    installed = set(line.removeprefix("APT_PACKAGES=(").removesuffix(")").split())
    packages = {d.package for documents in DOCUMENT_SETS.values() for d in documents}
    assert packages | {"poppler-utils", "tesseract-ocr"} <= installed


def test_ppocr_lines_become_sections_bounded_by_their_corners() -> None:
    lines = [
        ([[10.0, 12.0], [200.0, 10.0], [201.0, 40.0], [11.0, 42.0]], "first line", 0.99),
        ([[5.0, 50.0], [5.0, 50.0], [5.0, 50.0], [5.0, 50.0]], "degenerate", 0.9),
        ([[0.0, 60.0], [80.0, 60.0], [80.0, 80.0], [0.0, 80.0]], "  ", 0.5),
    ]
    (section,) = ppocr_sections(lines)
    assert section.text == "first line" and section.position == (10.0, 10.0, 201.0, 42.0)
    assert section.font.size == 32.0
    assert ppocr_sections(None) == []  # RapidOCR answers None for a page without text


def test_ppocr_reads_a_real_page_through_rapidocr() -> None:
    engine = load_engine(EngineName.PPOCR, 2)
    with opened(LIBTASN1) as (path, pdf):
        clean = rasterize(pdf, LIBTASN1.pages[0], 150)
        truth = text_layer(path, LIBTASN1.pages[0], clean.shape[1], clean.shape[0]).text
        read = plain_text(engine(variant_raster(clean, Variant.CLEAN, LIBTASN1.package, LIBTASN1.pages[0], 150)))
    assert page_cer(truth, read) < 0.2 and word_accuracy(truth, read) > 0.5  # a real reader, if not tesseract


def test_ppocr_without_its_package_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "rapidocr_onnxruntime", None)  # what an environment without it imports
    with pytest.raises(EngineUnavailable, match="rapidocr-onnxruntime is not installed"):
        load_engine(EngineName.PPOCR, 1)
