"""The corrections' knobs fitted on generated pages and real PDFs alike (`model.calibrate`, `ocr-subnet calibrate`)."""

from __future__ import annotations

import json
import shutil
from functools import partial
from pathlib import Path

import numpy as np
import pytest
from ocr_subnet.cli import app
from ocr_subnet.evaluation.real_pdfs import CALIBRATION_DOCUMENTS, MissingDocuments, SourceDocument
from ocr_subnet.model import calibrate
from ocr_subnet.model.evaluate import (
    GENERATOR,
    LANGUAGE_WEIGHTS,
    LEXICON_PENALTIES,
    REAL_PDFS,
    EvalPage,
    ScoredReading,
    calibrate_correction,
    label_scored,
    text_cer,
)
from ocr_subnet.model.geometry import Calibration
from ocr_subnet.model.lexicon import Lexicon
from ocr_subnet.model.pipeline import MANIFEST, WEIGHTS_DIR, OcrPipeline, Reading
from ocr_subnet.sections import Font, Section
from typer.testing import CliRunner

from tests.support.ctc import reading

LEXICON = Lexicon(["Adam", "Glen", "Apt", "Tool"])
RECT = np.array([[110.0, 17.0, 200.0, 14.0, 0.0, 1.0]])  # one line's box, as the detector decodes it
FAMILIES = np.full((1, 6), 1 / 6, np.float32)


def invoice_line() -> ScoredReading:
    """A generated line read "Gien" where the label says "Glen": the vocabulary mends it."""
    truth = "12 Adam Glen Apt 19"
    label = Section(text=truth, position=(10.0, 10.0, 210.0, 24.0), font=Font(family="Courier", size=10.0))
    page = EvalPage("level1", 0, np.full((792, 612), 255, np.uint8), (label,))
    frames = reading("12 Adam Gien Apt 19", doubt={9: {"l": 0.4, "i": 0.58}})
    (scored,) = label_scored([(Reading(RECT, ["12 Adam Gien Apt 19"], FAMILIES, (frames,)), page)])
    return scored


def manual_line() -> ScoredReading:
    """A manual's line read right, whose first word is no dictionary word but one edit from one ("Tool")."""
    truth = "Bool values are stored in one byte"
    frames = reading(truth, doubt={0: {"B": 0.6, "T": 0.38}})
    return ScoredReading(Reading(RECT, [truth], FAMILIES, (frames,)), 612, 792, partial(text_cer, truth))


def test_generated_pages_alone_turn_the_vocabulary_on() -> None:
    calibration, fit = calibrate_correction({GENERATOR: [invoice_line()]}, LEXICON, None, Calibration())
    assert calibration.lexicon_penalty > 0
    assert fit[GENERATOR]["with_lexicon"] == 0.0 < fit[GENERATOR]["uncorrected"]


def test_a_real_page_the_vocabulary_would_spoil_keeps_it_off() -> None:
    """Each domain counts by its CER relative to its own uncorrected one: the invoice's 5% mended to 0 does not
    outweigh a manual read perfectly and spoiled to 3% (an absolute mean would have turned the vocabulary on)."""
    domains = {GENERATOR: [invoice_line()], REAL_PDFS: [manual_line()]}
    calibration, fit = calibrate_correction(domains, LEXICON, None, Calibration())
    assert calibration.lexicon_penalty == 0.0
    assert fit[REAL_PDFS] == {"uncorrected": 0.0, "with_lexicon": 0.0, "corrected": 0.0}
    spoiled, _ = calibrate_correction({REAL_PDFS: [manual_line()]}, LEXICON, None, Calibration(lexicon_penalty=8))
    assert spoiled.lexicon_penalty == 0.0  # alone, the manual wants no vocabulary either
    on = calibrate.correction_record("cmd", 1, 1, fit)
    assert on["pdf_documents"] == [d.package for d in CALIBRATION_DOCUMENTS] and on["pdf_pages_per_document"] == 1


def test_without_the_calibration_documents_training_fits_on_generated_pages_and_says_why(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    gone = (SourceDocument("no-such-doc", Path("/nonexistent/manual.pdf"), (1,)),)
    monkeypatch.setattr(calibrate, "CALIBRATION_DOCUMENTS", gone)
    pipeline = OcrPipeline.load().uncorrected()
    told: list[str] = []
    domains = calibrate.correction_domains(pipeline, [], 2, told.append)
    assert list(domains) == [GENERATOR] and "sudo apt-get install no-such-doc" in told[0]
    with pytest.raises(MissingDocuments, match="no-such-doc"):
        calibrate.correction_domains(pipeline, [], 2)
    record = calibrate.correction_record("cmd", 1, 2, {GENERATOR: {}})
    assert record["pdf_documents"] == [] and record["pdf_pages_per_document"] == 0


def test_calibrate_refuses_a_folder_without_a_manifest(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["calibrate", "--weights-dir", str(tmp_path)])
    assert result.exit_code != 0 and MANIFEST in result.output


def test_calibrate_without_the_documents_is_a_clear_error_and_leaves_the_manifest(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    weights = tmp_path / "weights"
    shutil.copytree(WEIGHTS_DIR, weights)
    before = (weights / MANIFEST).read_text()
    gone = (SourceDocument("no-such-doc", Path("/nonexistent/manual.pdf"), (1,)),)
    monkeypatch.setattr(calibrate, "CALIBRATION_DOCUMENTS", gone)
    result = CliRunner().invoke(app, ["calibrate", "--weights-dir", str(weights), "--pages", "1"])
    assert result.exit_code == 1 and "sudo apt-get install no-such-doc" in result.output
    assert (weights / MANIFEST).read_text() == before


@pytest.mark.slow
def test_calibrate_refits_the_knobs_on_both_domains_and_records_its_command(tmp_path: Path) -> None:
    weights = tmp_path / "weights"
    shutil.copytree(WEIGHTS_DIR, weights)
    shipped = json.loads((weights / MANIFEST).read_text())
    argv = ["calibrate", "--weights-dir", str(weights), "--pages", "1", "--pdf-pages", "1", "--json"]
    result = CliRunner().invoke(app, argv)
    assert result.exit_code == 0, result.output
    manifest = json.loads((weights / MANIFEST).read_text())
    knobs = manifest["calibration"]
    assert knobs["lexicon_penalty"] in LEXICON_PENALTIES and knobs["language_weight"] in LANGUAGE_WEIGHTS
    others = {k: v for k, v in knobs.items() if k not in ("lexicon_penalty", "language_weight")}
    assert others == {k: v for k, v in shipped["calibration"].items() if k in others}  # the rest stays
    correction = manifest["calibration_fit"]["correction"]
    assert correction["command"].startswith("ocr-subnet") and correction["pages_per_source"] == 1
    assert correction["pdf_documents"] == [d.package for d in CALIBRATION_DOCUMENTS]
    stages = [correction["cer"][domain] for domain in (GENERATOR, REAL_PDFS)]
    assert all(0 < s["uncorrected"] < 0.5 for s in stages)
    assert sum(s["corrected"] / s["uncorrected"] for s in stages) <= 2  # no worse than none, by the fit's measure
    assert manifest["sha256"] == shipped["sha256"] and manifest["prior"] == shipped["prior"]
    assert json.loads(result.output)["correction"] == correction
    assert OcrPipeline.load(weights).corrector is not None
