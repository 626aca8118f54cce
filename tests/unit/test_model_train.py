"""Training plumbing: checkpoints round-trip, a config change refuses to resume, and `ocr-subnet train` end to end."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from ocr_subnet.cli import app
from ocr_subnet.model.data import DataConfig, Pools, detector_example, recognizer_examples, training_sample
from ocr_subnet.model.nets import DetectorConfig, RecognizerConfig
from ocr_subnet.model.pipeline import OcrPipeline
from ocr_subnet.model.prior import manual_record
from ocr_subnet.model.train import TrainConfig, Trainer, file_sha256, with_overrides
from typer.testing import CliRunner

TINY = TrainConfig(
    detector=DetectorConfig(widths=(4, 4, 4, 4), neck=4),
    recognizer=RecognizerConfig(widths=(4, 8, 8, 8), hidden=8),
    detector_batch=2,
    recognizer_batch=8,
    recognizer_columns=1000,
)


@pytest.fixture(scope="module")
def pools() -> Pools:
    rng = np.random.default_rng(0)
    pools = Pools(pages=4, crops=200, rng=rng)
    sample = training_sample(1, DataConfig())
    pools.add((detector_example(sample), recognizer_examples(sample, rng, DataConfig())))
    return pools


def test_train_steps_and_checkpoint_round_trip(tmp_path: Path, pools: Pools) -> None:
    trainer = Trainer(TINY, tmp_path)
    losses = [trainer.train_step(pools) for _ in range(3)]
    assert trainer.step == 3 and all(np.isfinite(list(step.values())).all() for step in losses)
    trainer.elapsed = 12.5
    trainer.save()
    restored = Trainer(TINY, tmp_path)
    restored.restore()
    assert (restored.step, restored.elapsed) == (3, 12.5)
    for a, b in zip(trainer.recognizer.state_dict().values(), restored.recognizer.state_dict().values(), strict=True):
        torch.testing.assert_close(a, b)
    restored.train_step(pools)  # optimizer state restored too: stepping on works
    other = Trainer(with_overrides(TINY, lr=1.0), tmp_path)
    with pytest.raises(ValueError, match="another configuration"):
        other.restore()


def test_progress_follows_time_or_steps(tmp_path: Path) -> None:
    trainer = Trainer(with_overrides(TINY, minutes=10.0, steps=100), tmp_path)
    trainer.elapsed, trainer.step = 300.0, 10
    assert trainer.progress() == pytest.approx(0.5)
    trainer.step = 80
    assert trainer.progress() == pytest.approx(0.8)
    assert with_overrides(TINY, lr=None).lr == TINY.lr


@pytest.mark.slow
def test_train_command_exports_loadable_weights_and_resumes(tmp_path: Path) -> None:
    out = tmp_path / "run"
    common = ["train", "--out", str(out), "--minutes", "5", "--threads", "1"]
    pages = ["--validation-pages", "1", "--final-pages", "1", "--calibration-pages", "1", "--validate-minutes", "5"]
    pages += ["--prior-pages", "2", "--calibration-pdf-pages", "0"]  # `ocr-subnet calibrate`'s test reads them
    result = CliRunner().invoke(app, [*common, "--steps", "2", *pages])
    assert result.exit_code == 0, result.output
    manifest = json.loads((out / "weights" / "manifest.json").read_text())
    assert manifest["steps"] == 2 and manifest["seed"] == 0 and manifest["command"].startswith("ocr-subnet")
    assert manifest["device"] == ("cuda" if torch.cuda.is_available() else "cpu")  # --device auto
    assert manifest["prior"]["config"]["family_pages"] == 2 and manifest["prior"]["fit"]["lexicon_words"] > 100_000
    assert manifest["training_text"] == manual_record()  # what `prose` set, from this machine's manuals
    assert set(manifest["validation"]) == {"level0", "level1", "level2", "level3", "level4", "tutorial"}
    correction = manifest["calibration_fit"]["correction"]
    assert correction["command"] == manifest["command"] and list(correction["cer"]) == ["generator"]
    for name, digest in manifest["sha256"].items():
        assert file_sha256(out / "weights" / name) == digest
    pipeline = OcrPipeline.load(out / "weights")
    assert isinstance(pipeline([np.full((100, 80), 255, np.uint8)]), list)
    result = CliRunner().invoke(app, [*common, "--steps", "3", "--resume", *pages])
    assert result.exit_code == 0, result.output
    resumed = json.loads((out / "manifest.json").read_text())
    assert resumed["steps"] == 3
    assert len(resumed["commands"]) == 2 and resumed["command"] == resumed["commands"][1]  # both invocations
    tuned = tmp_path / "tuned"
    argv = ["train", "--out", str(tuned), "--minutes", "5", "--threads", "1", "--steps", "1", *pages]
    result = CliRunner().invoke(app, [*argv, "--init-from", str(out / "weights"), "--lr", "0.0005"])
    assert result.exit_code == 0, result.output
    started = json.loads((tuned / "manifest.json").read_text())
    assert started["commands"] == [*resumed["commands"], started["command"]]  # the shipped weights' history first
    assert started["config"]["lr"] == 0.0005
    blended = tmp_path / "blended"
    argv = ["blend", "--from", str(out / "weights"), "--toward", str(tuned / "weights"), "--share", "0.25"]
    argv += ["--weights-dir", str(blended), "--threads", "1", "--final-pages", "1", "--calibration-pages", "1"]
    result = CliRunner().invoke(app, [*argv, "--prior-pages", "2", "--calibration-pdf-pages", "0"])
    assert result.exit_code == 0, result.output
    blend = json.loads((blended / "manifest.json").read_text())
    assert blend["commands"] == [*started["commands"], blend["command"]]  # both parents' history, once
    assert blend["blend"]["share"] == 0.25 and [p["command"] for p in blend["blend"]["parents"]] == [
        resumed["command"],
        started["command"],
    ]
    assert set(blend["validation"]) == set(manifest["validation"]) and "detection_quality" in blend["calibration_fit"]
    for name, digest in blend["sha256"].items():
        assert file_sha256(blended / name) == digest
    ends = [torch.jit.load(str(d / "weights" / "recognizer.pt")).state_dict() for d in (out, tuned)]
    for key, value in torch.jit.load(str(blended / "recognizer.pt")).state_dict().items():
        torch.testing.assert_close(value, torch.lerp(ends[0][key], ends[1][key], 0.25))
    assert isinstance(OcrPipeline.load(blended)([np.full((100, 80), 255, np.uint8)]), list)


def test_train_takes_a_checkpoint_or_shipped_weights_not_both(tmp_path: Path) -> None:
    argv = ["train", "--out", str(tmp_path / "run"), "--resume", "--init-from", str(tmp_path)]
    result = CliRunner().invoke(app, argv, env={"COLUMNS": "200"})
    assert result.exit_code == 2 and "one of them" in result.output
    assert not (tmp_path / "run").exists()


def test_start_from_weights_that_are_not_there_is_a_clear_error(tmp_path: Path, pools: Pools) -> None:
    with pytest.raises(ValueError, match="cannot start from the weights"):
        Trainer(TINY, tmp_path).start_from(tmp_path / "nothing", pools)


@pytest.mark.parametrize(
    ("device", "message"), [("tpu", "'tpu' is not a valid InstanceKind"), ("gpu", "sees no CUDA device")]
)
def test_train_refuses_a_device_it_cannot_use(tmp_path: Path, device: str, message: str) -> None:
    if device == "gpu" and torch.cuda.is_available():
        pytest.skip("this machine has a CUDA device: --device gpu is valid here")
    argv = ["train", "--out", str(tmp_path / "run"), "--device", device]
    result = CliRunner().invoke(app, argv, env={"COLUMNS": "200"})  # the error box does not wrap the message
    assert result.exit_code == 2 and message in result.output
    assert not (tmp_path / "run").exists()  # refused before anything was written
