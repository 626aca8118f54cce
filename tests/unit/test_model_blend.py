"""Blending two exported fine-tunes: parameter by parameter, and only of one network."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from ocr_subnet.cli import app
from ocr_subnet.model.blend import BlendError, blend_networks, blend_states, joined_history
from ocr_subnet.model.nets import Detector, DetectorConfig, Recognizer, RecognizerConfig, exportable
from ocr_subnet.model.pipeline import DETECTOR_FILE, MANIFEST, RECOGNIZER_FILE
from typer.testing import CliRunner

SMALL_DETECTOR = DetectorConfig(widths=(4, 4, 4, 4), neck=4)
SMALL_RECOGNIZER = RecognizerConfig(widths=(4, 8, 8, 8), hidden=8)


def test_a_blend_interpolates_each_parameter_and_keeps_counters() -> None:
    first = {"w": torch.zeros(2, 3), "b": torch.tensor([1.0, 3.0]), "n": torch.tensor(7)}
    second = {"w": torch.ones(2, 3), "b": torch.tensor([3.0, 5.0]), "n": torch.tensor(7)}
    quarter = blend_states(first, second, 0.25)
    torch.testing.assert_close(quarter["w"], torch.full((2, 3), 0.25))
    torch.testing.assert_close(quarter["b"], torch.tensor([1.5, 3.5]))
    assert quarter["n"].item() == 7 and quarter["n"].dtype == torch.int64
    for share, ends in ((0.0, first), (1.0, second)):
        for key, value in blend_states(first, second, share).items():
            torch.testing.assert_close(value, ends[key])
    half = blend_states({"h": torch.zeros(2, dtype=torch.float16)}, {"h": torch.ones(2, dtype=torch.float16)}, 0.5)
    assert half["h"].dtype == torch.float16 and half["h"].tolist() == [0.5, 0.5]


@pytest.mark.parametrize(
    ("second", "share", "message"),
    [
        ({"w": torch.ones(2, 3)}, 0.5, "different tensors"),
        (
            {"w": torch.ones(2, 3), "b": torch.ones(3), "n": torch.tensor(7)},
            0.5,
            r"b is \(2,\) in one and \(3,\) in the other",
        ),
        ({"w": torch.ones(2, 3), "b": torch.ones(2), "n": torch.tensor(8)}, 0.5, "n differs"),
        ({"w": torch.ones(2, 3), "b": torch.ones(2), "n": torch.tensor(7)}, 1.5, "within 0..1"),
    ],
)
def test_weights_of_two_networks_are_not_blended(second: dict[str, torch.Tensor], share: float, message: str) -> None:
    first = {"w": torch.zeros(2, 3), "b": torch.zeros(2), "n": torch.tensor(7)}
    with pytest.raises(BlendError, match=message):
        blend_states(first, second, share)


def export_pair(directory: Path, seed: int, recognizer: RecognizerConfig = SMALL_RECOGNIZER) -> Path:
    torch.manual_seed(seed)
    directory.mkdir()
    for model, name in ((Detector(SMALL_DETECTOR), DETECTOR_FILE), (Recognizer(recognizer), RECOGNIZER_FILE)):
        torch.jit.save(exportable(model), str(directory / name))
    (directory / MANIFEST).write_text(json.dumps({"command": f"train {seed}", "commands": [f"train {seed}"]}))
    return directory


def test_blended_networks_hold_the_mean_and_read_crops(tmp_path: Path) -> None:
    first, second = export_pair(tmp_path / "a", 1), export_pair(tmp_path / "b", 2)
    blended = blend_networks(first, second, 0.5)
    for name, module in blended.items():
        a, b = (torch.jit.load(str(d / name)).state_dict() for d in (first, second))
        for key, value in module.state_dict().items():
            torch.testing.assert_close(value, (a[key] + b[key]) / 2)
    crops, widths = torch.rand(2, 1, 32, 64), torch.tensor([64, 40])
    logits, families = blended[RECOGNIZER_FILE](crops, widths)
    assert torch.isfinite(logits).all() and families.shape[0] == 2


def test_blend_command_refuses_two_networks_and_missing_weights(tmp_path: Path) -> None:
    first = export_pair(tmp_path / "a", 1)
    other = export_pair(tmp_path / "b", 2, RecognizerConfig(widths=(4, 8, 8, 16), hidden=8))
    for toward, message in ((other, "not one network"), (tmp_path / "none", "cannot read the manifest")):
        argv = ["blend", "--from", str(first), "--toward", str(toward), "--weights-dir", str(tmp_path / "out")]
        result = CliRunner().invoke(app, argv, env={"COLUMNS": "200"})
        assert result.exit_code == 1 and message in result.output, result.output
        assert not (tmp_path / "out").exists()  # nothing written


@pytest.mark.parametrize(
    ("first", "second", "joined"),
    [
        (["a", "b"], ["a", "b", "c"], ["a", "b", "c"]),  # the second fine-tuned from the first
        (["a", "b", "c"], ["a", "b"], ["a", "b", "c"]),
        (["a", "b"], ["a", "c"], ["a", "b", "c"]),  # both from "a"
        (["r", "r"], ["r", "r", "r", "t"], ["r", "r", "r", "t"]),  # a resumed run's command recurs
        (["a"], ["b"], ["a", "b"]),
    ],
)
def test_a_blend_records_both_histories_and_what_they_share_once(
    first: list[str], second: list[str], joined: list[str]
) -> None:
    assert joined_history(first, second) == joined
