"""The subnet's Grafana dashboard (JSON model), built from the same queries the alerts use.

Panels: EMA per miner and validator, weight-setting age, rewards by part, miner outcomes and latency,
Triton queue and compute time and replicas, operator health. `expressions` lists every PromQL string
in it, so a test can run each one through a real Prometheus.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from ocr_subnet import metric_names as names

from subnet_operator.monitoring import queries as q
from subnet_operator.monitoring import scrape
from subnet_operator.monitoring.rules import Thresholds

UID = "ocr-subnet"
TITLE = "OCR subnet"
DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}
NAMESPACE = 'namespace=~"$namespace"'
RATE = "$__rate_interval"
# The reward parts an operator acts on; `prediction` and `total` are sums of these.
SCORE_PARTS = ("text", "position", "font", "time")
WIDTH = 24  # Grafana's grid


@dataclass(frozen=True)
class Target:
    expr: str
    legend: str


@dataclass(frozen=True)
class Panel:
    title: str
    description: str
    targets: Sequence[Target]
    unit: str = "short"
    width: int = 12
    kind: str = "timeseries"
    options: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Row:
    title: str
    panels: Sequence[Panel]


def validator_row(t: Thresholds) -> Row:
    window = "$__range"
    return Row(
        "Validators",
        [
            Panel(
                "EMA score per miner and validator",
                "Each validator's exponential moving average of each miner's reward: what weights are set from.",
                [Target(q.miner_ema(NAMESPACE), "uid {{uid}} by {{validator_hotkey}}")],
                unit="percentunit",
            ),
            Panel(
                "Weight-setting age",
                "Blocks since each validator's last successful weight set, against the limit that fires "
                "OcrSubnetWeightsNotSet and turns WeightsHealthy False.",
                [
                    Target(q.blocks_since_weight_set(NAMESPACE), "{{validator_hotkey}}"),
                    Target(q.weight_set_block_limit(t.weights_stale_tempos, NAMESPACE), "limit {{validator_hotkey}}"),
                ],
            ),
            Panel(
                "Weight-set attempts by result",
                "Attempts in the selected time range; chain_error and rejected need attention.",
                [Target(q.weight_set_attempts(window, NAMESPACE), "{{validator_hotkey}} {{result}}")],
                kind="bargauge",
            ),
            Panel(
                "Validator queries by outcome",
                "Miner answers per second, as the validators see them.",
                [Target(q.validator_responses(RATE, NAMESPACE), "{{validator_hotkey}} {{outcome}}")],
                unit="reqps",
            ),
        ],
    )


def reward_row() -> Row:
    return Row(
        "Rewards by part",
        [
            Panel(
                f"Reward: {part}",
                f"The {part} part of each miner's latest reward, averaged over validators.",
                [Target(q.reward_part(part, NAMESPACE), "{{miner_hotkey}}")],
                unit="percentunit",
                width=WIDTH // len(SCORE_PARTS),
            )
            for part in SCORE_PARTS
        ],
    )


def miner_row() -> Row:
    latency = names.MINER_REQUEST_LATENCY
    return Row(
        "Miners",
        [
            Panel(
                "Miner outcomes",
                "Requests per second each miner answered, by outcome.",
                [Target(q.miner_requests(RATE, NAMESPACE), "{{miner_hotkey}} {{outcome}}")],
                unit="reqps",
                options={"stacking": "normal"},
            ),
            Panel(
                "Miner latency",
                "Request duration at the miner (p50, p95) and as validators measure it (p95).",
                [
                    Target(
                        q.histogram_quantile(0.5, latency, "namespace, miner_hotkey", RATE, NAMESPACE),
                        "p50 {{miner_hotkey}}",
                    ),
                    Target(
                        q.histogram_quantile(0.95, latency, "namespace, miner_hotkey", RATE, NAMESPACE),
                        "p95 {{miner_hotkey}}",
                    ),
                    Target(
                        q.histogram_quantile(0.95, names.VALIDATOR_QUERY_LATENCY, q.VALIDATOR_KEYS, RATE, NAMESPACE),
                        "validator p95 {{validator_hotkey}}",
                    ),
                ],
                unit="s",
            ),
        ],
    )


def triton_row() -> Row:
    by = f"namespace, {scrape.RESOURCE_LABEL}"
    legend = f"{{{{{scrape.RESOURCE_LABEL}}}}}"
    return Row(
        "Triton",
        [
            Panel(
                "Triton queue time",
                "Mean time a request waits for a model instance; the operator scales replicas on it.",
                [Target(q.triton_queue_ms(by, RATE, NAMESPACE), legend)],
                unit="ms",
                width=8,
            ),
            Panel(
                "Triton compute time",
                "Mean inference time per request.",
                [Target(q.triton_compute_ms(by, RATE, NAMESPACE), legend)],
                unit="ms",
                width=8,
            ),
            Panel(
                "Triton replicas",
                "Replicas the operator's scaler set for each miner, and how many of them Prometheus scrapes.",
                [
                    Target(q.triton_replicas(NAMESPACE), "set {{name}}"),
                    Target(q.targets_up(scrape.TRITON_JOB, by, NAMESPACE), f"scraped {legend}"),
                ],
                width=8,
            ),
        ],
    )


def operator_row() -> Row:
    return Row(
        "Operator",
        [
            Panel(
                "Operator replicas up",
                "Operator replicas Prometheus scrapes; one of them is active, the others wait (kopf peering).",
                [Target(q.targets_up(scrape.OPERATOR_JOB, "job"), "up")],
                width=4,
                kind="stat",
            ),
            Panel(
                "Reconciles by result",
                "Reconciles per second of Validators and Miners; retry and invalid need a look.",
                [Target(q.operator_reconciles(RATE), "{{kind}} {{result}}")],
                unit="ops",
                width=10,
            ),
            Panel(
                "Reconcile latency",
                "How long one reconcile takes (p95).",
                [Target(q.histogram_quantile(0.95, names.OPERATOR_RECONCILE_LATENCY, "kind", RATE), "p95 {{kind}}")],
                unit="s",
                width=10,
            ),
            Panel(
                "Health conditions",
                "Each resource's health conditions as the operator last evaluated them: 1 True, 0 False, -1 Unknown.",
                [Target(q.operator_health(NAMESPACE), "{{kind}} {{name}} {{condition}}")],
                width=16,
            ),
            Panel(
                "Triton scaling decisions",
                "The scaler's decisions per second, by direction.",
                [Target(q.operator_scaling_decisions(RATE), "{{direction}}")],
                unit="ops",
                width=8,
            ),
        ],
    )


def gateway_row() -> Row:
    stage = names.GATEWAY_STAGE_LATENCY
    return Row(
        "Organic gateway",
        [
            Panel(
                "Gateway requests",
                "Organic requests per second by API key and outcome (per-key usage).",
                [Target(q.gateway_requests(RATE, NAMESPACE), "{{key}} {{outcome}}")],
                unit="reqps",
                options={"stacking": "normal"},
            ),
            Panel(
                "Gateway page latency by stage",
                "p95 seconds a page spends queued, with miners and in verification.",
                [
                    Target(q.histogram_quantile(0.95, stage, "namespace, stage", RATE, NAMESPACE), "p95 {{stage}}"),
                ],
                unit="s",
            ),
            Panel(
                "Verification pass rate per miner",
                "Share of each miner's organic answers whose canary passed.",
                [Target(q.gateway_pass_rate(RATE, NAMESPACE), "{{miner_hotkey}}")],
                unit="percentunit",
            ),
            Panel(
                "Unverified pages",
                "Share of organic pages no answer passed verification for (alert: OcrSubnetGatewayPagesFailing).",
                [Target(q.gateway_failed_page_ratio(RATE, NAMESPACE), "{{namespace}}")],
                unit="percentunit",
            ),
        ],
    )


def rows(t: Thresholds) -> list[Row]:
    return [validator_row(t), reward_row(), miner_row(), triton_row(), operator_row(), gateway_row()]


def _panel_json(panel: Panel, panel_id: int, x: int, y: int) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": panel_id,
        "type": panel.kind,
        "title": panel.title,
        "description": panel.description,
        "datasource": DATASOURCE,
        "gridPos": {"h": 8, "w": panel.width, "x": x, "y": y},
        "fieldConfig": {"defaults": {"unit": panel.unit, "custom": dict(panel.options)}, "overrides": []},
        "targets": [
            {"refId": chr(ord("A") + i), "datasource": DATASOURCE, "expr": t.expr, "legendFormat": t.legend}
            for i, t in enumerate(panel.targets)
        ],
    }
    if panel.kind == "timeseries":
        body["options"] = {"legend": {"displayMode": "table", "placement": "bottom"}, "tooltip": {"mode": "multi"}}
    return body


def _layout(all_rows: Sequence[Row]) -> list[dict[str, Any]]:
    """Rows stacked top to bottom, panels left to right, wrapping at the grid's width."""
    panels: list[dict[str, Any]] = []
    y = 0
    for row in all_rows:
        panels.append(
            {
                "id": len(panels) + 1,
                "type": "row",
                "title": row.title,
                "collapsed": False,
                "gridPos": {"h": 1, "w": WIDTH, "x": 0, "y": y},
                "panels": [],
            }
        )
        y, x = y + 1, 0
        for panel in row.panels:
            if x + panel.width > WIDTH:
                y, x = y + 8, 0
            panels.append(_panel_json(panel, len(panels) + 1, x, y))
            x += panel.width
        y += 8
    return panels


def _variables() -> list[dict[str, Any]]:
    namespaces = f'label_values(up{{job=~"{scrape.JOB_PREFIX}.*"}}, namespace)'
    return [
        {"name": "datasource", "type": "datasource", "query": "prometheus", "label": "Prometheus"},
        {
            "name": "namespace",
            "type": "query",
            "label": "Namespace",
            "datasource": DATASOURCE,
            "query": {"query": namespaces, "refId": "namespaces"},
            "definition": namespaces,
            "refresh": 2,
            "includeAll": True,
            "multi": True,
            "allValue": ".*",
            "current": {"text": "All", "value": "$__all"},
        },
    ]


def dashboard(thresholds: Thresholds | None = None) -> dict[str, Any]:
    t = thresholds or Thresholds.from_operator_defaults()
    return {
        "uid": UID,
        "title": TITLE,
        "tags": ["ocr-subnet", "bittensor"],
        "timezone": "browser",
        "schemaVersion": 39,
        "version": 1,
        "editable": True,
        "refresh": "30s",
        "time": {"from": "now-6h", "to": "now"},
        "templating": {"list": _variables()},
        "annotations": {"list": []},
        "panels": _layout(rows(t)),
    }


def expressions(model: dict[str, Any]) -> Iterator[str]:
    """Every PromQL expression of a dashboard model: panel targets (variable queries are Grafana's own)."""
    for panel in model["panels"]:
        for target in panel.get("targets", []):
            yield target["expr"]


def variable_queries(model: dict[str, Any]) -> Iterator[str]:
    """The `label_values(...)` queries of the dashboard's query variables."""
    for variable in model["templating"]["list"]:
        if variable["type"] == "query":
            yield variable["definition"]
