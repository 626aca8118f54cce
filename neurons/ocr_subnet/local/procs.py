"""Child processes for the local subnet: start with a log file each, stop all without orphans.

Each child runs in its own session (process group), so a stop reaches whatever it started
(tesseract, uvicorn workers) and a Ctrl-C in the terminal reaches only the launcher, which then
stops the children in order. On Linux a child also receives SIGTERM if the launcher dies
without cleaning up (even SIGKILLed), via the parent-death signal, which util-linux's `setpriv`
sets just before it execs the child; `spawn` returns only once that exec happened, so the signal is
armed before anyone can kill the launcher. (Not a `preexec_fn`: that forces a plain fork(), and gRPC's
fork handlers can block a fork() forever in a process that has used a gRPC channel.)
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import httpx


def free_port(host: str = "127.0.0.1") -> int:
    """A port nobody listens on right now (the OS picks it); the caller binds it soon after."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


SETPRIV = shutil.which("setpriv") if sys.platform == "linux" else None
ARMING_BOUND_S = 5.0


def with_parent_death_signal(argv: Sequence[str]) -> list[str]:
    """`argv` run so that it gets SIGTERM when this process dies (unchanged where `setpriv` is missing)."""
    return [SETPRIV, "--pdeathsig", "TERM", "--", *argv] if SETPRIV else list(argv)


@dataclass
class Child:
    name: str
    argv: tuple[str, ...]
    log_path: Path
    process: subprocess.Popen[bytes]

    @property
    def alive(self) -> bool:
        return self.process.poll() is None

    def log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


def spawn(name: str, argv: Sequence[str], log_path: Path, env: Mapping[str, str] | None = None) -> Child:
    """Start `argv` with stdout and stderr appended to `log_path`, in a session of its own."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("ab") as log:
        process = subprocess.Popen(
            with_parent_death_signal(argv),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=dict(env) if env is not None else None,
            start_new_session=True,
        )
    if SETPRIV:
        _wait_until_armed(process, os.path.realpath(SETPRIV))
    return Child(name, tuple(argv), log_path, process)


def _wait_until_armed(process: subprocess.Popen[bytes], setpriv: str) -> None:
    """Wait while the child is still `setpriv` (its parent-death signal not yet set; a kill now would orphan it).

    Popen returns once `setpriv` is exec'd, but setpriv sets the signal a moment later, just before it execs
    the real program; on a loaded machine that moment can come after the launcher was already killed.
    """
    deadline = time.monotonic() + ARMING_BOUND_S
    while process.poll() is None and time.monotonic() < deadline:
        try:
            if os.readlink(f"/proc/{process.pid}/exe") != setpriv:
                return
        except OSError:
            return
        time.sleep(0.001)


def _signal_group(child: Child, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(child.process.pid, sig)


def stop_all(children: Sequence[Child], grace_s: float = 10.0) -> dict[str, int]:
    """SIGTERM every child's group, wait up to `grace_s`, SIGKILL what is left; their exit codes.

    Children are signalled in reverse start order (validator before miners before the chain),
    so each one can still reach what it depends on while it shuts down.
    """
    for child in reversed(children):
        if child.alive:
            _signal_group(child, signal.SIGTERM)
    deadline = time.monotonic() + grace_s
    for child in reversed(children):
        with contextlib.suppress(subprocess.TimeoutExpired):
            child.process.wait(timeout=max(0.0, deadline - time.monotonic()))
    for child in children:
        if child.alive:
            _signal_group(child, signal.SIGKILL)
    return {child.name: child.process.wait() for child in children}


def describe_exit(code: int) -> str:
    """`0`, `1`, or the signal's name: uvicorn re-raises the SIGTERM it stopped on, so -15 is a clean stop."""
    if code >= 0:
        return str(code)
    try:
        return signal.Signals(-code).name
    except ValueError:
        return str(code)


class StartupFailed(RuntimeError):
    """A child died or never became healthy; the message carries the end of its log."""


def wait_healthy(url: str, timeout_s: float, child: Child | None = None, poll_s: float = 0.2) -> None:
    """Poll `url` until it answers 200; fail fast if `child` (the process behind it) exits first."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if child is not None and not child.alive:
            raise StartupFailed(
                f"{child.name} exited with {child.process.returncode} before {url} answered; "
                f"log {child.log_path}:\n{child.log_tail()}"
            )
        if _ok(url):
            return
        time.sleep(poll_s)
    where = f"; log {child.log_path}:\n{child.log_tail()}" if child is not None else ""
    raise StartupFailed(f"{url} did not answer 200 within {timeout_s:g}s{where}")


def _ok(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2.0, trust_env=False).status_code == 200
    except httpx.HTTPError:
        return False
