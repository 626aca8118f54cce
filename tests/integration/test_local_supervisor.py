"""The launcher's parts: the status table (pure) and the process supervisor (real processes)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from ocr_subnet.chain.port import AxonInfo, Metagraph, NeuronInfo
from ocr_subnet.local.procs import StartupFailed, describe_exit, spawn, stop_all, wait_healthy
from ocr_subnet.local.table import build_snapshot, render, to_json
from ocr_subnet.validator.policy import MinerScore
from ocr_subnet.validator.state import ValidatorState
from rich.console import Console

BOUND_S = 30.0
ROLES = {"5Val": ("validator", "-"), "5MinerB": ("miner", "tesseract"), "5MinerA": ("miner", "tesseract")}


def metagraph() -> Metagraph:
    axon = AxonInfo("127.0.0.1", 9000)
    return Metagraph(
        netuid=1,
        block=42,
        neurons=(
            NeuronInfo(0, "5Val", "c", 1000.0, True, None, 30),
            NeuronInfo(1, "5MinerA", "c", 0.0, False, axon, 2, incentive=0.75),
            NeuronInfo(2, "5MinerB", "c", 0.0, False, axon, 2, incentive=0.25),
        ),
    )


def test_snapshot_rows_put_the_validator_first_and_show_only_what_is_known() -> None:
    state = ValidatorState(
        netuid=1,
        hotkey="5Val",
        rounds=5,
        last_weight_block=30,
        scores={"5MinerA": MinerScore(uid=1, ema=0.6, rounds=5)},
    )
    snapshot = build_snapshot(metagraph(), state, ROLES, chain_ok=True)
    assert [(r.uid, r.role) for r in snapshot.rows] == [(0, "validator"), (1, "miner"), (2, "miner")]
    validator, a, b = snapshot.rows
    assert (validator.last_weights_block, validator.ema, validator.stake) == (30, None, 1000.0)
    assert (a.ema, a.incentive, a.last_weights_block) == (0.6, 0.75, None)
    assert b.ema is None  # not scored yet
    document = to_json(snapshot, {"netuid": 1})
    assert document["block"] == 42 and document["last_weights_block"] == 30 and document["validator_rounds"] == 5
    assert [m["hotkey"] for m in document["miners"]] == ["5MinerA", "5MinerB"]


def test_snapshot_before_the_chain_or_the_validator_answered() -> None:
    snapshot = build_snapshot(None, None, ROLES, chain_ok=False)
    assert {r.uid for r in snapshot.rows} == {-1}
    assert to_json(snapshot, {})["block"] is None
    console = Console(record=True, width=160)
    console.print(render(snapshot, "title"))
    assert "chain unreachable" in console.export_text()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def _poll(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + BOUND_S
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    pytest.fail(f"timed out waiting for {what}")


@pytest.mark.integration
def test_stop_all_terminates_then_kills_what_ignores_sigterm(tmp_path: Path) -> None:
    polite = spawn("polite", [sys.executable, "-c", "import time; time.sleep(600)"], tmp_path / "polite.log")
    stubborn_code = (
        "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); print('ready', flush=True); "
        "time.sleep(600)"
    )
    stubborn = spawn("stubborn", [sys.executable, "-c", stubborn_code], tmp_path / "stubborn.log")
    _poll(lambda: "ready" in stubborn.log_path.read_text(), "the stubborn child to ignore SIGTERM")
    codes = stop_all([polite, stubborn], grace_s=0.5)
    assert codes == {"polite": -signal.SIGTERM, "stubborn": -signal.SIGKILL}
    assert [describe_exit(code) for code in (*codes.values(), 0, 3)] == ["SIGTERM", "SIGKILL", "0", "3"]


@pytest.mark.integration
def test_stop_all_reaches_grandchildren(tmp_path: Path) -> None:
    code = "import subprocess, time; p = subprocess.Popen(['sleep', '600']); print(p.pid, flush=True); "
    code += "time.sleep(600)"
    parent = spawn("parent", [sys.executable, "-c", code], tmp_path / "parent.log")
    _poll(lambda: parent.log_path.read_text().strip().isdigit(), "the grandchild's pid")
    grandchild = int(parent.log_path.read_text().strip())
    stop_all([parent], grace_s=5)
    _poll(lambda: not _alive(grandchild), "the grandchild to exit")


@pytest.mark.integration
@pytest.mark.skipif(sys.platform != "linux", reason="the parent-death signal is Linux only")
def test_children_die_with_a_launcher_that_was_killed_outright(tmp_path: Path) -> None:
    launcher_code = textwrap.dedent(
        f"""
        import sys, time
        from pathlib import Path
        from ocr_subnet.local.procs import spawn
        argv = [sys.executable, "-c", "import time; time.sleep(600)"]
        child = spawn("sleeper", argv, Path({str(tmp_path)!r}) / "c.log")
        print(child.process.pid, flush=True)
        time.sleep(600)
        """
    )
    launcher = subprocess.Popen([sys.executable, "-c", launcher_code], stdout=subprocess.PIPE, text=True)
    assert launcher.stdout is not None
    child_pid = int(launcher.stdout.readline())
    assert _alive(child_pid)
    launcher.kill()
    launcher.wait()
    _poll(lambda: not _alive(child_pid), "the orphan to receive its parent-death signal")


@pytest.mark.integration
def test_wait_healthy_reports_a_child_that_died_with_its_log(tmp_path: Path) -> None:
    child = spawn("broken", [sys.executable, "-c", "raise SystemExit('boom: bad flag')"], tmp_path / "b.log")
    with pytest.raises(StartupFailed, match="boom: bad flag"):
        wait_healthy("http://127.0.0.1:9/healthz", BOUND_S, child)
