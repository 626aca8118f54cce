"""State persistence: round trip, atomic writes, and every bad file means "start fresh"."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from ocr_subnet.validator import state as state_module
from ocr_subnet.validator.policy import MinerScore
from ocr_subnet.validator.state import ValidatorState, load_state, save_state, state_from_json, state_to_json

HOTKEY = "5Validator"


def sample_state() -> ValidatorState:
    return ValidatorState(
        netuid=7,
        hotkey=HOTKEY,
        rounds=12,
        last_weight_block=340,
        scores={"5MinerA": MinerScore(uid=1, ema=0.42, rounds=12), "5MinerB": MinerScore(uid=2, ema=0.0)},
    )


def test_state_round_trips_through_json() -> None:
    original = sample_state()
    raw = state_to_json(original)
    assert json.loads(raw)["format"] == "ocr-subnet-validator-state"
    assert state_from_json(raw) == original


def test_save_then_load(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "state.json"
    save_state(path, sample_state())
    loaded, problem = load_state(path, netuid=7, hotkey=HOTKEY)
    assert problem is None
    assert loaded == sample_state()
    assert [p.name for p in path.parent.iterdir()] == ["state.json"]  # no temp file left behind


def test_missing_file_starts_fresh_with_a_reason(tmp_path: Path) -> None:
    loaded, problem = load_state(tmp_path / "absent.json", netuid=7, hotkey=HOTKEY)
    assert loaded == ValidatorState(netuid=7, hotkey=HOTKEY)
    assert problem is not None and "no state file" in problem


@pytest.mark.parametrize("keep", [0.0, 0.01, 0.5, 0.99])
def test_truncated_file_starts_fresh(tmp_path: Path, keep: float) -> None:
    raw = state_to_json(sample_state())
    path = tmp_path / "state.json"
    path.write_bytes(raw[: int(keep * len(raw))])
    loaded, problem = load_state(path, netuid=7, hotkey=HOTKEY)
    assert loaded == ValidatorState(netuid=7, hotkey=HOTKEY)
    assert problem is not None and "corrupt or truncated" in problem


@pytest.mark.parametrize(
    "content",
    [
        b"\x00\xff\xfe garbage",
        b"[]",
        b'{"format": "pickle"}',
        json.dumps({**json.loads(state_to_json(sample_state())), "version": 99}).encode(),
        state_to_json(sample_state()).replace(b"0.42", b"NaN"),
        state_to_json(sample_state()).replace(b"0.42", b"4.2"),
    ],
)
def test_corrupt_or_foreign_content_starts_fresh(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "state.json"
    path.write_bytes(content)
    loaded, problem = load_state(path, netuid=7, hotkey=HOTKEY)
    assert loaded.scores == {}
    assert problem is not None


def test_state_of_another_validator_or_subnet_is_not_used(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    save_state(path, sample_state())
    for netuid, hotkey in [(8, HOTKEY), (7, "5Other")]:
        loaded, problem = load_state(path, netuid=netuid, hotkey=hotkey)
        assert loaded == ValidatorState(netuid=netuid, hotkey=hotkey)
        assert problem is not None and "belongs to" in problem


def test_a_crash_mid_write_keeps_the_previous_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "state.json"
    save_state(path, sample_state())

    def crash(_fd: int) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(state_module.os, "fsync", crash)
    newer = sample_state().model_copy(update={"rounds": 13})
    with pytest.raises(OSError, match="disk full"):
        save_state(path, newer)
    monkeypatch.undo()
    loaded, problem = load_state(path, netuid=7, hotkey=HOTKEY)
    assert problem is None
    assert loaded.rounds == 12
    assert sorted(os.listdir(tmp_path)) == ["state.json"]
