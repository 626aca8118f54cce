"""The real-PDF set in a model's validation: `ocr-subnet train` reads it with the weights it has just exported
and records the figures in their manifest, beside the generator's held-out pages, so every shipped model says
how it reads pages no generator drew."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

from ocr_subnet.evaluation import DPIS, EngineName, Variant
from ocr_subnet.evaluation.real_pdfs import DOCUMENTS, MissingDocuments, SourceDocument, check_installed, summary_rows
from ocr_subnet.evaluation.run import Engine, evaluate

MANIFEST_KEY = "real_pdfs"


def model_validation(
    engine: Engine,
    per_document: int,
    documents: Sequence[SourceDocument] = DOCUMENTS,
    dpis: Sequence[int] = DPIS,
    variants: Sequence[Variant] = tuple(Variant),
) -> dict[str, object]:
    """The model's summary rows over the first `per_document` pages of each document, or why it was skipped
    (a training machine without the Debian packages still exports its weights)."""
    try:
        check_installed(documents)
    except MissingDocuments as exc:
        return {"skipped": str(exc)}
    results = evaluate(documents, per_document, {EngineName.MODEL: engine}, dpis, variants)
    return {
        "pages_per_document": per_document,
        "documents": [d.package for d in documents],
        "rows": summary_rows(results),
    }


def record(weights_dir: Path, validation: dict[str, object], manifest_name: str) -> dict[str, object]:
    """Write `validation` into the weights' manifest (`manifest_name`) under `MANIFEST_KEY`; nothing else in it
    changes."""
    path = weights_dir / manifest_name
    manifest = json.loads(path.read_text())
    manifest[MANIFEST_KEY] = validation
    path.write_text(json.dumps(manifest, indent=2) + "\n")
    return manifest
