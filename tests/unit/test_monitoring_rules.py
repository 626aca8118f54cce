"""The shipped alert rules pass `promtool check rules`, and each alert fires on bad series and only on them.

`promtool test rules` (Debian's prometheus package) evaluates the chart's own alert-rules.yaml against
synthetic series: every case has a series that must fire and neighbours that must stay quiet.
Expected annotations are the rules' templates expanded for the case, so a broken template fails too.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml
from ocr_subnet import metric_names as names
from subnet_operator.monitoring import render, rules, scrape

from tests.support.tools import require_tool

REPO = Path(__file__).resolve().parents[2]
CHART_FILES = REPO / "charts" / "subnet" / "files"
NS = "subnet"
VALIDATOR = {"namespace": NS, "job": scrape.VALIDATOR_JOB, scrape.RESOURCE_LABEL: "validator-0"}
TRITON = {"namespace": NS, "job": scrape.TRITON_JOB}
OPERATOR = {"namespace": "ops", "job": scrape.OPERATOR_JOB}


def selector(name: str, labels: dict[str, str]) -> str:
    return name + "{" + ", ".join(f'{k}="{v}"' for k, v in labels.items()) + "}"


@dataclass(frozen=True)
class Case:
    """One alert: input series, when to look, and the alerts expected then (labels; `$value` as text)."""

    alert: str
    series: dict[str, str]  # series selector -> promtool values notation (one sample per minute)
    eval_time: str
    firing: list[dict[str, str]]
    value_text: str = ""
    quiet_time: str | None = None  # an earlier moment at which nothing may fire yet
    extra: dict[str, Any] = field(default_factory=dict)


def thresholds() -> rules.Thresholds:
    return rules.Thresholds.from_operator_defaults()


def weights_cases() -> list[Case]:
    # tempo 10 and rate limit 5: the limit is 3 * 10 + 5 = 35 blocks; one block per minute here.
    stale = {**VALIDATOR, "validator_hotkey": "5Stale"}
    fine = {**VALIDATOR, "validator_hotkey": "5Fine", scrape.RESOURCE_LABEL: "validator-1"}
    gauges: dict[str, str] = {}
    for labels, last in ((stale, "100+0x60"), (fine, "100+1x60")):
        gauges[selector(names.VALIDATOR_CURRENT_BLOCK, labels)] = "100+1x60"
        gauges[selector(names.VALIDATOR_LAST_WEIGHT_SET_BLOCK, labels)] = last
        gauges[selector(names.VALIDATOR_TEMPO, labels)] = "10+0x60"
        gauges[selector(names.VALIDATOR_WEIGHTS_RATE_LIMIT, labels)] = "5+0x60"
    attempts = {}
    for labels, failing in ((stale, True), (fine, False)):
        for result in names.WEIGHT_SET_RESULTS:
            grows = (result == "chain_error") if failing else (result == "success")
            attempts[selector(names.VALIDATOR_WEIGHT_SET_ATTEMPTS, {**labels, "result": result})] = (
                "0+1x60" if grows else "0+0x60"
            )
    return [
        Case(
            "OcrSubnetWeightsNotSet",
            gauges,
            "50m",
            [{"namespace": NS, "validator_hotkey": "5Stale"}],
            value_text="50",
            quiet_time="30m",
        ),
        Case(
            "OcrSubnetWeightSetFailing",
            attempts,
            "30m",
            [{"namespace": NS, "validator_hotkey": "5Stale"}],
            value_text="100%",
            quiet_time="5m",
        ),
    ]


def ema_case() -> Case:
    def ema(uid: str, values: str) -> tuple[str, str]:
        labels = {**VALIDATOR, "validator_hotkey": "5V", "uid": uid, "miner_hotkey": f"5M{uid}"}
        return selector(names.VALIDATOR_MINER_EMA, labels), values

    return Case(
        "OcrSubnetMinerEmaDropped",
        dict(
            [
                ema("1", "0.75x40 0.25x30"),  # falls by two thirds: fires
                ema("2", "0.5x70"),  # steady
                ema("3", "0.75x40 0.625x30"),  # falls by a sixth: within maxDrop
                ema("4", "0.03x40 0.0078125x30"),  # never above minEma: noise, quiet
            ]
        ),
        "50m",
        [{"namespace": NS, "validator_hotkey": "5V", "uid": "1", "miner_hotkey": "5M1"}],
        value_text="0.25",
        quiet_time="39m",
    )


def target_cases() -> list[Case]:
    down = {"namespace": NS, "job": scrape.MINER_JOB, scrape.RESOURCE_LABEL: "miner-0", "instance": "10.0.0.1:8091"}
    up = {**down, scrape.RESOURCE_LABEL: "miner-1", "instance": "10.0.0.2:8091"}
    other = {**down, "job": "somebody-else"}
    return [
        Case(
            "OcrSubnetTargetDown",
            {selector("up", down): "1x5 0x30", selector("up", up): "1x35", selector("up", other): "0x35"},
            "20m",
            [down],
            quiet_time="8m",
        ),
        Case(
            "OcrSubnetOperatorDown",
            {selector("up", {**OPERATOR, "instance": "a"}): "1x5 0x30", selector("up", {"job": "other"}): "1x35"},
            "30m",
            [{}],  # absent() of a comparison carries no labels
            quiet_time="10m",
        ),
    ]


def triton_cases() -> list[Case]:
    def triton(resource: str, queue_us_per_min: int) -> dict[str, str]:
        labels = {**TRITON, scrape.RESOURCE_LABEL: resource, "pod": f"{resource}-triton-abc-1", "model": "ocr"}
        return {
            selector(names.TRITON_REQUEST_SUCCESS, labels): "0+10x60",
            selector(names.TRITON_QUEUE_DURATION_US, labels): f"0+{queue_us_per_min}x60",
        }

    def replicas(name: str, values: str) -> dict[str, str]:
        return {selector(names.OPERATOR_TRITON_REPLICAS, {**OPERATOR, "namespace": NS, "name": name}): values}

    slow, calm = triton("miner-slow", 3_000_000), triton("miner-calm", 100_000)  # 300 ms and 10 ms per request
    return [
        Case(
            "OcrSubnetTritonQueueTimeHigh",
            {**slow, **calm},
            "30m",
            [{"namespace": NS, "resource": "miner-slow"}],
            value_text="300",
            quiet_time="5m",
        ),
        Case(
            "OcrSubnetTritonAtMaxReplicas",
            {
                **slow,
                **replicas("miner-slow", "4x60"),  # held at its maximum
                **triton("miner-growing", 3_000_000),
                **replicas("miner-growing", "1+1x60"),  # the scaler still adds replicas
                **calm,
                **replicas("miner-calm", "1x60"),
            },
            "40m",
            [{"namespace": NS, "resource": "miner-slow"}],
            quiet_time="10m",
        ),
    ]


def operator_case() -> Case:
    def reconciles(kind: str, result: str, values: str) -> tuple[str, str]:
        labels = {**OPERATOR, "kind": kind, "result": result}
        return selector(names.OPERATOR_RECONCILES, labels), values

    return Case(
        "OcrSubnetOperatorReconcileErrors",
        dict(
            [
                reconciles("Miner", "success", "0+2x60"),
                reconciles("Miner", "retry", "0+1x60"),
                reconciles("Validator", "success", "0+2x60"),
                reconciles("Validator", "retry", "0x60"),
                reconciles("Validator", "invalid", "0x60"),
            ]
        ),
        "30m",
        [{"kind": "Miner", "result": "retry"}],
        quiet_time="10m",
    )


def gateway_cases() -> list[Case]:
    gateway = {"job": scrape.GATEWAY_JOB, "pod": "v-gateway-abc-1"}
    pages = {}
    for namespace, failed, verified in ((NS, 3, 7), ("fine", 0, 10)):  # 30% unverified, and none
        for outcome, per_minute in (("failed", failed), ("verified", verified)):
            labels = {**gateway, "namespace": namespace, "key": "demo", "outcome": outcome}
            pages[selector(names.GATEWAY_PAGES, labels)] = f"0+{per_minute}x60"
    buckets = {}
    for namespace, slow in ((NS, True), ("fine", False)):  # every page 30-60 s with miners, or under 1 s
        for le in ("1.0", "30.0", "60.0", "+Inf"):
            labels = {**gateway, "namespace": namespace, "stage": "miners", "le": le}
            grows = le in ("60.0", "+Inf") if slow else True
            buckets[selector(names.GATEWAY_STAGE_LATENCY + "_bucket", labels)] = "0+1x60" if grows else "0x60"
    return [
        Case("OcrSubnetGatewayPagesFailing", pages, "30m", [{"namespace": NS}], value_text="30%", quiet_time="5m"),
        Case("OcrSubnetGatewaySlow", buckets, "30m", [{"namespace": NS}], value_text="58.5", quiet_time="5m"),
    ]


CASES = [*weights_cases(), ema_case(), *target_cases(), *triton_cases(), operator_case(), *gateway_cases()]
TEMPLATE = re.compile(r"\{\{\s*(\$labels\.(\w+)|\$value[^}]*)\s*\}\}")


def expand(template: str, labels: dict[str, str], value_text: str) -> str:
    """The rule's annotation as Prometheus expands it for an alert with `labels` and this `$value` text."""
    return TEMPLATE.sub(lambda m: labels.get(m.group(2), "") if m.group(2) else value_text, template)


def rule_of(alert: str) -> dict[str, Any]:
    for group in rules.rule_groups()["groups"]:
        for rule in group["rules"]:
            if rule["alert"] == alert:
                return rule
    raise KeyError(alert)


def promtool_test(case: Case) -> dict[str, Any]:
    rule = rule_of(case.alert)
    expected = []
    for labels in case.firing:
        all_labels = {**labels, **rule["labels"]}
        annotations = {k: expand(v, all_labels, case.value_text) for k, v in rule["annotations"].items()}
        expected.append({"exp_labels": all_labels, "exp_annotations": annotations})
    checks = [{"eval_time": case.eval_time, "alertname": case.alert, "exp_alerts": expected}]
    if case.quiet_time:
        checks.append({"eval_time": case.quiet_time, "alertname": case.alert, "exp_alerts": []})
    return {
        "interval": "1m",
        "input_series": [{"series": s, "values": v} for s, v in case.series.items()],
        "alert_rule_test": checks,
    }


def run_promtool(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [require_tool("promtool"), *args], cwd=cwd, capture_output=True, text=True, timeout=120, check=False
    )


@pytest.fixture
def rules_file(tmp_path: Path) -> Path:
    """The chart's shipped rules file (the drift test proves it equals a fresh render)."""
    path = tmp_path / render.RULES_FILE
    shutil.copy(CHART_FILES / render.RULES_FILE, path)
    return path


def test_every_alert_has_a_case_and_runbook() -> None:
    assert sorted(c.alert for c in CASES) == sorted(rules.alert_names())
    for group in rules.rule_groups()["groups"]:
        for rule in group["rules"]:
            assert {"summary", "description", "runbook"} <= set(rule["annotations"]), rule["alert"]
            assert len(rule["annotations"]["runbook"]) > 100, rule["alert"]


def test_promtool_check_rules(rules_file: Path) -> None:
    checked = run_promtool("check", "rules", rules_file.name, cwd=rules_file.parent)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert f"SUCCESS: {len(rules.alert_names())} rules found" in checked.stdout


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.alert)
def test_promtool_test_rules(case: Case, rules_file: Path) -> None:
    tests = {"rule_files": [rules_file.name], "evaluation_interval": "1m", "tests": [promtool_test(case)]}
    test_file = rules_file.parent / "tests.yaml"
    test_file.write_text(yaml.safe_dump(tests, sort_keys=False))
    tested = run_promtool("test", "rules", test_file.name, cwd=rules_file.parent)
    assert tested.returncode == 0, tested.stdout + tested.stderr
