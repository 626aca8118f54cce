"""The tools the chart and operator tests drive next to the cluster: helm 3.10 and a real Prometheus."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes import client
from prometheus_client import CollectorRegistry, Gauge, start_http_server

from tests.support.cluster import Cluster
from tests.support.helm import helm_env
from tests.support.ports import free_port
from tests.support.prometheus import Prometheus, scrape_config

pytestmark = pytest.mark.integration

CHART_VALUES = {"greeting": "hello", "image": "registry.k8s.io/pause:3.9"}
TEMPLATES = {
    "configmap.yaml": """\
apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ .Release.Name }}-settings
data:
  greeting: {{ .Values.greeting | quote }}
""",
    "deployment.yaml": """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ .Release.Name }}-app
spec:
  replicas: 1
  selector:
    matchLabels: {app: {{ .Release.Name }}}
  template:
    metadata:
      labels: {app: {{ .Release.Name }}}
    spec:
      containers:
        - name: main
          image: {{ .Values.image }}
          resources:
            requests: {cpu: 10m, memory: 16Mi}
""",
}


def write_chart(folder: Path) -> Path:
    (folder / "templates").mkdir(parents=True)
    chart = {"apiVersion": "v2", "name": "tiny", "version": "0.1.0", "appVersion": "1"}
    (folder / "Chart.yaml").write_text(yaml.safe_dump(chart))
    (folder / "values.yaml").write_text(yaml.safe_dump(CHART_VALUES))
    for name, text in TEMPLATES.items():
        (folder / "templates" / name).write_text(text)
    return folder


def test_helm_3_10_installs_waits_for_and_uninstalls_a_chart(
    k8s_cluster: Cluster, k8s_namespace: str, helm: Path, tmp_path: Path
) -> None:
    chart = write_chart(tmp_path / "tiny")
    env = helm_env(tmp_path / "helm-home", k8s_cluster.kubeconfig)

    def run(*args: str) -> str:
        done = subprocess.run([str(helm), *args], env=env, capture_output=True, text=True, timeout=180, check=False)
        assert done.returncode == 0, f"helm {' '.join(args)}:\n{done.stderr}"
        return done.stdout

    assert run("version", "--template", "{{.Version}}") == "v3.10.1"
    run("install", "demo", str(chart), "-n", k8s_namespace, "--set", "greeting=hi", "--wait", "--timeout", "120s")
    core = client.CoreV1Api(k8s_cluster.api)
    assert core.read_namespaced_config_map("demo-settings", k8s_namespace).data == {"greeting": "hi"}
    status = client.AppsV1Api(k8s_cluster.api).read_namespaced_deployment_status("demo-app", k8s_namespace).status
    assert status.available_replicas == 1
    (release,) = json.loads(run("list", "-n", k8s_namespace, "-o", "json"))
    assert (release["name"], release["status"]) == ("demo", "deployed")

    run("uninstall", "demo", "-n", k8s_namespace)
    assert json.loads(run("list", "-n", k8s_namespace, "-o", "json")) == []
    assert "demo-settings" not in {item.metadata.name for item in core.list_namespaced_config_map(k8s_namespace).items}


def test_prometheus_scrapes_a_loopback_exporter_and_answers_queries(
    prometheus: Callable[[Mapping[str, Any]], Prometheus],
) -> None:
    registry = CollectorRegistry()
    gauge = Gauge("ocr_subnet_fixture_value", "A value the test sets.", ["who"], registry=registry)
    gauge.labels(who="test").set(42)
    port = free_port()
    server, _ = start_http_server(port, addr="127.0.0.1", registry=registry)
    try:
        server_under_test = prometheus(scrape_config({"exporter": [f"127.0.0.1:{port}"]}, interval_s=1.0))
        (sample,) = server_under_test.wait_for("ocr_subnet_fixture_value")
        assert sample.value == 42 and sample.labels["who"] == "test" and sample.labels["job"] == "exporter"

        gauge.labels(who="test").set(7)
        server_under_test.wait_for("ocr_subnet_fixture_value", until=lambda s: [x.value for x in s] == [7.0])
        (up,) = server_under_test.query('up{job="exporter"}')
        assert up.value == 1
    finally:
        server.shutdown()
