"""Document families: what kind of page a seed draws, and the mix the validator draws from.

One place for the protocol's families: `FAMILIES` names them, `DEFAULT_MIX` is what the validator
and `ocr-subnet challenge` draw from unless told otherwise (`--family`, the Validator resource's
`spec.challenge.families`). "invoice" is the tutorial-compatible invoice, the named task to compare
with the tutorial; "letter" (letters and prose pages), "receipt", "columns" (multi-column pages),
"table" (table pages), "form" (filled-in forms) and "invoice-layout" (procedurally arranged
invoices) draw open vocabulary in the published faces
(`fonts.PUBLISHED_FAMILIES`). Imports nothing heavy: the operator reads it for the CRD.
"""

from __future__ import annotations

from collections.abc import Sequence

FAMILIES: tuple[str, ...] = ("invoice", "letter", "receipt", "columns", "table", "form", "invoice-layout")
DEFAULT_MIX: tuple[str, ...] = tuple(FAMILIES)
OPEN_FAMILIES: tuple[str, ...] = tuple(f for f in FAMILIES if f != "invoice")  # open vocabulary, published faces


def check_families(names: Sequence[str]) -> tuple[str, ...]:
    """The names as a mix (duplicates dropped, order kept), or a ValueError naming the unknown ones."""
    unknown = [name for name in names if name not in FAMILIES]
    if unknown:
        raise ValueError(f"unknown document families {unknown}; known: {', '.join(FAMILIES)}")
    if not names:
        raise ValueError(f"at least one document family is needed; known: {', '.join(FAMILIES)}")
    return tuple(dict.fromkeys(names))
