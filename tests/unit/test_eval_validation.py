"""The real-PDF set in a model's validation: read with exported weights, recorded in their manifest."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from ocr_subnet.cli import app
from ocr_subnet.evaluation import EngineName, Variant
from ocr_subnet.evaluation.real_pdfs import DOCUMENTS, SourceDocument, select
from ocr_subnet.evaluation.run import load_engine
from ocr_subnet.evaluation.validation import MANIFEST_KEY, model_validation, record
from ocr_subnet.model.pipeline import MANIFEST, WEIGHTS_DIR
from ocr_subnet.sections import Section
from typer.testing import CliRunner


def test_the_packaged_model_reads_a_real_page_into_summary_rows() -> None:
    engine = load_engine(EngineName.MODEL, 2)
    figures = model_validation(engine, 1, select(DOCUMENTS, ["bzip2-doc"]), (150,), (Variant.CLEAN,))
    (row,) = figures["rows"]
    assert figures["documents"] == ["bzip2-doc"] and figures["pages_per_document"] == 1
    assert (row["engine"], row["dpi"], row["variant"], row["pages"]) == ("model", 150, "clean", 1)
    assert 0.0 <= row["cer"] < 0.5 and row["word_accuracy"] > 0.3  # it reads the page, if not yet well


def test_a_machine_without_the_documents_skips_and_says_what_to_install() -> None:
    absent = (SourceDocument("no-such-doc", Path("/nonexistent/manual.pdf"), (1,)),)
    figures = model_validation(lambda image: [], 1, absent)
    assert set(figures) == {"skipped"} and "apt-get install no-such-doc" in figures["skipped"]


def test_record_writes_the_figures_and_keeps_the_rest_of_the_manifest(tmp_path: Path) -> None:
    manifest = {"command": "ocr-subnet train", "sha256": {"detector.pt": "ab"}, MANIFEST_KEY: {"old": True}}
    (tmp_path / MANIFEST).write_text(json.dumps(manifest))
    figures = {"pages_per_document": 1, "rows": [{"engine": "model", "cer": 0.05}]}
    written = record(tmp_path, figures, MANIFEST)
    assert json.loads((tmp_path / MANIFEST).read_text()) == written == {**manifest, MANIFEST_KEY: figures}


def test_an_engine_that_reads_nothing_scores_the_whole_page_wrong() -> None:
    blank: list[Section] = []
    figures = model_validation(lambda image: blank, 1, select(DOCUMENTS, ["fontconfig"]), (150,), (Variant.CLEAN,))
    (row,) = figures["rows"]
    assert row["cer"] == 1.0 and row["word_accuracy"] == 0.0


def test_cli_records_the_models_figures_in_its_manifest(tmp_path: Path) -> None:
    weights = tmp_path / "weights"
    shutil.copytree(WEIGHTS_DIR, weights)
    before = json.loads((weights / MANIFEST).read_text())
    arguments = ["--engine", "model", "--engine", "tesseract", "--dpi", "150", "--variant", "clean", "--pages", "1"]
    arguments += ["--document", "fontconfig", "--weights-dir", str(weights), "--record"]
    result = CliRunner().invoke(app, ["eval", "real-pdfs", *arguments])
    assert result.exit_code == 0, result.output
    after = json.loads((weights / MANIFEST).read_text())
    recorded = after.pop(MANIFEST_KEY)
    assert after == {k: v for k, v in before.items() if k != MANIFEST_KEY}  # nothing else changed
    assert recorded["documents"] == ["fontconfig"] and recorded["command"].startswith("ocr-subnet")
    assert [row["engine"] for row in recorded["rows"]] == ["model"]  # tesseract's figures stay out of it


def test_cli_record_needs_the_model_engine(tmp_path: Path) -> None:
    arguments = ["eval", "real-pdfs", "--engine", "tesseract", "--weights-dir", str(tmp_path), "--record"]
    result = CliRunner().invoke(app, arguments, env={"COLUMNS": "200"})
    assert result.exit_code == 2 and "run the model engine too" in result.output
