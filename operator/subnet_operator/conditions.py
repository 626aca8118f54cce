"""Status conditions: merging a fresh evaluation into the stored list, and what counts as a transition.

Pure: the handlers pass the stored conditions and the clock, and post an Event per transition.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

TRUE, FALSE, UNKNOWN = "True", "False", "Unknown"


@dataclass(frozen=True)
class Condition:
    type: str
    status: str
    reason: str
    message: str

    @classmethod
    def of(cls, type: str, ok: bool, reason: str, message: str) -> Condition:
        return cls(type, TRUE if ok else FALSE, reason, message)

    @classmethod
    def unknown(cls, type: str, reason: str, message: str) -> Condition:
        return cls(type, UNKNOWN, reason, message)


@dataclass(frozen=True)
class Transition:
    condition: Condition
    previous: str | None  # the status before, None when the condition is new

    @property
    def event_type(self) -> str:
        return "Normal" if self.condition.status == TRUE else "Warning"

    @property
    def message(self) -> str:
        was = self.previous or "unset"
        return f"{self.condition.type} {was} -> {self.condition.status}: {self.condition.message}"


def merge(
    stored: Sequence[Mapping[str, Any]], fresh: Iterable[Condition], now: str, generation: int
) -> tuple[list[dict[str, Any]], list[Transition]]:
    """The new condition list (lastTransitionTime kept while a status holds) and the transitions.

    A condition that first appears as Unknown is not a transition: nothing was known before either.
    """
    before = {item["type"]: item for item in stored}
    merged: list[dict[str, Any]] = []
    transitions: list[Transition] = []
    for condition in fresh:
        old = before.get(condition.type)
        changed = old is None or old.get("status") != condition.status
        merged.append(
            {
                "type": condition.type,
                "status": condition.status,
                "reason": condition.reason,
                "message": condition.message,
                "lastTransitionTime": now if changed or "lastTransitionTime" not in old else old["lastTransitionTime"],
                "observedGeneration": generation,
            }
        )
        if changed and not (old is None and condition.status == UNKNOWN):
            transitions.append(Transition(condition, old.get("status") if old else None))
    return merged, transitions


def upsert(
    stored: Sequence[Mapping[str, Any]], condition: Condition, now: str, generation: int
) -> tuple[list[dict[str, Any]], list[Transition]]:
    """The stored list with one condition merged in and the others kept, and its transition if any."""
    merged, transitions = merge(stored, [condition], now, generation)
    return [*(dict(c) for c in stored if c["type"] != condition.type), *merged], transitions


def phase(conditions: Iterable[Condition], ready_type: str, failed: bool) -> str:
    """One word for `kubectl get`: Failed (reconcile refused), Progressing (not Ready), Degraded (Ready but
    a health condition is False), Running."""
    if failed:
        return "Failed"
    by_type = {c.type: c for c in conditions}
    ready = by_type.get(ready_type)
    if ready is None or ready.status != TRUE:
        return "Progressing"
    if any(c.status == FALSE for c in by_type.values()):
        return "Degraded"
    return "Running"
