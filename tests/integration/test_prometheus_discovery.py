"""A Prometheus without the Prometheus Operator (Debian's, which has no Kubernetes discovery) scrapes the same
pods under the same jobs and labels as the chart's PodMonitor and ServiceMonitor, from the targets file that
`ocr-subnet monitoring discover` keeps: the alerts, the dashboard and the operator's queries depend on them."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from typing import Any

import pytest
from prometheus_client import CollectorRegistry, Gauge, start_http_server
from subnet_operator.monitoring import scrape

from tests.support.ports import free_port
from tests.support.prometheus import Prometheus, start_prometheus
from tests.unit.test_monitoring_scrape import built_pods

pytestmark = pytest.mark.integration
NAMESPACE = "subnet"


@pytest.fixture(scope="module")
def exporter_port() -> Iterator[int]:
    registry = CollectorRegistry()
    Gauge("e2e_probe", "a series to scrape", registry=registry).set(1)
    port = free_port()
    server, thread = start_http_server(port, addr="127.0.0.1", registry=registry)
    yield port
    server.shutdown()
    thread.join(timeout=5)


def as_pod(name: str, template: dict[str, Any], metrics_port_name: str, port: int) -> dict[str, Any]:
    """A running pod from a pod template, its metrics port moved to `port` on loopback."""
    spec = copy.deepcopy(template["spec"])
    for container in spec["containers"]:
        for container_port in container.get("ports") or []:
            if container_port["name"] == metrics_port_name:
                container_port["containerPort"] = port
    metadata = {"name": name, "namespace": NAMESPACE, "labels": template["metadata"]["labels"]}
    return {"metadata": metadata, "spec": spec, "status": {"phase": "Running", "podIP": "127.0.0.1"}}


@pytest.fixture(scope="module")
def discovered(tmp_path_factory: pytest.TempPathFactory, exporter_port: int) -> Iterator[Prometheus]:
    pods = [
        as_pod(f"{component}-pod", template, scrape.METRICS_PORTS[component], exporter_port)
        for component, template in built_pods().items()
    ]
    operator = {"name": "operator", "ports": [{"name": "metrics", "containerPort": exporter_port}]}
    pods.append(
        {
            "metadata": {
                "name": "operator-pod",
                "namespace": "ops",
                "labels": {"app.kubernetes.io/component": "operator"},
            },
            "spec": {"containers": [operator]},
            "status": {"phase": "Running", "podIP": "127.0.0.1"},
        }
    )
    stranger = {"name": "web", "ports": [{"name": "metrics", "containerPort": exporter_port}]}
    pods.append(
        {
            "metadata": {"name": "stranger", "namespace": NAMESPACE, "labels": {"app": "web"}},
            "spec": {"containers": [stranger]},
            "status": {"phase": "Running", "podIP": "127.0.0.1"},
        }
    )
    pods.append({**pods[0], "metadata": {**pods[0]["metadata"], "name": "pending"}, "status": {"phase": "Pending"}})
    work = tmp_path_factory.mktemp("prometheus")
    targets = work / "targets.json"
    targets.write_text(json.dumps(scrape.file_sd_groups(pods)))
    discovery = {"file_sd_configs": [{"files": [str(targets)], "refresh_interval": "1s"}]}
    config = {
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s", "scrape_timeout": "1s"},
        "scrape_configs": scrape.prometheus_scrape_configs("1s", discovery),
    }
    server = start_prometheus(work / "server", config)
    yield server
    server.stop()


JOBS = len(scrape.METRICS_PORTS) + 1  # every component the operator runs, and the operator


def test_each_component_is_scraped_under_its_job_with_the_monitors_labels(discovered: Prometheus) -> None:
    samples = discovered.wait_for(f'up{{job=~"{scrape.JOB_PREFIX}.*"}} == 1', lambda s: len(s) == JOBS, 30.0)
    by_job = {s.labels["job"]: s.labels for s in samples}
    assert set(by_job) == {
        scrape.VALIDATOR_JOB,
        scrape.MINER_JOB,
        scrape.TRITON_JOB,
        scrape.GATEWAY_JOB,
        scrape.OPERATOR_JOB,
    }
    for component in scrape.METRICS_PORTS:
        labels = by_job[scrape.job(component)]
        assert labels["namespace"] == NAMESPACE and labels["pod"] == f"{component}-pod", labels
        assert labels[scrape.RESOURCE_LABEL] == "m0", labels
    assert by_job[scrape.OPERATOR_JOB]["pod"] == "operator-pod"


def test_pods_outside_the_subnet_and_pods_without_an_address_are_not_targets(discovered: Prometheus) -> None:
    discovered.wait_for(f'up{{job=~"{scrape.JOB_PREFIX}.*"}}', lambda s: len(s) == JOBS, 30.0)
    pods = {t["scrapeUrl"] for t in discovered.targets()}
    assert len(pods) == 1  # every target is the one exporter: one URL for every job
    assert not discovered.query('up{pod=~"stranger|pending"}')
