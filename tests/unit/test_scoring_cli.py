"""`ocr-subnet score LABELS PREDICTIONS [--json]`: the reward of saved files, clear errors for bad ones."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from ocr_subnet.cli import app
from ocr_subnet.metric_names import REWARD_PARTS
from ocr_subnet.protocol import OcrRequest
from ocr_subnet.scoring.cli import DEFAULT_DEADLINE_S
from typer.testing import CliRunner

LABELS = {
    "sections": [
        {"text": "INVOICE", "position": [100, 80, 260, 113], "font": {"family": "Helvetica-Bold", "size": 16}},
        {"text": "Total: $1,204.50", "position": [800, 420, 1000, 445], "font": {"family": "Helvetica", "size": 12}},
    ]
}

runner = CliRunner()


def write(tmp_path: Path, name: str, content: object) -> Path:
    path = tmp_path / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content if isinstance(content, str) else json.dumps(content))
    return path


def test_oracle_answer_scores_one_as_json(tmp_path):
    labels = write(tmp_path, "labels.json", LABELS)
    result = runner.invoke(app, ["score", str(labels), str(labels), "--json"])
    assert result.exit_code == 0, result.output
    reward = json.loads(result.stdout)
    assert set(REWARD_PARTS) <= set(reward)
    assert reward["total"] == 1.0
    assert reward["prediction"] == 1.0
    assert reward["matched"] == 2


def test_partial_answer_prints_a_table_of_the_parts(tmp_path):
    labels = write(tmp_path, "labels.json", LABELS)
    answer = write(tmp_path, "answer.json", {"sections": LABELS["sections"][:1]})
    result = runner.invoke(app, ["score", str(labels), str(answer)])
    assert result.exit_code == 0, result.output
    for part in (*REWARD_PARTS, "precision", "recall", "matched"):
        assert part in result.stdout
    # recall by the character: "INVOICE" is a template string (7 x 0.1) beside 16 characters unread
    assert f"{0.7 / 16.7:.4f}" in result.stdout


def test_latency_past_the_deadline_earns_no_time_reward(tmp_path):
    labels = write(tmp_path, "labels.json", LABELS)
    result = runner.invoke(app, ["score", str(labels), str(labels), "--json", "--latency", "13", "--deadline", "12"])
    reward = json.loads(result.stdout)
    assert reward["time"] == 0.0
    assert reward["total"] == pytest.approx(0.8)


BAD_FILES = {
    "not json": ("{not json", "Invalid JSON"),
    "json list": ("[]", "Input should be an object"),
    "missing sections": ({"items": []}, "sections: Field required"),
    "infinite coordinate": (
        '{"sections": [{"text": "x", "position": [0, 0, 1e999, 5], "font": {"family": "Helvetica", "size": 9}}]}',
        "sections.0.position.2: Input should be a finite number",
    ),
    "unordered box": (
        {"sections": [{"text": "x", "position": [9, 0, 1, 5], "font": {"family": "Helvetica", "size": 9}}]},
        "x0 < x1",
    ),
    "unknown field": (
        {"sections": [{"text": "x", "position": [0, 0, 1, 5], "font": {"family": "H", "size": 9}, "score": 1}]},
        "sections.0.score: Extra inputs are not permitted",
    ),
    "binary": (b"\xff\xfe\x00\x89PNG", "not a sections file"),
}


@pytest.mark.parametrize(("content", "message"), BAD_FILES.values(), ids=BAD_FILES.keys())
def test_invalid_files_give_a_clear_error_and_exit_non_zero(tmp_path, content, message):
    labels = write(tmp_path, "labels.json", LABELS)
    bad = write(tmp_path, "bad.json", content)
    for arguments in ([str(bad), str(labels)], [str(labels), str(bad)]):
        result = runner.invoke(app, ["score", *arguments, "--json"])
        assert result.exit_code == 2
        assert f"error: {bad}: " in result.stderr
        assert message in result.stderr
        assert "Traceback" not in result.output
        assert result.stdout == ""


def test_missing_file_and_directory_are_clear_errors(tmp_path):
    labels = write(tmp_path, "labels.json", LABELS)
    for bad in (tmp_path / "absent.json", tmp_path):
        result = runner.invoke(app, ["score", str(labels), str(bad)])
        assert result.exit_code == 2
        assert f"error: {bad}: cannot read" in result.stderr


def test_the_installed_console_script_scores(tmp_path):
    """Exactly what the acceptance checks run."""
    labels = write(tmp_path, "labels.json", LABELS)
    done = subprocess.run(
        ["ocr-subnet", "score", str(labels), str(labels), "--json"], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["total"] == 1.0
    bad = write(tmp_path, "bad.json", "[]")
    done = subprocess.run(["ocr-subnet", "score", str(labels), str(bad)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert "error:" in done.stderr


def test_the_default_deadline_is_the_protocols():
    assert OcrRequest.model_fields["deadline_s"].default == DEFAULT_DEADLINE_S
