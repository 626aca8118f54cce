"""How many Triton replicas a Miner should run: the HorizontalPodAutoscaler's rule, as a pure function.

desired = ceil(ready * observed / target), from the replicas that are ready (serving) and not the
ones asked for: pods still loading models add no capacity yet, and counting them overshoots (a 4x
spike went 1 -> 4 -> 8 that way). The rule is skipped while observed/target is within the tolerance.
A scale-up waits out a cool-down that counts model load time: until every replica is ready and a full
metrics window has passed since, so the queue-time average covers only the capacity that now serves.
Scale-up takes the lowest recommendation of its stabilization window and scale-down the highest of
its own (so a short dip or spike does not flap the replica count); one decision moves at most a
bounded step; the result stays within [min, max].

The recommendation history is kept run-length encoded (an entry per change, not per tick) for the
caller to store in the Miner's status: a steady Miner then gives the API server nothing to write.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

# Enough changes for a 300 s window at a 15 s interval, with room; older entries fall off first.
MAX_HISTORY = 128
# current * ratio this close above a whole number is that number: the ratio of two Prometheus rates
# carries float noise, and ceil(3.0000000001) must not buy a fourth replica.
WHOLE_NUMBER_SLACK = 1e-6


@dataclass(frozen=True)
class Policy:
    min_replicas: int
    max_replicas: int
    target_queue_ms: float
    tolerance: float
    scale_up_window_s: float
    scale_down_window_s: float
    max_step_up: int
    max_step_down: int
    settle_s: float = 0.0  # after every replica is ready, how long before another scale-up (the metrics window)

    @classmethod
    def from_spec(cls, triton: Mapping[str, Any]) -> Policy:
        return cls(
            min_replicas=triton["minReplicas"],
            max_replicas=triton["maxReplicas"],
            target_queue_ms=float(triton["targetQueueTimeMs"]),
            tolerance=float(triton["tolerance"]),
            scale_up_window_s=float(triton["scaleUpStabilizationSeconds"]),
            scale_down_window_s=float(triton["scaleDownStabilizationSeconds"]),
            max_step_up=triton["maxScaleUpStep"],
            max_step_down=triton["maxScaleDownStep"],
            settle_s=float(triton["metricsWindowSeconds"]),
        )


@dataclass(frozen=True)
class Replicas:
    """The Deployment as the scaler sees it: asked for, ready, and since when all have been ready."""

    current: int  # spec.replicas
    ready: int  # status.readyReplicas
    ready_since: float | None = None  # unix seconds; None while some replica is not ready

    def settled(self, now: float) -> Replicas:
        """This state with `ready_since` carried over, started now, or cleared."""
        if self.ready < self.current:
            return Replicas(self.current, self.ready, None)
        return Replicas(self.current, self.ready, now if self.ready_since is None else self.ready_since)


@dataclass(frozen=True)
class Observation:
    """What Prometheus says about a Miner's Triton pods over the metrics window."""

    requests_per_s: float  # completed inferences
    queue_us_per_s: float  # queue time accumulated per second, all requests
    pending: float  # requests waiting right now

    @property
    def queue_ms(self) -> float | None:
        """Mean queue time per completed request; None when nothing completed."""
        if self.requests_per_s <= 0:
            return None
        return self.queue_us_per_s / self.requests_per_s / 1000.0


@dataclass(frozen=True)
class Recommendation:
    at: float  # unix seconds: from then on, until the next entry, the recommendation was `replicas`
    replicas: int


@dataclass(frozen=True)
class Decision:
    replicas: int  # what the Deployment should have now
    desired: int  # the raw recommendation, before cool-down, stabilization and step bounds
    reason: str
    message: str
    history: tuple[Recommendation, ...]
    ready_since: float | None = None


def _raw_recommendation(state: Replicas, observation: Observation, policy: Policy) -> tuple[int | None, str, str]:
    """(replicas or None to hold, reason, message) from the metric alone."""
    queue_ms = observation.queue_ms
    if queue_ms is None:
        if observation.pending > 0:
            return None, "Stalled", f"{observation.pending:g} requests pending and none completed; not scaling"
        return policy.min_replicas, "Idle", "no requests in the window"
    if state.ready < 1:
        return None, "AwaitingReady", f"0/{state.current} replicas ready; not scaling"
    ratio = queue_ms / policy.target_queue_ms
    summary = f"queue {queue_ms:.1f} ms per request, target {policy.target_queue_ms:g} ms"
    if abs(ratio - 1.0) <= policy.tolerance:
        return state.current, "WithinTolerance", summary
    desired = math.ceil(state.ready * ratio - WHOLE_NUMBER_SLACK)
    summary += f", {state.ready}/{state.current} ready"
    # Replicas still loading count neither way: a metric above target never removes them, one below never adds.
    if ratio > 1:
        return max(desired, state.current), "MetricAboveTarget", summary
    return min(desired, state.current), "MetricBelowTarget", summary


def _record(history: Sequence[Recommendation], now: float, desired: int, policy: Policy) -> tuple[Recommendation, ...]:
    """The history with `desired` as of now: an entry only when it changes, nothing older than needed."""
    entries = list(history)
    if not entries or entries[-1].replicas != desired:
        entries.append(Recommendation(now, desired))
    horizon = now - max(policy.scale_up_window_s, policy.scale_down_window_s)
    in_effect = max((i for i, r in enumerate(entries) if r.at <= horizon), default=0)
    return tuple(entries[in_effect:][-MAX_HISTORY:])


def _window(history: Sequence[Recommendation], since: float) -> list[int]:
    """Every recommendation in effect at some point from `since` to now."""
    in_effect = max((i for i, r in enumerate(history) if r.at <= since), default=0)
    return [r.replicas for r in history[in_effect:]]


def decide(
    state: Replicas,
    observation: Observation | None,
    policy: Policy,
    history: Sequence[Recommendation],
    now: float,
    missing_reason: str = "metrics unavailable",
) -> Decision:
    """The replica count for now. `observation` None means the metrics are missing: never scale blind."""
    state = state.settled(now)
    current = state.current
    bounded = min(max(current, policy.min_replicas), policy.max_replicas)
    if observation is None:
        message = f"{missing_reason}; not scaling"
        return Decision(bounded, current, "MetricsUnavailable", message, tuple(history), state.ready_since)
    raw, reason, message = _raw_recommendation(state, observation, policy)
    if raw is None:
        return Decision(bounded, current, reason, message, tuple(history), state.ready_since)
    desired = min(max(raw, policy.min_replicas), policy.max_replicas)
    recent = _record(history, now, desired, policy)
    replicas = current
    if desired > current:
        if state.ready_since is None or now - state.ready_since < policy.settle_s:
            reason = "CoolingDown"
            message += (
                f"; recommends {desired}, holding {current} until all are ready"
                f" ({state.ready}/{current}) and a {policy.settle_s:g}s metrics window has passed"
            )
            return Decision(bounded, desired, reason, message, recent, state.ready_since)
        window = _window(recent, now - policy.scale_up_window_s)
        replicas = min(max(min(window), current), current + policy.max_step_up)
    elif desired < current:
        window = _window(recent, now - policy.scale_down_window_s)
        replicas = max(min(max(window), current), current - policy.max_step_down)
    replicas = min(max(replicas, policy.min_replicas), policy.max_replicas)
    if replicas != desired:
        message += f"; recommends {desired}, stabilized to {replicas}"
    return Decision(replicas, desired, reason, message, recent, state.ready_since)


def direction(current: int, replicas: int) -> str:
    """The label of a decision in the operator's scaling metric."""
    if replicas > current:
        return "up"
    if replicas < current:
        return "down"
    return "hold"
