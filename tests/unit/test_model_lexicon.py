"""The open vocabulary, its nearest words, its file, the prior's fit, and loading the corrections a calibration
asks for."""

from __future__ import annotations

import gzip
import hashlib
import json
import shutil
from pathlib import Path

import pytest
from ocr_subnet.cli import app
from ocr_subnet.evaluation.real_pdfs import CALIBRATION_DOCUMENTS, DOCUMENTS
from ocr_subnet.model.geometry import Calibration
from ocr_subnet.model.language import CharNgram
from ocr_subnet.model.lexicon import Lexicon
from ocr_subnet.model.pipeline import (
    LANGUAGE_FILE,
    LEXICON_FILE,
    MANIFEST,
    WEIGHTS_DIR,
    ModelLoadError,
    load_corrector,
)
from ocr_subnet.model.prior import (
    DOCS,
    HELD_OUT,
    HELD_OUT_PACKAGES,
    general_files,
    general_lines,
    manual_files,
    normalized,
    prior_words,
)
from typer.testing import CliRunner

LATE_FEE = "Late payments incur a 1.5% monthly fee"  # a line the invoice templates repeat
LEXICON = Lexicon(["Payment", "within", "Elizabethmouth", "Joshua", "Passage", "invoice", "bill", "Bill"])


def test_the_vocabulary_is_general_english_and_fakers_names_without_template_lines() -> None:
    words = set(prior_words())
    assert {"than", "cost", "distribution", "recipient", "Elizabethmouth", "Joshua", "Suite", "MN"} <= words
    assert not {word for word in words if len(word) < 2 or not word.isalpha()}  # letters only, never a line


def test_nearest_words_stay_within_the_edit_budget() -> None:
    assert LEXICON.candidates("Paymsrt")[0] == "Payment"  # two edits on seven letters
    assert LEXICON.candidates("Eizabethmouh") == ["Elizabethmouth"]
    assert LEXICON.candidates("Jhsa") == []  # four letters: two edits at most (Joshua is three away)
    assert LEXICON.candidates("wthn") == ["within"]  # two edits on four letters
    assert LEXICON.candidates("Zzzzzzz") == []


def test_case_is_folded_and_a_correction_takes_the_misread_words_case() -> None:
    assert "Invoice" in LEXICON and "INVOICE" in LEXICON and "invoice" in LEXICON and "Invoices" not in LEXICON
    assert LEXICON.candidates("Inveice") == ["Invoice"] and LEXICON.candidates("INVOlCE") == ["INVOICE"]
    assert LEXICON.candidates("bil1") == ["bill"]  # the lower-case spelling is the word; a capital is the reading's
    assert LEXICON.candidates("PAYMEMT") == ["PAYMENT"] and LEXICON.candidates("eIizabethmouth") == [
        "Elizabethmouth"
    ]  # a name keeps its capital


def test_the_lexicon_file_round_trips(tmp_path: Path) -> None:
    LEXICON.save(tmp_path / LEXICON_FILE)
    assert Lexicon.load(tmp_path / LEXICON_FILE).words == LEXICON.words


def test_the_shipped_prior_holds_no_template_line_and_was_fitted_by_its_recorded_command() -> None:
    entries = (WEIGHTS_DIR / LEXICON_FILE).read_text().splitlines()
    assert LATE_FEE not in entries and not [entry for entry in entries if " " in entry]
    manifest = json.loads((WEIGHTS_DIR / MANIFEST).read_text())
    assert manifest["prior"]["command"].startswith("ocr-subnet fit-prior ")
    assert "recurring_lines" not in manifest["calibration_fit"]
    assert sorted(Lexicon(prior_words()).words) == entries  # the word list is refitted exactly on this machine


def test_fit_prior_is_reproducible_and_records_itself_in_the_manifest(tmp_path: Path) -> None:
    shutil.copy(WEIGHTS_DIR / MANIFEST, tmp_path / MANIFEST)
    args = ["fit-prior", "--weights-dir", str(tmp_path), "--family-pages", "2", "--general-chars", "20000", "--json"]
    first = CliRunner().invoke(app, args)
    assert first.exit_code == 0, first.output
    language = (tmp_path / LANGUAGE_FILE).read_bytes()
    second = CliRunner().invoke(app, args)
    assert second.exit_code == 0 and (tmp_path / LANGUAGE_FILE).read_bytes() == language
    manifest = json.loads((tmp_path / MANIFEST).read_text())
    assert manifest["prior"] == json.loads(first.output) == json.loads(second.output)
    assert manifest["sha256"][LANGUAGE_FILE] == hashlib.sha256(language).hexdigest()
    assert manifest["prior"]["config"]["family_pages"] == 2 and manifest["prior"]["fit"]["general_lines"] > 0
    fitted = CharNgram.load(tmp_path / LANGUAGE_FILE)
    assert fitted.log_prob("than the cost of distribution") > fitted.log_prob("Chan Le Cost o distribution")


def test_the_general_text_holds_out_the_benchmark_licence_and_the_real_pdf_packages(tmp_path: Path) -> None:
    held_out = normalized(HELD_OUT.read_text())
    quoted = tmp_path / "quoted"
    quoted.write_text("A line of our own, long enough.\n" + HELD_OUT.read_text())  # a licence quoted in a file
    assert general_lines([quoted], held_out, 10**6) == ["A line of our own, long enough"]
    assert not [p for p in general_files() if HELD_OUT_PACKAGES.search(str(p.parent.name)) or p == HELD_OUT]
    for document in (*DOCUMENTS, *CALIBRATION_DOCUMENTS):  # each PDF's package folder, as the doc tree names it
        assert HELD_OUT_PACKAGES.search(document.path.relative_to(DOCS).parts[0]), document
    assert not {d.package for d in DOCUMENTS} & {d.package for d in CALIBRATION_DOCUMENTS}
    assert len(general_lines([quoted], "", 200)) < len(general_lines([quoted], "", 10**6))  # capped in characters


def test_the_training_text_reads_gzipped_manuals_but_the_evaluated_ones_and_skips_node_headers(
    tmp_path: Path,
) -> None:
    info, licences = tmp_path / "info", tmp_path / "licences"
    info.mkdir()
    licences.mkdir()
    for name in ("coreutils.info.gz", "bzip2.info.gz", "gcrypt.info-1.gz", "mpfr.info.gz", "nettle.info.gz"):
        body = f"File: {name}, Node: Top, Next: Intro, Up: (dir)\nA sentence of {name}, to be read.\n"
        (info / name).write_bytes(gzip.compress(body.encode()))
    (info / "broken.info.gz").write_bytes(b"not gzip at all")
    (licences / "GPL-3").write_text("Everyone is permitted to copy and distribute it.\n")
    files = manual_files(info, licences)
    assert [p.name for p in files] == ["GPL-3", "broken.info.gz", "coreutils.info.gz"]
    assert general_lines(files, "", 10**6) == [
        "Everyone is permitted to copy and distribute it",
        "A sentence of coreutils.info.gz, to be read",
    ]
    evaluated = ("bzip2", "gcrypt", "mpfr", "nettle", "libtasn1", "flex", "gprolog", "fontconfig", "valgrind")
    assert not [p for p in manual_files() if p.name.split(".")[0] in evaluated]


def test_fit_prior_refuses_a_folder_without_a_manifest(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["fit-prior", "--weights-dir", str(tmp_path)])
    assert result.exit_code != 0 and "no manifest.json" in result.output
    assert not list(tmp_path.iterdir())  # nothing written


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
