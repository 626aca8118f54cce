"""The packages' layering: the operator builds on the subnet's contracts (metric names, challenge families, log
events), never the other way round. Only `ocr-subnet`'s command line, which gathers every part's commands,
sees both."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
NEURONS = ROOT / "neurons" / "ocr_subnet"
COMPOSITION_ROOT = NEURONS / "cli.py"


def imported_packages(path: Path) -> set[str]:
    """Top-level package names a module imports, wherever in the module (lazy imports count)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module.split(".")[0])
    return found


def test_imported_packages_sees_lazy_imports(tmp_path: Path) -> None:
    module = tmp_path / "m.py"
    module.write_text("import os.path\n\ndef f():\n    from subnet_operator.api import X\n    from . import y\n")
    assert imported_packages(module) == {"os", "subnet_operator"}


def test_the_subnet_never_imports_the_operator() -> None:
    offenders = [
        str(path.relative_to(ROOT))
        for path in sorted(NEURONS.rglob("*.py"))
        if path != COMPOSITION_ROOT and "subnet_operator" in imported_packages(path)
    ]
    assert offenders == []
