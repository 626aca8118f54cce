"""Bounded concurrency with a stake-ordered waiting room.

The OCR engine can only do a few pages at once; when every slot is busy the caller with the most
stake goes next (validators with more stake weigh more in consensus), and past `max_waiting` a
request is turned away at once instead of piling up. Runs on one event loop; no locks needed.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools

from ocr_subnet.miner.policy import priority_key


class GateFull(Exception):
    """Every slot is busy and the waiting room is full, or the wait outlived the caller's budget."""


class PriorityGate:
    def __init__(self, slots: int, max_waiting: int) -> None:
        if slots < 1 or max_waiting < 0:
            raise ValueError(f"need slots >= 1 and max_waiting >= 0, got {slots} and {max_waiting}")
        self.slots = slots
        self.max_waiting = max_waiting
        self._free = slots
        self._waiting: list[tuple[tuple[float, int], asyncio.Future[None]]] = []
        self._arrivals = itertools.count()

    @property
    def in_use(self) -> int:
        return self.slots - self._free

    @property
    def waiting(self) -> int:
        return len(self._waiting)

    async def acquire(self, stake: float, timeout: float) -> None:
        """Takes a slot, waiting at most `timeout` seconds behind higher-stake callers."""
        if self._free and not self._waiting:
            self._free -= 1
            return
        if len(self._waiting) >= self.max_waiting:
            raise GateFull(f"{self.slots} slots busy and {len(self._waiting)} requests waiting")
        granted: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        entry = (priority_key(stake, next(self._arrivals)), granted)
        heapq.heappush(self._waiting, entry)
        try:
            async with asyncio.timeout(timeout):  # not wait_for: on 3.11 it can swallow a cancellation
                await granted
        except (TimeoutError, asyncio.CancelledError) as exc:
            if granted.done() and not granted.cancelled():
                self.release()  # the slot arrived as we gave up: pass it on
            elif entry in self._waiting:
                self._waiting.remove(entry)
                heapq.heapify(self._waiting)
            if isinstance(exc, TimeoutError):
                raise GateFull(f"no slot freed within {timeout:.2f}s") from exc
            raise

    def release(self) -> None:
        """Hands the slot to the highest-priority waiter, or frees it."""
        while self._waiting:
            _, granted = heapq.heappop(self._waiting)
            if not granted.done():  # a waiter that gave up may still be in the heap
                granted.set_result(None)
                return
        self._free += 1
