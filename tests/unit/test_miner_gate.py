"""The stake-ordered gate: slots, waiting room, priority, and waiters that give up."""

from __future__ import annotations

import asyncio

import pytest
from ocr_subnet.miner.gate import GateFull, PriorityGate

LONG_S = 30.0  # a wait that never runs out in these tests


async def until(condition) -> None:
    """Yields to the event loop until `condition()` holds (waiters register asynchronously)."""
    while not condition():
        await asyncio.sleep(0)


async def test_free_slot_is_taken_at_once() -> None:
    gate = PriorityGate(slots=2, max_waiting=0)
    await gate.acquire(stake=1.0, timeout=LONG_S)
    assert (gate.in_use, gate.waiting) == (1, 0)


async def test_released_slot_is_free_again() -> None:
    gate = PriorityGate(slots=1, max_waiting=0)
    await gate.acquire(stake=1.0, timeout=LONG_S)
    gate.release()
    assert gate.in_use == 0


async def test_full_waiting_room_refuses_at_once() -> None:
    gate = PriorityGate(slots=1, max_waiting=1)
    await gate.acquire(stake=1.0, timeout=LONG_S)
    waiter = asyncio.create_task(gate.acquire(stake=1.0, timeout=LONG_S))
    await until(lambda: gate.waiting == 1)
    with pytest.raises(GateFull, match="waiting"):
        await gate.acquire(stake=1_000.0, timeout=LONG_S)
    gate.release()
    await waiter


async def test_waiters_are_served_highest_stake_first() -> None:
    gate = PriorityGate(slots=1, max_waiting=10)
    await gate.acquire(stake=0.0, timeout=LONG_S)
    served: list[str] = []

    async def wait(name: str, stake: float) -> None:
        await gate.acquire(stake=stake, timeout=LONG_S)
        served.append(name)

    tasks = []
    for number, (name, stake) in enumerate([("low", 1.0), ("high", 100.0), ("mid", 10.0), ("high-later", 100.0)]):
        tasks.append(asyncio.create_task(wait(name, stake)))
        await until(lambda count=number + 1: gate.waiting == count)
    for _ in tasks:
        gate.release()
        await until(lambda before=len(served): len(served) == before + 1)
    assert served == ["high", "high-later", "mid", "low"]


async def test_waiter_that_times_out_leaves_the_waiting_room() -> None:
    gate = PriorityGate(slots=1, max_waiting=1)
    await gate.acquire(stake=1.0, timeout=LONG_S)
    with pytest.raises(GateFull, match="no slot freed"):
        await gate.acquire(stake=1.0, timeout=0.0)
    assert gate.waiting == 0


async def test_cancelled_waiter_leaves_the_waiting_room_and_the_slot_goes_on() -> None:
    gate = PriorityGate(slots=1, max_waiting=2)
    await gate.acquire(stake=1.0, timeout=LONG_S)
    cancelled = asyncio.create_task(gate.acquire(stake=100.0, timeout=LONG_S))
    await until(lambda: gate.waiting == 1)
    patient = asyncio.create_task(gate.acquire(stake=1.0, timeout=LONG_S))
    await until(lambda: gate.waiting == 2)
    cancelled.cancel()
    await until(lambda: gate.waiting == 1)
    gate.release()
    await patient
    assert (gate.in_use, gate.waiting) == (1, 0)


async def test_slot_granted_to_a_waiter_that_already_gave_up_is_passed_on() -> None:
    gate = PriorityGate(slots=1, max_waiting=2)
    await gate.acquire(stake=1.0, timeout=LONG_S)
    quitter = asyncio.create_task(gate.acquire(stake=100.0, timeout=LONG_S))
    await until(lambda: gate.waiting == 1)
    patient = asyncio.create_task(gate.acquire(stake=1.0, timeout=LONG_S))
    await until(lambda: gate.waiting == 2)
    gate.release()  # grants the quitter, which is cancelled before it can run
    quitter.cancel()
    await patient
    assert (gate.in_use, gate.waiting) == (1, 0)


def test_gate_needs_at_least_one_slot() -> None:
    with pytest.raises(ValueError, match="slots"):
        PriorityGate(slots=0, max_waiting=1)
