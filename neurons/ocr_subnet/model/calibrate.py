"""Calibrating the corrections on both worlds a miner reads: the validator's generated pages and real documents.

The out-of-vocabulary penalty and the language model's weight (`correction`) used to be fitted on generated pages
alone, whose words are nearly all in the vocabulary; there a high penalty mends small blurred invoice text, while
on a real manual it turns the manual's own words ("Bool", "GnuTLS") into dictionary ones. So the knobs are fitted on
both: generated calibration pages, and pages of Debian PDFs (`real_pdfs.CALIBRATION_DOCUMENTS`) that the real-PDF
evaluation never reads. `ocr-subnet train` does it after training; `ocr-subnet calibrate` refits exported weights.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path

import numpy as np

from ocr_subnet.evaluation import DPIS, Variant
from ocr_subnet.evaluation.real_pdfs import CALIBRATION_DOCUMENTS, MissingDocuments, real_pages
from ocr_subnet.model.evaluate import (
    CALIBRATION_BASE,
    GENERATOR,
    REAL_PDFS,
    EvalPage,
    ScoredReading,
    calibrate_correction,
    eval_pages,
    label_scored,
    text_cer,
)
from ocr_subnet.model.orientation import light_paper
from ocr_subnet.model.pipeline import MANIFEST, OcrPipeline, Reading, load_prior


def real_pdf_readings(pipeline: OcrPipeline, per_document: int) -> list[ScoredReading]:
    """The calibration documents' first `per_document` pages at every resolution and variant, read by `pipeline`
    (uncorrected) as the miner reads a page, paper lightened first. Raises `MissingDocuments` when their Debian
    packages are not installed."""
    scored = []
    for page in real_pages(CALIBRATION_DOCUMENTS, per_document, DPIS, tuple(Variant)):
        image = light_paper(np.asarray(page.image))
        reading = pipeline.read([image])[0]
        scored.append(ScoredReading(reading, image.shape[1], image.shape[0], partial(text_cer, page.truth)))
    return scored


def correction_domains(
    pipeline: OcrPipeline,
    generated: Sequence[tuple[Reading, EvalPage]],
    pdf_pages: int,
    on_missing: Callable[[str], None] | None = None,
) -> dict[str, list[ScoredReading]]:
    """The generated pages' readings, and `pdf_pages` pages of each calibration document read by `pipeline`.
    Without the documents' packages: `MissingDocuments`, or, given `on_missing`, the generated pages alone once it
    is told why (a training machine without them still exports calibrated weights)."""
    domains = {GENERATOR: label_scored(generated)}
    if pdf_pages:
        try:
            domains[REAL_PDFS] = real_pdf_readings(pipeline, pdf_pages)
        except MissingDocuments as exc:
            if on_missing is None:
                raise
            on_missing(str(exc))
    return domains


def correction_record(
    command: str, pages_per_source: int, pdf_pages: int, fit: dict[str, dict[str, float]]
) -> dict[str, object]:
    """What the manifest keeps of a correction fit: its command, its pages, and each domain's mean CER
    uncorrected, with the lexicon, and with both corrections."""
    documents = [d.package for d in CALIBRATION_DOCUMENTS] if REAL_PDFS in fit else []
    return {
        "command": command,
        "pages_per_source": pages_per_source,
        "pdf_pages_per_document": pdf_pages if documents else 0,
        "pdf_documents": documents,
        "cer": fit,
    }


def recalibrate(weights_dir: Path, pages_per_source: int, pdf_pages: int, command: str) -> dict[str, object]:
    """Refit the correction knobs of the exported weights in `weights_dir` on both domains and record the fit
    in their manifest; the networks, the prior and every other knob stay as they are."""
    pipeline = OcrPipeline.load(weights_dir).uncorrected()
    lexicon, language = load_prior(weights_dir, "calibrating the corrections needs the exported prior")
    pages = eval_pages(CALIBRATION_BASE, pages_per_source)
    domains = correction_domains(pipeline, [(pipeline.read([p.image])[0], p) for p in pages], pdf_pages)
    calibration, fit = calibrate_correction(domains, lexicon, language, pipeline.calibration)
    path = weights_dir / MANIFEST
    manifest = json.loads(path.read_text())
    manifest["calibration"] |= {
        "lexicon_penalty": calibration.lexicon_penalty,
        "language_weight": calibration.language_weight,
    }
    manifest["calibration_fit"] = record_fit(
        manifest.get("calibration_fit", {}), correction_record(command, pages_per_source, pdf_pages, fit)
    )
    path.write_text(json.dumps(manifest, indent=2) + "\n")
    return manifest


def record_fit(fit: dict[str, object], correction: dict[str, object]) -> dict[str, object]:
    """The manifest's calibration fit with `correction` as its correction record (the flat figures that
    generated pages alone used to give are dropped)."""
    kept = {k: v for k, v in fit.items() if k not in ("cer_uncorrected", "cer_with_lexicon", "cer_corrected")}
    return kept | {"correction": correction}
