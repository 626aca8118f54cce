"""The Triton scaling policy: the HPA rule on ready replicas, the cool-down, tolerance, stabilization windows,
bounded steps, bounds, blindness, and a simulated spike that settles where the HPA formula says."""

from __future__ import annotations

import dataclasses
import math

import pytest
from subnet_operator.scaling import (
    MAX_HISTORY,
    Decision,
    Observation,
    Policy,
    Recommendation,
    Replicas,
    decide,
    direction,
)

POLICY = Policy(
    min_replicas=1,
    max_replicas=10,
    target_queue_ms=100.0,
    tolerance=0.1,
    scale_up_window_s=0.0,
    scale_down_window_s=300.0,
    max_step_up=4,
    max_step_down=1,
    settle_s=60.0,
)
NOW = 10_000.0
SETTLED = NOW - 3600.0  # every replica ready for an hour


def queue(ms: float, requests_per_s: float = 50.0, pending: float = 0.0) -> Observation:
    return Observation(requests_per_s=requests_per_s, queue_us_per_s=ms * 1000.0 * requests_per_s, pending=pending)


def run(
    current: int,
    observation: Observation | None,
    policy: Policy = POLICY,
    history=(),
    now=NOW,
    ready: int | None = None,
    ready_since: float | None = SETTLED,
) -> Decision:
    state = Replicas(current, current if ready is None else ready, ready_since)
    return decide(state, observation, policy, list(history), now)


def test_queue_time_per_request_is_total_queue_time_over_completed_requests() -> None:
    assert queue(42.0).queue_ms == pytest.approx(42.0)
    assert Observation(requests_per_s=0.0, queue_us_per_s=0.0, pending=0.0).queue_ms is None


def test_the_hpa_rule_scales_with_the_ratio_of_observed_to_target() -> None:
    decision = run(3, queue(200.0))
    assert (decision.desired, decision.replicas, decision.reason) == (6, 6, "MetricAboveTarget")


def test_float_noise_on_a_whole_ratio_does_not_buy_a_replica() -> None:
    noisy = Observation(requests_per_s=10.0, queue_us_per_s=10.0 * 300_000 * (1 + 1e-12), pending=0.0)
    assert noisy.queue_ms > 300.0  # 3x the 100 ms target, plus float noise
    assert run(1, noisy).desired == 3
    assert run(1, queue(300.1)).desired == 4  # a real excess still rounds up


def test_within_the_tolerance_nothing_changes() -> None:
    for ms in (91.0, 100.0, 109.0):
        decision = run(3, queue(ms))
        assert (decision.replicas, decision.reason) == (3, "WithinTolerance")


def test_scale_up_moves_at_most_one_step_and_never_past_max() -> None:
    assert run(2, queue(1000.0)).replicas == 6  # wants 20: +4 per decision
    assert run(8, queue(1000.0)).replicas == 10  # wants 80: max is 10
    assert run(8, queue(1000.0)).desired == 10


def test_scale_down_waits_out_its_window_then_steps_down() -> None:
    busy = [Recommendation(NOW - 200.0, 5)]
    held = run(5, queue(10.0), history=busy)
    assert held.desired == 1 and held.replicas == 5  # a 5 recommended 200 s ago is still in the 300 s window
    assert "stabilized to 5" in held.message
    quiet = [Recommendation(NOW - 400.0, 5), Recommendation(NOW - 350.0, 1)]
    assert run(5, queue(10.0), history=quiet).replicas == 4  # only 1 in effect over the window: one step down
    recent = [Recommendation(NOW - 400.0, 5), Recommendation(NOW - 100.0, 1)]
    assert run(5, queue(10.0), history=recent).replicas == 5  # the 5 held until 100 s ago, inside the window


def test_scale_up_stabilization_takes_the_lowest_recent_recommendation() -> None:
    policy = dataclasses.replace(POLICY, scale_up_window_s=60.0)
    history = [Recommendation(NOW - 30.0, 4), Recommendation(NOW - 10.0, 8)]
    assert run(2, queue(500.0), policy=policy, history=history).replicas == 4
    earlier = [Recommendation(NOW - 90.0, 2), Recommendation(NOW - 70.0, 9)]
    assert run(2, queue(500.0), policy=policy, history=earlier).replicas == 6  # the 2 ended before the window


def test_idle_servers_shrink_to_the_minimum() -> None:
    idle = Observation(requests_per_s=0.0, queue_us_per_s=0.0, pending=0.0)
    policy = dataclasses.replace(POLICY, scale_down_window_s=0.0, max_step_down=10)
    decision = run(6, idle, policy=policy)
    assert (decision.replicas, decision.reason) == (1, "Idle")


def test_no_completions_with_requests_pending_holds_rather_than_guessing() -> None:
    stalled = Observation(requests_per_s=0.0, queue_us_per_s=0.0, pending=12.0)
    decision = run(3, stalled)
    assert (decision.replicas, decision.reason) == (3, "Stalled")


def test_missing_metrics_never_scale_and_say_why() -> None:
    decision = decide(Replicas(3, 3), None, POLICY, [], NOW, "Prometheus at http://127.0.0.1:1 is unreachable")
    assert (decision.replicas, decision.reason) == (3, "MetricsUnavailable")
    assert decision.message == "Prometheus at http://127.0.0.1:1 is unreachable; not scaling"


def test_missing_metrics_still_enforce_new_bounds() -> None:
    assert run(12, None).replicas == 10
    assert run(0, None).replicas == 1


def test_history_keeps_the_window_and_a_bounded_length() -> None:
    old = [Recommendation(NOW - 1000.0, 9), Recommendation(NOW - 900.0, 2)]
    # the 2 is still in effect at the start of the 300 s window; the 9 before it is gone
    assert run(3, queue(200.0), history=old).history == (Recommendation(NOW - 900.0, 2), Recommendation(NOW, 6))
    many = [Recommendation(NOW - i * 0.5, 2) for i in range(300, 0, -1)]
    kept = run(3, queue(200.0), history=many).history
    assert len(kept) == MAX_HISTORY
    assert kept[-1] == Recommendation(NOW, 6)
    assert [r.at for r in kept] == sorted(r.at for r in kept)


def test_directions_name_the_metric_labels() -> None:
    assert (direction(2, 3), direction(3, 2), direction(3, 3)) == ("up", "down", "hold")


def test_policy_reads_the_crd_fields() -> None:
    policy = Policy.from_spec(
        {
            "minReplicas": 2,
            "maxReplicas": 6,
            "targetQueueTimeMs": 25,
            "tolerance": 0.2,
            "scaleUpStabilizationSeconds": 15,
            "scaleDownStabilizationSeconds": 120,
            "maxScaleUpStep": 3,
            "maxScaleDownStep": 2,
            "metricsWindowSeconds": 30,
        }
    )
    assert policy == Policy(2, 6, 25.0, 0.2, 15.0, 120.0, 3, 2, settle_s=30.0)


def test_the_rule_counts_ready_replicas_not_the_ones_asked_for() -> None:
    loading = run(4, queue(300.0), ready=2, ready_since=None)
    assert (loading.desired, loading.replicas) == (6, 4)  # ceil(2 ready * 3), not ceil(4 * 3) = 12
    above = run(4, queue(150.0), ready=2, ready_since=None)
    assert (above.desired, above.replicas) == (4, 4)  # ceil(2 * 1.5) = 3, but a busy queue never removes one
    assert "2/4 ready" in above.message


def test_no_scale_up_while_replicas_load_and_until_a_window_has_passed() -> None:
    loading = run(2, queue(300.0), ready=1, ready_since=None)
    assert (loading.desired, loading.replicas, loading.reason) == (3, 2, "CoolingDown")
    assert "until all are ready (1/2) and a 60s metrics window has passed" in loading.message
    assert loading.ready_since is None
    just_ready = run(2, queue(300.0), ready=2, ready_since=None)
    assert (just_ready.replicas, just_ready.ready_since) == (2, NOW)  # the cool-down starts now
    assert run(2, queue(300.0), ready=2, ready_since=NOW - 59.0).replicas == 2
    assert run(2, queue(300.0), ready=2, ready_since=NOW - 60.0).replicas == 6


def test_scale_down_is_not_held_by_the_cool_down() -> None:
    policy = dataclasses.replace(POLICY, scale_down_window_s=0.0)
    assert run(4, queue(10.0), policy=policy, ready=2, ready_since=None).replicas == 3


def test_completions_with_no_ready_replica_hold() -> None:
    decision = run(2, queue(500.0), ready=0, ready_since=None)
    assert (decision.replicas, decision.reason) == (2, "AwaitingReady")


def test_an_unchanged_recommendation_adds_no_history() -> None:
    history = (Recommendation(NOW - 600.0, 1),)
    assert run(1, queue(100.0), history=history).history == history  # within tolerance: still 1
    idle = Observation(requests_per_s=0.0, queue_us_per_s=0.0, pending=0.0)
    assert run(1, idle, history=history).history == history


class Simulation:
    """A Triton Deployment under a load, ticked every `interval_s` like the operator's timer.

    Queue time per request grows with the load each ready replica carries (`target` at 1 unit of load
    per replica); Prometheus averages it over the metrics window the way rate() does; a new replica
    serves only `load_s` after the scaler asks for it.
    """

    def __init__(self, policy: Policy, load_s: float, interval_s: float = 15.0) -> None:
        self.policy, self.load_s, self.interval_s = policy, load_s, interval_s
        self.now = 0.0
        self.pods = [0.0] * policy.min_replicas  # when each replica turns ready
        self.samples: list[tuple[float, float, float]] = []  # (at, requests/s, queue us/s)
        self.history: tuple[Recommendation, ...] = ()
        self.ready_since: float | None = None
        self.trajectory = [len(self.pods)]

    def ready(self) -> int:
        return sum(1 for at in self.pods if at <= self.now)

    def tick(self, load: float) -> None:
        step = 1.0
        for _ in range(int(self.interval_s / step)):
            self.now += step
            queue_ms = self.policy.target_queue_ms * load / max(self.ready(), 1)
            self.samples.append((self.now, load, load * queue_ms * 1000.0))
        window = [s for s in self.samples if s[0] > self.now - self.policy.settle_s]
        observation = Observation(
            requests_per_s=sum(s[1] for s in window) / len(window),
            queue_us_per_s=sum(s[2] for s in window) / len(window),
            pending=0.0,
        )
        state = Replicas(len(self.pods), self.ready(), self.ready_since)
        decision = decide(state, observation, self.policy, self.history, self.now)
        self.history, self.ready_since = decision.history, decision.ready_since
        if decision.replicas > len(self.pods):
            self.pods += [self.now + self.load_s] * (decision.replicas - len(self.pods))
        del self.pods[decision.replicas :]
        if self.trajectory[-1] != len(self.pods):
            self.trajectory.append(len(self.pods))


# The first step is smaller than the spike: the window's average still holds the minutes before it.
@pytest.mark.parametrize(("spike", "trajectory"), [(4.0, [1, 3, 4]), (8.0, [1, 5, 8]), (2.5, [1, 2, 3])])
def test_a_spike_settles_at_the_replica_count_of_the_hpa_formula(spike: float, trajectory: list[int]) -> None:
    """1 replica at its target, then `spike` times the load: ceil(1 * spike) replicas, reached without
    overshooting while new replicas load their models (2 minutes) and the metrics window catches up."""
    simulation = Simulation(POLICY, load_s=120.0)
    for _ in range(8):
        simulation.tick(1.0)
    for _ in range(80):  # 20 minutes of the spike
        simulation.tick(spike)
    assert simulation.trajectory == trajectory
    assert trajectory[-1] == max(trajectory) == math.ceil(1 * spike)  # the formula's count, never above it
    assert simulation.ready() == trajectory[-1]
