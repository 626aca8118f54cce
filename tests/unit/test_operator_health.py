"""Health rules and conditions: rollouts -> Ready, validator metrics -> WeightsHealthy, EMAs -> ScoreHealthy,
and how a fresh evaluation merges into status (transitions, timestamps, phase)."""

from __future__ import annotations

from ocr_subnet import metric_names as names
from subnet_operator import api
from subnet_operator.conditions import FALSE, TRUE, UNKNOWN, Condition, merge, phase
from subnet_operator.health import (
    Rollout,
    ScoreReport,
    ScoreSample,
    WeightsReport,
    WeightsSample,
    ready_condition,
    rollout_condition,
    score_health,
    weights_health,
)

WEIGHTS = {"maxEpochsWithoutWeights": 3, "maxFailureRate": 0.5, "windowSeconds": 600}
SCORE = {"minEma": 0.05, "maxDrop": 0.3, "dropWindowSeconds": 1800}


def gauges(current: float, last: float | None, tempo: float = 20, rate_limit: float = 10) -> dict[str, float]:
    values = {
        names.VALIDATOR_CURRENT_BLOCK: current,
        names.VALIDATOR_TEMPO: tempo,
        names.VALIDATOR_WEIGHTS_RATE_LIMIT: rate_limit,
    }
    if last is not None:
        values[names.VALIDATOR_LAST_WEIGHT_SET_BLOCK] = last
    return values


def rollout(replicas: int = 2, pods: int = 2, updated: int = 2, available: int = 2) -> Rollout:
    return Rollout("d", replicas, pods, updated, available, available)


def test_a_rollout_is_ready_once_no_old_pod_is_left_and_one_serves() -> None:
    assert rollout_condition(api.READY, "d", None).reason == "Missing"
    rolling = rollout_condition(api.READY, "d", rollout(pods=3, updated=1))
    assert (rolling.reason, rolling.message) == ("RollingOut", "Deployment d: 1/3 pods run the current template")
    assert rollout_condition(api.READY, "d", rollout(available=0)).reason == "Unavailable"
    ready = rollout_condition(api.TRITON_READY, "d", rollout(available=1))
    assert (ready.type, ready.status, ready.message) == (api.TRITON_READY, TRUE, "Deployment d: 1/2 replicas available")


def test_scaling_up_is_not_a_rollout() -> None:
    scaling = rollout_condition(api.TRITON_READY, "d", rollout(replicas=4, pods=3, updated=3, available=2))
    assert (scaling.status, scaling.message) == (TRUE, "Deployment d: 2/4 replicas available")


def test_ready_needs_the_latest_spec_applied_and_every_part_up() -> None:
    up = Condition.of("x", True, "Available", "up")
    down = Condition.of("y", False, "Unavailable", "d: no replica")
    assert ready_condition([up], True, "HTTP 403: forbidden") == Condition.of(
        api.READY, False, "ReconcileFailed", "HTTP 403: forbidden"
    )
    assert ready_condition([up], False, None).reason == "Reconciling"
    assert ready_condition([up, down], True, None) == Condition.of(api.READY, False, "Unavailable", "d: no replica")
    assert ready_condition([up, up], True, None) == Condition.of(api.READY, True, "Available", "up; up")


def test_weights_set_recently_are_healthy() -> None:
    report = weights_health(WeightsSample("hk", gauges(100, 60), {"success": 4.0, "rate_limited": 1.0}), WEIGHTS)
    assert report.condition.status == TRUE
    assert (report.blocks_since, report.block_limit, report.failure_rate) == (40, 70, 0.2)
    assert report.condition.message == "weights set 40 blocks ago, limit 70; 1/5 attempts failed in the last 600s"


def test_too_many_blocks_without_weights_turn_it_false() -> None:
    report = weights_health(WeightsSample("hk", gauges(200, 100), {"success": 1.0}), WEIGHTS)
    assert (report.condition.status, report.condition.reason) == (FALSE, "WeightsStale")
    assert report.condition.message.startswith("100 blocks since the last weight set, limit 70")


def test_failing_attempts_turn_it_false_and_name_the_results() -> None:
    attempts = {"success": 1.0, "chain_error": 2.0, "rejected": 1.0, "rate_limited": 0.0}
    report = weights_health(WeightsSample("hk", gauges(100, 90), attempts), WEIGHTS)
    assert (report.condition.status, report.condition.reason) == (FALSE, "WeightSetFailing")
    assert "3/4 attempts failed" in report.condition.message
    assert "(chain_error=2, rejected=1)" in report.condition.message


def test_without_chain_data_or_a_first_weight_set_nothing_is_claimed() -> None:
    report = weights_health(WeightsSample("hk", {names.VALIDATOR_CURRENT_BLOCK: 5.0}), WEIGHTS)
    assert (report.condition.status, report.condition.reason) == (UNKNOWN, "NoChainData")
    first = weights_health(WeightsSample("hk", gauges(10, None)), WEIGHTS)
    assert (first.condition.status, first.condition.reason) == (UNKNOWN, "NoWeightSetYet")


def test_a_scored_miner_reports_mean_rank_and_uid() -> None:
    sample = ScoreSample(
        hotkey="m1",
        uid=4,
        per_validator={"v1": 0.6, "v2": 0.4},
        peaks={"v1": 0.6, "v2": 0.45},
        all_means={"m1": 0.5, "m2": 0.7, "m3": 0.2, "m4": 0.5},
    )
    report = score_health(sample, SCORE)
    assert report.condition.status == TRUE
    assert (report.mean, report.rank, report.uid) == (0.5, 2, 4)
    assert report.condition.message == "mean EMA 0.500 over 2 validator(s), rank 2"


def test_a_low_score_turns_it_false() -> None:
    report = score_health(ScoreSample("m1", 1, {"v1": 0.01}, {"v1": 0.01}, {"m1": 0.01}), SCORE)
    assert (report.condition.status, report.condition.reason) == (FALSE, "LowScore")


def test_a_sharp_drop_from_the_windows_peak_turns_it_false() -> None:
    report = score_health(ScoreSample("m1", 1, {"v1": 0.4, "v2": 0.4}, {"v1": 0.8, "v2": 0.8}, {}), SCORE)
    assert (report.condition.status, report.condition.reason) == (FALSE, "ScoreDropping")
    assert "fell 50% from 0.800 within 1800s" in report.condition.message
    gentle = score_health(ScoreSample("m1", 1, {"v1": 0.7}, {"v1": 0.8}, {}), SCORE)
    assert gentle.condition.status == TRUE


def test_without_metrics_or_scores_it_is_unknown() -> None:
    assert score_health(ScoreSample(None), SCORE).condition.reason == "NoMetrics"
    unscored = score_health(ScoreSample("m1"), SCORE)
    assert (unscored.condition.status, unscored.condition.reason, unscored.hotkey) == (UNKNOWN, "NotScored", "m1")


def test_a_report_that_read_nothing_leaves_the_last_numbers_in_status() -> None:
    read = weights_health(WeightsSample("v1", gauges(current=120, last=100), {"success": 2.0}), WEIGHTS)
    assert read.status_fields() == {
        "hotkey": "v1",
        "currentBlock": 120,
        "lastWeightSetBlock": 100,
        "blocksSinceWeightSet": 20,
        "weightSetBlockLimit": 70,
        "weightSetFailureRate": 0.0,
    }
    # A failed scrape or an unreachable Prometheus is no news about the chain: status keeps what it had.
    away = Condition.unknown(api.WEIGHTS_HEALTHY, "PrometheusUnavailable", "?")
    assert WeightsReport(away, read=False).status_fields() == {}
    assert ScoreReport(away, read=False).status_fields() == {}
    assert score_health(ScoreSample(None), SCORE).status_fields() == {}
    # A validator that answers without chain data is news: its numbers are cleared.
    no_chain = weights_health(WeightsSample("v1", {}, {}), WEIGHTS)
    assert no_chain.status_fields()["currentBlock"] is None
    scored = score_health(ScoreSample("m1", 4, {"v2": 0.5, "v1": 0.5}, {}, {"m0": 0.9}), SCORE)
    assert scored.status_fields() == {
        "hotkey": "m1",
        "uid": 4,
        "ema": 0.5,
        "rank": 2,
        "validators": [{"hotkey": "v1", "ema": 0.5}, {"hotkey": "v2", "ema": 0.5}],
    }


def test_merge_keeps_transition_times_while_a_status_holds_and_lists_transitions() -> None:
    first, transitions = merge(
        [], [Condition.of(api.READY, False, "Missing", "no"), Condition.unknown("W", "NoMetrics", "?")], "t1", 1
    )
    assert [t.condition.type for t in transitions] == [api.READY]  # a first Unknown is not news
    assert transitions[0].message == "Ready unset -> False: no"
    assert transitions[0].event_type == "Warning"
    second, transitions = merge(
        first, [Condition.of(api.READY, False, "RollingOut", "1/2"), Condition.unknown("W", "x", "?")], "t2", 2
    )
    assert transitions == []
    assert second[0] == {
        "type": api.READY,
        "status": FALSE,
        "reason": "RollingOut",
        "message": "1/2",
        "lastTransitionTime": "t1",
        "observedGeneration": 2,
    }
    third, transitions = merge(second, [Condition.of(api.READY, True, "Available", "2/2")], "t3", 2)
    assert third[0]["lastTransitionTime"] == "t3"
    assert [(t.previous, t.condition.status, t.event_type) for t in transitions] == [(FALSE, TRUE, "Normal")]


def test_phase_summarises_the_conditions() -> None:
    ready = Condition.of(api.READY, True, "Available", "")
    sick = Condition.of(api.SCORE_HEALTHY, False, "LowScore", "")
    unknown = Condition.unknown(api.SCORE_HEALTHY, "NoMetrics", "")
    assert phase([ready, unknown], api.READY, failed=False) == "Running"
    assert phase([ready, sick], api.READY, failed=False) == "Degraded"
    assert phase([Condition.of(api.READY, False, "Missing", "")], api.READY, failed=False) == "Progressing"
    assert phase([ready], api.READY, failed=True) == "Failed"
