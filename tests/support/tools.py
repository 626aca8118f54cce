"""The Debian tools tests rely on. `make test` installs them, so a missing one is a failure, not a skip."""

from __future__ import annotations

import shutil
import subprocess

import pytest


def require_tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.fail(f"{name} is not installed; run `make setup` (scripts/setup.sh installs it)")
    return path


def assert_promtool_accepts_metrics(exposition: str | bytes) -> None:
    data = exposition.encode() if isinstance(exposition, str) else exposition
    checked = subprocess.run(
        [require_tool("promtool"), "check", "metrics"], input=data, capture_output=True, timeout=60, check=False
    )
    assert checked.returncode == 0, (checked.stdout + checked.stderr).decode()
