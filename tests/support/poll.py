"""Bounded polling for things that happen asynchronously (controllers, scrapes): wait, never assert a duration."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def wait_until(probe: Callable[[], T], what: str, timeout_s: float = 60.0, interval_s: float = 0.25) -> T:
    """Call `probe` until it returns something truthy and return that; fail naming `what` and the last value."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s:g}s waiting for {what}; last value: {value!r}")
        time.sleep(interval_s)
