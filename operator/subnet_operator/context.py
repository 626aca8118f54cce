"""What every handler needs, built once per operator run and handed to kopf as its memo."""

from __future__ import annotations

from dataclasses import dataclass, field

import kubernetes

from subnet_operator.kube import Cluster
from subnet_operator.metrics import OperatorMetrics
from subnet_operator.prometheus import Prometheus, PrometheusAccess


@dataclass(frozen=True)
class OperatorConfig:
    """`ocr-subnet operator run`'s options."""

    namespaces: tuple[str, ...] = ()  # empty: every namespace
    kubeconfig: str | None = None
    prometheus_url: str | None = "http://127.0.0.1:9090"
    prometheus_access: PrometheusAccess = field(default_factory=PrometheusAccess)
    metrics_host: str = "127.0.0.1"
    metrics_port: int = 9102
    liveness_endpoint: str | None = "http://127.0.0.1:8080/healthz"
    health_interval_s: float = 15.0
    scale_interval_s: float = 15.0
    standalone: bool = False
    priority: int = 0
    workers: int = 8
    image_pull_secrets: tuple[str, ...] = ()  # added to every pod the operator makes
    network_policies: bool = False  # a NetworkPolicy per owned component (builders/network.py)
    monitoring_namespaces: tuple[str, ...] = ("monitoring",)  # may scrape metrics under those policies
    webhook_host: str = "0.0.0.0"
    webhook_port: int = 0  # 0: no admission webhook (the reconcile still checks every spec)
    webhook_cert: str | None = None  # PEM serving certificate and key; kopf re-reads them when they change
    webhook_key: str | None = None


@dataclass
class Context:
    config: OperatorConfig
    kube_config: kubernetes.client.Configuration
    cluster: Cluster
    prometheus: Prometheus | None
    metrics: OperatorMetrics = field(default_factory=OperatorMetrics)

    def close(self) -> None:
        self.cluster.close()
        if self.prometheus is not None:
            self.prometheus.close()
