"""The Triton scaling policy: the HPA rule, tolerance, stabilization windows, bounded steps, bounds, blindness."""

from __future__ import annotations

import dataclasses

import pytest
from subnet_operator.scaling import MAX_HISTORY, Decision, Observation, Policy, Recommendation, decide, direction

POLICY = Policy(
    min_replicas=1,
    max_replicas=10,
    target_queue_ms=100.0,
    tolerance=0.1,
    scale_up_window_s=0.0,
    scale_down_window_s=300.0,
    max_step_up=4,
    max_step_down=1,
)
NOW = 10_000.0


def queue(ms: float, requests_per_s: float = 50.0, pending: float = 0.0) -> Observation:
    return Observation(requests_per_s=requests_per_s, queue_us_per_s=ms * 1000.0 * requests_per_s, pending=pending)


def run(current: int, observation: Observation | None, policy: Policy = POLICY, history=(), now=NOW) -> Decision:
    return decide(current, observation, policy, list(history), now)


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
    quiet = [Recommendation(NOW - 400.0, 5), Recommendation(NOW - 100.0, 1)]
    assert run(5, queue(10.0), history=quiet).replicas == 4  # only 1s in the window: one step down


def test_scale_up_stabilization_takes_the_lowest_recent_recommendation() -> None:
    policy = dataclasses.replace(POLICY, scale_up_window_s=60.0)
    history = [Recommendation(NOW - 30.0, 4), Recommendation(NOW - 10.0, 8)]
    assert run(2, queue(500.0), policy=policy, history=history).replicas == 4
    assert run(2, queue(500.0), policy=policy, history=[Recommendation(NOW - 90.0, 2)]).replicas == 6


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
    decision = decide(3, None, POLICY, [], NOW, "Prometheus at http://127.0.0.1:1 is unreachable")
    assert (decision.replicas, decision.reason) == (3, "MetricsUnavailable")
    assert decision.message == "Prometheus at http://127.0.0.1:1 is unreachable; not scaling"


def test_missing_metrics_still_enforce_new_bounds() -> None:
    assert run(12, None).replicas == 10
    assert run(0, None).replicas == 1


def test_history_keeps_the_window_and_a_bounded_length() -> None:
    old = [Recommendation(NOW - 1000.0, 9)]
    assert run(3, queue(200.0), history=old).history == (Recommendation(NOW, 6),)
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
        }
    )
    assert policy == Policy(2, 6, 25.0, 0.2, 15.0, 120.0, 3, 2)
