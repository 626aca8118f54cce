"""The whole subnet on a kind cluster with real images: helm install with the local chain, three miners from
examples/miner.yaml, Ready everywhere, weights set, status filled in, Prometheus scraping with our alerts
loaded and none firing, and `helm test` passing.

scripts/kind-e2e.sh prepares the cluster (kind, our images `kind load`ed, kube-prometheus-stack as release
`kps` in namespace `monitoring`) and runs this with OCR_SUBNET_KUBECONFIG pointing at it. Waits are bounded
polls, never timing assertions.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
import yaml
from kubernetes import client
from ocr_subnet.monitoring import rules, scrape
from subnet_operator import api

from tests.integration.operator_harness import Resources
from tests.support.cluster import Cluster
from tests.support.helm import helm_env
from tests.support.poll import wait_until

pytestmark = [pytest.mark.kind, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]
CHART = REPO / "charts" / "subnet"
EXAMPLES = REPO / "examples"
LOCAL_VALUES = EXAMPLES / "values-local.yaml"
NAMESPACE = "ocr-subnet"
RELEASE = "subnet"
PROMETHEUS = ("monitoring", "kps-prometheus:9090")  # namespace, service:port, as scripts/kind-e2e.sh installs it
READY_S = 900.0  # images are local, but Triton loads a model on CPU
WEIGHTS_S = 600.0


def run_helm(binary: Path, env: dict[str, str], *args: str) -> str:
    done = subprocess.run([str(binary), *args], capture_output=True, text=True, timeout=900, check=False, env=env)
    assert done.returncode == 0, f"helm {' '.join(args)}:\n{done.stdout}\n{done.stderr}"
    return done.stdout


def documents(path: Path) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc]


def prometheus(cluster: Cluster, path: str, **params: str) -> Any:
    """Prometheus's HTTP API through the API server's service proxy (no port-forward, nothing on the host)."""
    namespace, service = PROMETHEUS
    url = f"/api/v1/namespaces/{namespace}/services/{service}/proxy/api/v1/{path}"
    body = json.loads(cluster.kubectl("get", "--raw", f"{url}?{urlencode(params)}" if params else url).stdout)
    assert body["status"] == "success", body
    return body["data"]


def local_chain_url(cluster: Cluster) -> str:
    services = client.CoreV1Api(cluster.api).list_namespaced_service(
        NAMESPACE, label_selector="app.kubernetes.io/component=local-chain"
    )
    (service,) = services.items
    return f"http://{service.metadata.name}.{NAMESPACE}.svc:{service.spec.ports[0].port}"


def miners_on_the_local_chain(url: str, netuid: int) -> list[dict[str, Any]]:
    """examples/miner.yaml as it is, but with each Miner's chain pointed at the chart's local chain."""
    docs = documents(EXAMPLES / "miner.yaml")
    for doc in docs:
        if doc["kind"] == api.MINER.kind:
            doc["spec"]["chain"] = {"endpoint": url, "netuid": netuid}
    return docs


def our_series_up(cluster: Cluster) -> dict[str, list[float]]:
    result = prometheus(cluster, "query", query=f'up{{job=~"{scrape.JOB_PREFIX}.*"}}')["result"]
    jobs: dict[str, list[float]] = {}
    for sample in result:
        jobs.setdefault(sample["metric"]["job"], []).append(float(sample["value"][1]))
    return jobs


def test_subnet_end_to_end(k8s_cluster: Cluster, helm: Path, tmp_path: Path) -> None:
    cluster = k8s_cluster
    env = helm_env(tmp_path / "helm", cluster.kubeconfig)
    resources = Resources(cluster, NAMESPACE)
    local = yaml.safe_load(LOCAL_VALUES.read_text())
    install = ("install", RELEASE, str(CHART), "-n", NAMESPACE, "--create-namespace", "-f", str(LOCAL_VALUES))
    run_helm(helm, env, *install, "--wait", "--timeout", "10m")
    try:
        # The demo hotkeys: the validator's Secret (its Validator comes from the values), then the miners.
        cluster.kubectl(
            "apply",
            "-n",
            NAMESPACE,
            "-l",
            "app.kubernetes.io/part-of=ocr-subnet",
            "-f",
            str(EXAMPLES / "validator.yaml"),
        )
        miner_docs = miners_on_the_local_chain(local_chain_url(cluster), local["localChain"]["netuid"])
        resources.apply(*miner_docs)
        miners = [d["metadata"]["name"] for d in miner_docs if d["kind"] == api.MINER.kind]
        assert len(miners) == 3

        cluster.kubectl(
            "wait",
            "job",
            "-n",
            NAMESPACE,
            "-l",
            "app.kubernetes.io/component=local-chain",
            "--for=condition=complete",
            f"--timeout={int(READY_S)}s",
        )
        for kind, name in [(api.VALIDATOR, "validator"), *((api.MINER, m) for m in miners)]:
            wait_until(lambda k=kind, n=name: resources.converged(k, n), f"{kind.kind} {name} Ready", READY_S, 2.0)

        wait_until(
            lambda: resources.has_condition(api.VALIDATOR, "validator", api.WEIGHTS_HEALTHY, "True"),
            "the validator setting weights",
            WEIGHTS_S,
            2.0,
        )
        validator_status = resources.get(api.VALIDATOR, "validator")["status"]
        assert validator_status["lastWeightSetBlock"] <= validator_status["currentBlock"]
        for name in miners:
            wait_until(
                lambda n=name: (resources.get(api.MINER, n) or {}).get("status", {}).get("ema", 0) > 0,
                f"miner {name} scored by the validator",
                WEIGHTS_S,
                2.0,
            )
            status = resources.get(api.MINER, name)["status"]
            assert status["uid"] is not None and status["tritonReplicas"] >= 1, status

        expected = {scrape.VALIDATOR_JOB: 1, scrape.MINER_JOB: 3, scrape.TRITON_JOB: 3, scrape.OPERATOR_JOB: 1}
        wait_until(
            lambda: all(
                len([v for v in our_series_up(cluster).get(job, []) if v == 1]) >= count
                for job, count in expected.items()
            ),
            "Prometheus scraping the validator, the miners, their Triton servers and the operator",
            READY_S,
            5.0,
        )
        loaded = {rule["name"] for group in prometheus(cluster, "rules")["groups"] for rule in group["rules"]}
        assert set(rules.alert_names()) <= loaded
        firing = [
            alert["labels"]["alertname"]
            for alert in prometheus(cluster, "alerts")["alerts"]
            if alert["labels"]["alertname"] in rules.alert_names() and alert["state"] == "firing"
        ]
        assert firing == []

        run_helm(helm, env, "test", RELEASE, "-n", NAMESPACE, "--timeout", "5m")
    finally:
        resources.delete_all()  # while the operator still runs: its finalizers let them go
        run_helm(helm, env, "uninstall", RELEASE, "-n", NAMESPACE, "--wait")
        cluster.kubectl("delete", "namespace", NAMESPACE, "--wait=false")
