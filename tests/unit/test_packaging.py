"""The wheel carries every file the package reads at run time, so an image built from it serves the same model."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

from ocr_subnet.model.pipeline import WEIGHTS_DIR

ROOT = Path(__file__).resolve().parents[2]


def test_the_wheel_ships_the_weights_manifest_and_lexicon(tmp_path: Path) -> None:
    source = tmp_path / "source"  # a copy: building in place would leave build/ in the checkout
    for folder in ("neurons", "operator"):
        shutil.copytree(ROOT / folder, source / folder, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    build = [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "-w", str(tmp_path)]
    subprocess.run([*build, str(source)], check=True, capture_output=True, timeout=300)
    (wheel,) = tmp_path.glob("*.whl")
    shipped = set(zipfile.ZipFile(wheel).namelist())
    wanted = {f"ocr_subnet/model/weights/{path.name}" for path in WEIGHTS_DIR.iterdir() if path.is_file()}
    assert {"ocr_subnet/model/weights/lexicon.txt", "ocr_subnet/model/weights/manifest.json"} <= wanted
    assert wanted <= shipped, wanted - shipped
