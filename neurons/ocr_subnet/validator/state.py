"""The validator's persistent state: JSON on disk, written atomically, never trusted blindly.

A validator restarts often (deploys, evictions, crashes). It must keep its EMAs across restarts,
must never lose them to a crash mid-write, and must never refuse to start because of a bad file:
a missing, truncated or foreign file means "start fresh", with the reason logged.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ocr_subnet.validator.policy import MinerScore

STATE_FORMAT = "ocr-subnet-validator-state"
STATE_VERSION = 1


class ValidatorState(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    format: Literal["ocr-subnet-validator-state"] = STATE_FORMAT
    version: Literal[1] = STATE_VERSION
    netuid: int = Field(ge=0)
    hotkey: str
    rounds: int = Field(default=0, ge=0)
    last_weight_block: int | None = Field(default=None, ge=0)
    scores: dict[str, MinerScore] = Field(default_factory=dict)


def state_to_json(state: ValidatorState) -> bytes:
    return state.model_dump_json(indent=2).encode()


def state_from_json(raw: bytes | str) -> ValidatorState:
    """Parse and validate; raises `ValueError` (pydantic's `ValidationError`) on anything off."""
    return ValidatorState.model_validate_json(raw)


def save_state(path: Path, state: ValidatorState) -> None:
    write_atomically(path, state_to_json(state))


def write_atomically(path: Path, data: bytes) -> None:
    """Write a temp file beside the target, fsync it, rename over the target, fsync the folder.

    A crash at any point leaves either the old file or the new one, never a torn one.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp_name, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp_name)
        raise
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def load_state(path: Path, *, netuid: int, hotkey: str) -> tuple[ValidatorState, str | None]:
    """The saved state, or a fresh one plus the reason it could not be used (for a warning)."""
    fresh = ValidatorState(netuid=netuid, hotkey=hotkey)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return fresh, f"no state file at {path}; starting fresh"
    except OSError as exc:
        return fresh, f"state file {path} is unreadable ({exc}); starting fresh"
    try:
        state = state_from_json(raw)
    except (ValidationError, ValueError) as exc:
        first = str(exc).splitlines()[0]
        return fresh, f"state file {path} is corrupt or truncated ({first}); starting fresh"
    if state.netuid != netuid or state.hotkey != hotkey:
        return fresh, (
            f"state file {path} belongs to netuid {state.netuid} hotkey {state.hotkey}, "
            f"not netuid {netuid} hotkey {hotkey}; starting fresh"
        )
    return state, None
