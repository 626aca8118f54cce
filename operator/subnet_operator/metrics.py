"""The operator's own /metrics: reconciles by result and their latency, scaling decisions, health states.

Names and label values come from `ocr_subnet.metric_names`, which the alert rules and dashboards read.
"""

from __future__ import annotations

import contextlib
from wsgiref.simple_server import WSGIServer

from ocr_subnet import metric_names as names
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server

from subnet_operator.conditions import FALSE, TRUE

HEALTH_VALUES = {TRUE: 1.0, FALSE: 0.0}  # anything else (Unknown) is -1
RECONCILE_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class OperatorMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.reconciles = Counter(
            names.OPERATOR_RECONCILES, "Reconciles by kind and result", ["kind", "result"], registry=r
        )
        self.latency = Histogram(
            names.OPERATOR_RECONCILE_LATENCY, "Time one reconcile took", ["kind"], buckets=RECONCILE_BUCKETS, registry=r
        )
        self.scaling = Counter(names.OPERATOR_SCALING_DECISIONS, "Triton scaling decisions", ["direction"], registry=r)
        self.health = Gauge(
            names.OPERATOR_HEALTH,
            "Condition status per resource: 1 True, 0 False, -1 Unknown",
            ["kind", "namespace", "name", "condition"],
            registry=r,
        )
        self.triton_replicas = Gauge(
            names.OPERATOR_TRITON_REPLICAS, "Triton replicas the scaler set", ["namespace", "name"], registry=r
        )
        for kind in ("Validator", "Miner"):  # series exist from the start, so rate() sees the first one
            for result in names.RECONCILE_RESULTS:
                self.reconciles.labels(kind, result)
        for direction in names.SCALING_DIRECTIONS:
            self.scaling.labels(direction)

    def set_health(self, kind: str, namespace: str, name: str, condition: str, status: str) -> None:
        self.health.labels(kind, namespace, name, condition).set(HEALTH_VALUES.get(status, -1.0))

    def forget(self, kind: str, namespace: str, name: str, conditions: tuple[str, ...]) -> None:
        """Drop a deleted resource's series, so dashboards do not show it forever."""
        with contextlib.suppress(KeyError):
            self.triton_replicas.remove(namespace, name)
        for condition in conditions:
            with contextlib.suppress(KeyError):
                self.health.remove(kind, namespace, name, condition)

    def serve(self, host: str, port: int) -> WSGIServer:
        """/metrics on a background thread; the caller shuts the returned server down."""
        server, _thread = start_http_server(port, addr=host, registry=self.registry)
        return server
