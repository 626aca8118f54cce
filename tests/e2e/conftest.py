"""The end-to-end tier: the whole subnet from our images on a real cluster. One tier, two clusters:

- `node`: the real single node of scripts/node.sh (kubelet, containerd, runc, in a network namespace with
  no route out), which `make e2e` starts. pytest itself runs inside that namespace, so it reaches pods and
  Services directly, and Prometheus (Debian's, started here) runs beside the node's daemons.
- `kind`: a kind cluster where Docker exists (scripts/kind-e2e.sh), with kube-prometheus-stack's Prometheus.

The scripts say which with OCR_SUBNET_E2E_CLUSTER and give the kubeconfig in OCR_SUBNET_KUBECONFIG; without
them every test here is skipped, saying how to run it.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlencode, urlsplit

import httpx
import pytest
import yaml

from tests.support.cluster import Cluster
from tests.support.prometheus import Prometheus, start_prometheus

CLUSTERS = ("node", "kind")
KPS = ("monitoring", "kps-prometheus:9090")  # kube-prometheus-stack as scripts/kind-e2e.sh installs it


def cluster_kind() -> str | None:
    kind = os.environ.get("OCR_SUBNET_E2E_CLUSTER")
    return kind if kind in CLUSTERS and os.environ.get("OCR_SUBNET_KUBECONFIG") else None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if cluster_kind() is not None:
        return
    skip = pytest.mark.skip(reason="e2e tier: run `make e2e` (a real node here) or scripts/kind-e2e.sh (kind)")
    for item in items:
        if item.get_closest_marker("e2e") is not None:
            item.add_marker(skip)


class ClusterPrometheus(Protocol):
    """The Prometheus that scrapes the cluster, whichever runs it."""

    url_for_pods: str | None  # what the operator is given; None: the chart values already name it

    def api(self, path: str, **params: str) -> Any: ...


class NodePrometheus:
    """Debian's Prometheus on the node, scraping the pods it finds through `ocr-subnet monitoring discover`."""

    def __init__(self, server: Prometheus, node_ip: str) -> None:
        self.server = server
        self.url_for_pods = f"http://{node_ip}:{urlsplit(server.url).port}"

    def api(self, path: str, **params: str) -> Any:
        body = httpx.get(f"{self.server.url}/api/v1/{path}", params=params, timeout=10.0, trust_env=False).json()
        assert body["status"] == "success", body
        return body["data"]


class KindPrometheus:
    """kube-prometheus-stack's Prometheus, through the API server's service proxy (nothing on the host)."""

    url_for_pods = None

    def __init__(self, cluster: Cluster) -> None:
        self.cluster = cluster

    def api(self, path: str, **params: str) -> Any:
        namespace, service = KPS
        url = f"/api/v1/namespaces/{namespace}/services/{service}/proxy/api/v1/{path}"
        body = json.loads(self.cluster.kubectl("get", "--raw", f"{url}?{urlencode(params)}" if params else url).stdout)
        assert body["status"] == "success", body
        return body["data"]


@pytest.fixture(scope="session")
def cluster_prometheus(k8s_cluster: Cluster, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ClusterPrometheus]:
    if cluster_kind() == "kind":
        yield KindPrometheus(k8s_cluster)
        return
    work = tmp_path_factory.mktemp("prometheus")
    targets = work / "targets.json"
    targets.write_text("[]")
    cli = [shutil.which("ocr-subnet") or "ocr-subnet", "monitoring"]
    config_path = subprocess.run(
        [*cli, "prometheus-config", "--out", str(work), "--targets-file", str(targets), "--interval", "5s"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    with (work / "discover.log").open("w") as log:
        discover = subprocess.Popen(
            [*cli, "discover", "--out", str(targets), "--interval", "2", "--kubeconfig", str(k8s_cluster.kubeconfig)],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    # Inside the node's namespace, so the operator's pod reaches it on the node IP; nothing else can.
    server = start_prometheus(work / "server", yaml.safe_load(Path(config_path).read_text()), host="0.0.0.0")
    try:
        yield NodePrometheus(server, os.environ["OCR_SUBNET_NODE_IP"])
    finally:
        server.stop()
        discover.terminate()
        discover.wait(timeout=30)
