"""`ocr-subnet local up`: one command brings up a working subnet and takes all of it down again."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
from ocr_subnet.local.up import ocr_subnet_command
from ocr_subnet.miner.run import default_backend
from ocr_subnet.validator.state import state_from_json

pytestmark = [
    pytest.mark.integration,
    pytest.mark.slow,
]

BOUND_S = 240.0  # upper bound on any wait below; polled, never slept through


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def processes(home: Path) -> dict[str, int]:
    (run_dir,) = (home / "runs").iterdir()
    listing = json.loads((run_dir / "processes.json").read_text())
    return {name: entry["pid"] for name, entry in listing.items()}


def test_local_up_for_a_duration_prints_a_table_of_scored_miners(tmp_path: Path) -> None:
    home = tmp_path / "home"
    done = subprocess.run(
        [*ocr_subnet_command(), "local", "up", "--duration", "40", "--json", "--home", str(home)],
        capture_output=True,
        text=True,
        timeout=BOUND_S,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    table = json.loads(done.stdout)
    assert len(table["miners"]) == 3
    for miner in table["miners"]:
        assert miner["backend"] == default_backend()
        assert isinstance(miner["ema"], float) and 0.0 <= miner["ema"] <= 1.0, miner
        assert miner["uid"] >= 0
    assert table["validator"]["stake"] > 0
    assert table["validator_rounds"] >= 1
    assert {miner["hotkey"] for miner in table["miners"]}.isdisjoint({table["validator"]["hotkey"]})
    assert (home / "wallets" / "local-validator").is_dir()
    assert not any(alive(pid) for pid in processes(home).values())


def test_ctrl_c_stops_every_process(tmp_path: Path) -> None:
    home = tmp_path / "home"
    launcher = subprocess.Popen(
        [*ocr_subnet_command(), "local", "up", "--miners", "1", "--json", "--home", str(home)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=tmp_path,
    )
    try:
        deadline = time.monotonic() + BOUND_S
        while time.monotonic() < deadline and launcher.poll() is None:
            states = list((home / "runs").glob("*/validator/state.json"))
            if states and state_from_json(states[0].read_bytes()).rounds >= 1:
                break
            time.sleep(0.5)
        assert launcher.poll() is None, launcher.communicate()[1][-3000:]
        pids = processes(home)
        assert set(pids) == {"chain", "miner-0", "validator"} | ({"triton"} if default_backend() == "triton" else set())
        assert all(alive(pid) for pid in pids.values())
        launcher.send_signal(signal.SIGINT)
        stdout, stderr = launcher.communicate(timeout=BOUND_S)
    finally:
        if launcher.poll() is None:
            launcher.kill()
            launcher.wait()
    assert launcher.returncode == 0, stderr[-3000:]
    assert len(json.loads(stdout)["miners"]) == 1
    assert not any(alive(pid) for pid in pids.values())


def test_a_neuron_that_cannot_start_fails_the_launch_and_leaves_nothing_behind(tmp_path: Path) -> None:
    home = tmp_path / "home"
    done = subprocess.run(
        [*ocr_subnet_command(), "local", "up", "--backend", "no-such-engine", "--json", "--home", str(home)],
        capture_output=True,
        text=True,
        timeout=BOUND_S,
        cwd=tmp_path,
    )
    assert done.returncode == 1
    assert "miner-0 exited" in done.stderr and "no-such-engine" in done.stderr
    assert json.loads(done.stdout)["miners"] == []
    assert not any(alive(pid) for pid in processes(home).values())
