"""The Grafana dashboard's model: the panels the operators asked for, a sane grid, templated datasource."""

from __future__ import annotations

from ocr_subnet import metric_names as names
from subnet_operator.monitoring import dashboard, scrape

REQUIRED = {
    "EMA per miner and validator": names.VALIDATOR_MINER_EMA,
    "weight-setting age": names.VALIDATOR_LAST_WEIGHT_SET_BLOCK,
    "miner outcomes": names.MINER_REQUESTS,
    "miner latency": names.MINER_REQUEST_LATENCY,
    "Triton queue": names.TRITON_QUEUE_DURATION_US,
    "Triton compute": names.TRITON_COMPUTE_INFER_DURATION_US,
    "Triton replicas": names.OPERATOR_TRITON_REPLICAS,
    "operator reconciles": names.OPERATOR_RECONCILES,
    "operator health": names.OPERATOR_HEALTH,
    "operator up": scrape.OPERATOR_JOB,
}


def panels() -> list[dict]:
    return [p for p in dashboard.dashboard()["panels"] if p["type"] != "row"]


def test_required_panels_are_there() -> None:
    expressions = list(dashboard.expressions(dashboard.dashboard()))
    for topic, name in REQUIRED.items():
        assert any(name in e for e in expressions), f"no panel shows {topic} ({name})"


def test_rewards_are_split_by_part() -> None:
    titles = {p["title"] for p in panels()}
    assert {f"Reward: {part}" for part in dashboard.SCORE_PARTS} <= titles
    assert set(dashboard.SCORE_PARTS) <= set(names.REWARD_PARTS)


def test_grid_has_no_overlaps_and_unique_ids() -> None:
    model = dashboard.dashboard()
    ids = [p["id"] for p in model["panels"]]
    assert len(ids) == len(set(ids))
    cells: set[tuple[int, int]] = set()
    for panel in model["panels"]:
        pos = panel["gridPos"]
        assert pos["x"] + pos["w"] <= dashboard.WIDTH
        area = {(x, y) for x in range(pos["x"], pos["x"] + pos["w"]) for y in range(pos["y"], pos["y"] + pos["h"])}
        assert not cells & area, f"{panel['title']} overlaps another panel"
        cells |= area


def test_every_query_uses_the_datasource_variable() -> None:
    for panel in panels():
        assert panel["datasource"] == dashboard.DATASOURCE
        assert panel["targets"], panel["title"]
        assert all(t["datasource"] == dashboard.DATASOURCE for t in panel["targets"])
    assert {v["name"] for v in dashboard.dashboard()["templating"]["list"]} == {"datasource", "namespace"}
