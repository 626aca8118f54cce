"""The real-PDF set in a model's validation: `ocr-subnet train` reads it with the weights it has just exported
and records the figures in their manifest, beside the generator's held-out pages, so every shipped model says
how it reads pages no generator drew."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

from ocr_subnet.evaluation import DPIS, EngineName, Variant
from ocr_subnet.evaluation.real_pdfs import (
    DOCUMENTS,
    MissingDocuments,
    PageResult,
    SourceDocument,
    check_installed,
    summary_rows,
)
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
    return figures(
        per_document, documents, evaluate(documents, per_document, {EngineName.MODEL: engine}, dpis, variants)
    )


def figures(per_document: int, documents: Sequence[SourceDocument], results: Sequence[PageResult]) -> dict[str, object]:
    """What the manifest keeps of a run: the documents, pages per document and the model's summary rows."""
    rows = summary_rows([r for r in results if r.engine == EngineName.MODEL])
    return {"pages_per_document": per_document, "documents": [d.package for d in documents], "rows": rows}


def record_results(
    weights_dir: Path,
    command: str,
    per_document: int,
    documents: Sequence[SourceDocument],
    results: Sequence[PageResult],
    manifest_name: str,
) -> dict[str, object]:
    """`ocr-subnet eval real-pdfs --record`: the run's model figures, with its command, into the manifest."""
    return record(weights_dir, {"command": command, **figures(per_document, documents, results)}, manifest_name)


def record(weights_dir: Path, validation: dict[str, object], manifest_name: str) -> dict[str, object]:
    """Write `validation` into the weights' manifest (`manifest_name`) under `MANIFEST_KEY`; nothing else in it
    changes."""
    path = weights_dir / manifest_name
    manifest = json.loads(path.read_text())
    manifest[MANIFEST_KEY] = validation
    path.write_text(json.dumps(manifest, indent=2) + "\n")
    return manifest
