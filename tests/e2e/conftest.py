"""The kind tier: runs where Docker and kind work (scripts/kind-e2e.sh sets it up), skipped elsewhere saying why.

Tests here are marked `kind`. Without a usable engine (`docker info` answers) and a `kind` binary they are
skipped with that reason, and the reason is printed in the summary even under `-q`.
"""

from __future__ import annotations

import shutil
import subprocess
from functools import cache

import pytest


@cache
def kind_unavailable() -> str | None:
    """Why the kind tier cannot run here, or None when Docker's engine answers and kind is installed."""
    problems = []
    if shutil.which("kind") is None:
        problems.append("`kind` is not installed")
    if shutil.which("docker") is None:
        problems.append("`docker` is not installed")
    else:
        try:
            info = subprocess.run(["docker", "info"], capture_output=True, text=True, timeout=30, check=False)
            if info.returncode != 0:
                said = (info.stderr.strip().splitlines() or ["no output"])[-1]
                problems.append(f"no Docker engine (`docker info`: {said})")
        except subprocess.TimeoutExpired:
            problems.append("no Docker engine (`docker info` did not answer in 30s)")
    return "; ".join(problems) or None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    reason = None
    for item in items:
        if "kind" in item.keywords and (reason := reason or kind_unavailable()):
            item.add_marker(pytest.mark.skip(reason=f"kind tier: {reason}"), append=False)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    skipped = [r for r in terminalreporter.stats.get("skipped", []) if "kind" in r.keywords]
    if skipped:
        reason = skipped[0].longrepr[2] if isinstance(skipped[0].longrepr, tuple) else str(skipped[0].longrepr)
        reason = reason.removeprefix("Skipped: ")
        terminalreporter.write_line(f"{len(skipped)} kind test(s) skipped: {reason} (see scripts/kind-e2e.sh)")
