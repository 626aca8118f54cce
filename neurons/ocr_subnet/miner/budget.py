"""Budgets shared by the requests in flight: bytes of request bodies, pixels of decoded images.

A request takes its share before it holds the memory (before reading its body, before decoding its
pixels) and gives it back when it lets go; a share that does not fit is refused at once, so an attack
costs the attacker answers, never the miner its memory. Thread-safe: pixels are taken in the thread
that decodes.
"""

from __future__ import annotations

import threading


class Budget:
    def __init__(self, total: int, unit: str) -> None:
        if total < 1:
            raise ValueError(f"a budget needs a total >= 1, got {total}")
        self.total = total
        self.unit = unit
        self._in_use = 0
        self._lock = threading.Lock()

    @property
    def in_use(self) -> int:
        return self._in_use

    def try_take(self, amount: int) -> bool:
        """Takes `amount` if it fits in what is left; False (and nothing taken) if not."""
        if amount < 0:
            raise ValueError(f"cannot take a negative amount: {amount}")
        with self._lock:
            if self._in_use + amount > self.total:
                return False
            self._in_use += amount
            return True

    def give_back(self, amount: int) -> None:
        with self._lock:
            if amount > self._in_use:
                raise ValueError(f"giving back {amount} {self.unit} but only {self._in_use} are taken")
            self._in_use -= amount

    def describe(self) -> str:
        return f"{self._in_use} of {self.total} {self.unit} in use"
