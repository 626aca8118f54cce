"""Every PromQL expression the chart ships runs on a real Prometheus (Debian's) and, for the dashboard, returns data.

Prometheus scrapes the neurons' and the operator's real metric classes (and a fake Triton exporter serving
`nv_inference_*` series), labelled the way the chart's PodMonitor labels them. Each dashboard expression,
with Grafana's variables filled in, must execute and answer with at least one series, so a label that
exists in no series (a typo, a renamed label) fails here; each alert expression must execute.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
from ocr_subnet import metric_names as names
from ocr_subnet.chain.port import Hyperparameters, WeightSetOutcome, WeightSetResult
from ocr_subnet.gateway.metrics import GatewayMetrics
from ocr_subnet.miner.gate import PriorityGate
from ocr_subnet.miner.metrics import MinerMetrics
from ocr_subnet.miner.policy import Outcome
from ocr_subnet.validator.metrics import ValidatorMetrics
from ocr_subnet.validator.policy import MinerScore
from prometheus_client import CollectorRegistry, Gauge, generate_latest
from subnet_operator.metrics import OperatorMetrics
from subnet_operator.monitoring import dashboard, rules, scrape

from tests.support.prometheus import Prometheus, start_prometheus

pytestmark = pytest.mark.integration

NAMESPACE = "subnet"
# Grafana fills these in; any valid value will do for checking that an expression runs.
GRAFANA_VARIABLES = {"$__rate_interval": "1m", "$__range": "1h", "$namespace": ".*"}


def validator_registry() -> CollectorRegistry:
    metrics = ValidatorMetrics("5Validator")
    metrics.observe_chain(120, Hyperparameters(tempo=10, weights_rate_limit=5, commit_reveal_enabled=False))
    metrics.observe_weight_set(WeightSetResult(WeightSetOutcome.SUCCESS, block=110))
    metrics.observe_last_weight_block(110)
    parts = {part: 0.5 for part in names.REWARD_PARTS}
    metrics.set_miners({"5Miner": MinerScore(uid=1, ema=0.4)}, {"5Miner": parts})
    metrics.latency.labels("5Validator").observe(0.3)
    return metrics.registry


def miner_registry() -> CollectorRegistry:
    metrics = MinerMetrics("5Miner", "triton", PriorityGate(slots=2, max_waiting=4))
    metrics.request_done(Outcome.OK, 0.2)
    metrics.backend_done(0.1)
    return metrics.registry


def triton_registry() -> CollectorRegistry:
    """A fake Triton: its counters as plain series with the model labels Triton puts on them."""
    registry = CollectorRegistry()
    for name, value in (
        (names.TRITON_REQUEST_SUCCESS, 100),
        (names.TRITON_REQUEST_FAILURE, 0),
        (names.TRITON_QUEUE_DURATION_US, 5_000_000),
        (names.TRITON_COMPUTE_INFER_DURATION_US, 20_000_000),
        (names.TRITON_PENDING_REQUEST_COUNT, 2),
    ):
        Gauge(name, "fake Triton series", ["model", "version"], registry=registry).labels("ocr", "1").set(value)
    return registry


def gateway_registry() -> CollectorRegistry:
    metrics = GatewayMetrics()
    metrics.requests.labels("demo", "ok").inc()
    metrics.pages.labels("demo", "verified").inc(2)
    metrics.pages.labels("demo", "failed").inc()
    for stage in names.GATEWAY_STAGES:
        metrics.stage.labels(stage).observe(0.5)
    metrics.verifications.labels("5Miner", "passed").inc()
    return metrics.registry


def operator_registry() -> CollectorRegistry:
    metrics = OperatorMetrics()
    metrics.reconciles.labels("Miner", "success").inc()
    metrics.latency.labels("Miner").observe(0.05)
    metrics.set_health("Miner", NAMESPACE, "m0", "Ready", "True")
    metrics.triton_replicas.labels(NAMESPACE, "m0").set(2)
    return metrics.registry


class Exporter:
    """Serves one registry's /metrics on a loopback port."""

    def __init__(self, registry: CollectorRegistry) -> None:
        body_of: Callable[[], bytes] = lambda: generate_latest(registry)  # noqa: E731

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                body = body_of()
                self.send_response(200)
                self.send_header("Content-Type", "text/plain; version=0.0.4")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *_: Any) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def target(self) -> str:
        return f"127.0.0.1:{self.server.server_address[1]}"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def subnet_prometheus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Prometheus]:
    """Prometheus scraping each component under the job and labels the chart's monitors give it."""
    exporters = {
        scrape.VALIDATOR_JOB: Exporter(validator_registry()),
        scrape.MINER_JOB: Exporter(miner_registry()),
        scrape.TRITON_JOB: Exporter(triton_registry()),
        scrape.OPERATOR_JOB: Exporter(operator_registry()),
        scrape.GATEWAY_JOB: Exporter(gateway_registry()),
    }
    config = {
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s", "scrape_timeout": "1s"},
        "scrape_configs": [
            {
                "job_name": job,
                # The operator's series carry the namespace of the resource they describe (ServiceMonitor honorLabels).
                "honor_labels": job == scrape.OPERATOR_JOB,
                "static_configs": [
                    {
                        "targets": [exporter.target],
                        "labels": {"namespace": NAMESPACE, scrape.RESOURCE_LABEL: "m0", "pod": f"{job}-abc-1"},
                    }
                ],
            }
            for job, exporter in exporters.items()
        ],
    }
    try:
        server = start_prometheus(tmp_path_factory.mktemp("prometheus"), config)
        try:
            # rate() needs two samples of every target.
            server.wait_for(
                f"count_over_time(up{{job=~'{scrape.JOB_PREFIX}.*'}}[1m]) >= 3", lambda s: len(s) == len(exporters)
            )
            yield server
        finally:
            server.stop()
    finally:
        for exporter in exporters.values():
            exporter.stop()


def with_variables(expr: str) -> str:
    for variable, value in GRAFANA_VARIABLES.items():
        expr = expr.replace(variable, value)
    return expr


def test_every_dashboard_expression_runs_and_finds_data(subnet_prometheus: Prometheus) -> None:
    model = dashboard.dashboard()
    empty = []
    for expr in dashboard.expressions(model):
        if not subnet_prometheus.query(with_variables(expr)):  # raises when Prometheus rejects it
            empty.append(expr)
    assert not empty, f"no data for: {empty}; targets: {subnet_prometheus.targets()}"


def test_dashboard_variables_find_the_namespace(subnet_prometheus: Prometheus) -> None:
    for definition in dashboard.variable_queries(dashboard.dashboard()):
        assert definition.startswith("label_values(") and definition.endswith(")")
        match, label = definition[len("label_values(") : -1].rsplit(",", 1)
        reply = httpx.get(
            f"{subnet_prometheus.url}/api/v1/label/{label.strip()}/values",
            params={"match[]": match},
            timeout=10.0,
            trust_env=False,
        ).json()
        assert reply["status"] == "success", reply
        assert NAMESPACE in reply["data"]


def test_every_alert_expression_runs(subnet_prometheus: Prometheus) -> None:
    """The scraped subnet is healthy, so only the alerts about missing history may answer; none may fail."""
    for group in rules.rule_groups()["groups"]:
        for rule in group["rules"]:
            subnet_prometheus.query(rule["expr"])
