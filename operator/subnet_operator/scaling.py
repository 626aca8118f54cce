"""How many Triton replicas a Miner should run: the HorizontalPodAutoscaler's rule, as a pure function.

desired = ceil(current * observed / target), skipped while observed/target is within the tolerance;
scale-up takes the lowest recommendation of its stabilization window and scale-down the highest
of its own (so a short dip or spike does not flap the replica count); one decision moves at most
a bounded step; the result stays within [min, max]. The recommendation history is returned for
the caller to keep (in the Miner's status, so it survives operator restarts).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

# Enough history for a 300 s window at a 15 s interval, with room; older entries fall off first.
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
        )


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
    at: float  # unix seconds
    replicas: int


@dataclass(frozen=True)
class Decision:
    replicas: int  # what the Deployment should have now
    desired: int  # the raw recommendation, before stabilization and step bounds
    reason: str
    message: str
    history: tuple[Recommendation, ...]


def _raw_recommendation(current: int, observation: Observation, policy: Policy) -> tuple[int | None, str, str]:
    """(replicas or None to hold, reason, message) from the metric alone."""
    queue_ms = observation.queue_ms
    if queue_ms is None:
        if observation.pending > 0:
            return None, "Stalled", f"{observation.pending:g} requests pending and none completed; not scaling"
        return policy.min_replicas, "Idle", "no requests in the window"
    ratio = queue_ms / policy.target_queue_ms
    summary = f"queue {queue_ms:.1f} ms per request, target {policy.target_queue_ms:g} ms"
    if abs(ratio - 1.0) <= policy.tolerance:
        return current, "WithinTolerance", summary
    desired = math.ceil(current * ratio - WHOLE_NUMBER_SLACK)
    return desired, "MetricAboveTarget" if ratio > 1 else "MetricBelowTarget", summary


def decide(
    current: int,
    observation: Observation | None,
    policy: Policy,
    history: Sequence[Recommendation],
    now: float,
    missing_reason: str = "metrics unavailable",
) -> Decision:
    """The replica count for now. `observation` None means the metrics are missing: never scale blind."""
    if observation is None:
        bounded = min(max(current, policy.min_replicas), policy.max_replicas)
        return Decision(bounded, current, "MetricsUnavailable", f"{missing_reason}; not scaling", tuple(history))
    raw, reason, message = _raw_recommendation(current, observation, policy)
    if raw is None:
        bounded = min(max(current, policy.min_replicas), policy.max_replicas)
        return Decision(bounded, current, reason, message, tuple(history))
    desired = min(max(raw, policy.min_replicas), policy.max_replicas)
    horizon = now - max(policy.scale_up_window_s, policy.scale_down_window_s)
    kept = [r for r in history if r.at >= horizon][-(MAX_HISTORY - 1) :]
    recent = (*kept, Recommendation(now, desired))
    replicas = current
    if desired > current:
        window = [r.replicas for r in recent if r.at >= now - policy.scale_up_window_s]
        replicas = min(max(min(window), current), current + policy.max_step_up)
    elif desired < current:
        window = [r.replicas for r in recent if r.at >= now - policy.scale_down_window_s]
        replicas = max(min(max(window), current), current - policy.max_step_down)
    replicas = min(max(replicas, policy.min_replicas), policy.max_replicas)
    if replicas != desired:
        message += f"; recommends {desired}, stabilized to {replicas}"
    return Decision(replicas, desired, reason, message, recent)


def direction(current: int, replicas: int) -> str:
    """The label of a decision in the operator's scaling metric."""
    if replicas > current:
        return "up"
    if replicas < current:
        return "down"
    return "hold"
