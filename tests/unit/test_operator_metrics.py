"""The operator's /metrics: names from metric_names, valid exposition, series that exist from the start."""

from __future__ import annotations

from ocr_subnet import metric_names as names
from prometheus_client import generate_latest
from subnet_operator.metrics import OperatorMetrics

from tests.support.tools import assert_promtool_accepts_metrics


def test_exposition_is_valid_and_every_result_and_direction_exists_from_the_start() -> None:
    metrics = OperatorMetrics()
    metrics.set_health("Miner", "ns", "m1", "Ready", "True")
    metrics.set_health("Miner", "ns", "m1", "ScoreHealthy", "Unknown")
    text = generate_latest(metrics.registry).decode()
    assert_promtool_accepts_metrics(text)
    for result in names.RECONCILE_RESULTS:
        assert f'{names.OPERATOR_RECONCILES}{{kind="Miner",result="{result}"}} 0.0' in text
    for direction in names.SCALING_DIRECTIONS:
        assert f'{names.OPERATOR_SCALING_DECISIONS}{{direction="{direction}"}} 0.0' in text
    assert f'{names.OPERATOR_HEALTH}{{condition="Ready",kind="Miner",name="m1",namespace="ns"}} 1.0' in text
    assert f'{names.OPERATOR_HEALTH}{{condition="ScoreHealthy",kind="Miner",name="m1",namespace="ns"}} -1.0' in text


def test_a_deleted_resource_takes_its_series_along() -> None:
    metrics = OperatorMetrics()
    metrics.set_health("Miner", "ns", "m1", "Ready", "False")
    metrics.triton_replicas.labels("ns", "m1").set(3)
    metrics.forget("Miner", "ns", "m1", ("Ready", "ScoreHealthy"))
    text = generate_latest(metrics.registry).decode()
    assert 'name="m1"' not in text
