"""`ocr-subnet challenge` writes the exact miner bytes and DESIGN.md-format labels."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
from ocr_subnet.challenge.families import DEFAULT_MIX
from ocr_subnet.challenge.generate import derive_seeds, generate_challenge
from ocr_subnet.cli import app
from ocr_subnet.protocol import OcrResponse
from PIL import Image
from typer.testing import CliRunner


def run(*args: str) -> str:
    result = CliRunner().invoke(app, ["challenge", *args])
    assert result.exit_code == 0, result.output
    return result.output


def test_writes_images_and_labels_for_each_derived_seed(tmp_path: Path) -> None:
    output = run("--seed", "3", "--difficulty", "1", "--count", "2", "--out", str(tmp_path / "batch"))
    assert "seed 3" in output
    expected = [generate_challenge(seed, 1, DEFAULT_MIX) for seed in derive_seeds(3, 2)]  # the validator's mix
    written = sorted(p.name for p in (tmp_path / "batch").iterdir())
    assert written == sorted(name for c in expected for name in (f"{c.id}.jpg", f"{c.id}.json"))
    for challenge in expected:
        assert (tmp_path / "batch" / f"{challenge.id}.jpg").read_bytes() == challenge.image
        raw = (tmp_path / "batch" / f"{challenge.id}.json").read_text()
        assert set(json.loads(raw)) == {"sections"}
        assert tuple(OcrResponse.model_validate_json(raw).sections) == challenge.sections
        assert json.loads(raw)["sections"][0] == challenge.sections[0].model_dump(mode="json")


def test_level_0_writes_png_and_overlay_draws_the_boxes(tmp_path: Path) -> None:
    run("--seed", "9", "--difficulty", "0", "--count", "1", "--family", "invoice", "--out", str(tmp_path), "--overlay")
    (challenge,) = [generate_challenge(seed, 0) for seed in derive_seeds(9, 1)]
    assert (tmp_path / f"{challenge.id}.png").read_bytes() == challenge.image
    overlay = np.asarray(Image.open(tmp_path / f"{challenge.id}.overlay.png").convert("RGB")).astype(int)
    assert overlay.shape == (challenge.height, challenge.width, 3)
    red = (overlay[..., 0] > 200) & (overlay[..., 1] < 60) & (overlay[..., 2] < 60)
    x0, y0, x1, y1 = (round(v) for v in challenge.sections[0].position)
    assert red[y0 : y1 + 1, x0].mean() > 0.8  # the first box's left edge is outlined
    assert not red[(y0 + y1) // 2, x0 + 3 : x1 - 3].all()  # and its inside is not painted over
    clean = np.asarray(Image.open(io.BytesIO(challenge.image)))
    assert clean.ndim == 2  # the miner's image itself carries no overlay


def test_same_batch_seed_writes_the_same_files(tmp_path: Path) -> None:
    run("--seed", "5", "--count", "2", "--out", str(tmp_path / "a"))
    run("--seed", "5", "--count", "2", "--out", str(tmp_path / "b"))
    for path in (tmp_path / "a").iterdir():
        assert (tmp_path / "b" / path.name).read_bytes() == path.read_bytes()


def test_bad_arguments_are_refused() -> None:
    result = CliRunner().invoke(app, ["challenge", "--difficulty", "7", "--out", "unused"])
    assert result.exit_code != 0
    assert "difficulty" in result.output


def test_family_narrows_the_mix(tmp_path: Path) -> None:
    run("--seed", "4", "--count", "6", "--family", "receipt", "--family", "letter", "--out", str(tmp_path))
    expected = [generate_challenge(seed, 1, ("receipt", "letter")) for seed in derive_seeds(4, 6)]
    assert {c.family for c in expected} <= {"receipt", "letter"}
    for challenge in expected:
        assert (tmp_path / f"{challenge.id}.jpg").read_bytes() == challenge.image


def test_an_unknown_family_is_refused_with_the_known_ones() -> None:
    result = CliRunner().invoke(app, ["challenge", "--family", "poem", "--out", "unused"])
    assert result.exit_code == 2
    assert "poem" in result.output and "receipt" in result.output
