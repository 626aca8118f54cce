"""The whole subnet from our images on a real cluster, the way a user runs it:

1. `helm install subnet charts/subnet -f examples/values-local.yaml`: the operator runs in the cluster from
   its image under the chart's RBAC, with the chart's local chain and a validator;
2. `kubectl apply -f examples/miner.yaml`: three miners with CPU Triton servers, pointed at the local chain;
3. every pod Running and Ready, the miners scored, weights set on the chart's chain;
4. each Miner's and the Validator's status: phase, uid, EMA, conditions, blocks since weights;
5. Prometheus scraping every pod, our alerts loaded and none firing;
6. a deleted Triton pod and a deleted miner pod come back; Triton's replicas follow load;
7. `helm test`; `kubectl delete` the applied miners, then `helm uninstall` alone (its pre-delete hook
   deletes the Validator from the values): everything gone but the CRDs.

It writes what it saw to .local/e2e/summary.json (image sizes and digests, time to each milestone, pods'
phases and restarts, EMAs, the last weights block, the operator's reconcile count), also when it fails.
Waits are bounded polls, never timing assertions.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from kubernetes import client
from ocr_subnet import metric_names as names
from ocr_subnet.backends.triton import TritonBackend
from ocr_subnet.challenge.generate import render_page
from ocr_subnet.gateway.keys import add_key
from PIL import Image, ImageDraw, ImageFont
from subnet_operator import api
from subnet_operator.builders import triton
from subnet_operator.builders.gateway import GATEWAY_COMPONENT
from subnet_operator.monitoring import rules, scrape

from tests.e2e.conftest import ClusterPrometheus, cluster_kind
from tests.integration.operator_harness import Resources
from tests.support.cluster import Cluster
from tests.support.helm import helm_env
from tests.support.poll import wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]
CHART = REPO / "charts" / "subnet"
EXAMPLES = REPO / "examples"
LOCAL_VALUES = EXAMPLES / "values-local.yaml"
SUMMARY = REPO / ".local" / "e2e" / "summary.json"
IMAGES_MANIFEST = Path(os.environ.get("OCR_SUBNET_IMAGES_MANIFEST", REPO / ".local" / "images" / "manifest.json"))
NAMESPACE = "ocr-subnet"
RELEASE = "subnet"
READY_S = 900.0  # Triton loads the model on a CPU shared by every pod
WEIGHTS_S = 600.0
SCALE_S = 600.0
LOAD_CLIENTS = 6
# The load phase's queue-time target: a quarter of the example's 2,000 ms, so that a fast machine's queue under
# LOAD_CLIENTS is still well past it, while the example stays what a small CPU node should run.
LOAD_TARGET_QUEUE_MS = 500
GATEWAY_KEYS = "validator-gateway-keys"
GATEWAY_PORT = 8080  # the CRD's default
GATEWAY_SEED = 3  # a tutorial invoice: what the demo's miners were trained to read


def run_helm(binary: Path, env: dict[str, str], *args: str) -> str:
    done = subprocess.run([str(binary), *args], capture_output=True, text=True, timeout=900, check=False, env=env)
    assert done.returncode == 0, f"helm {' '.join(args)}:\n{done.stdout}\n{done.stderr}"
    return done.stdout


def documents(path: Path) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc]


def local_chain_url(core: client.CoreV1Api) -> str:
    services = core.list_namespaced_service(NAMESPACE, label_selector=f"{api.LABEL_COMPONENT}=local-chain")
    (service,) = services.items
    return f"http://{service.metadata.name}.{NAMESPACE}.svc:{service.spec.ports[0].port}"


def miners_on_the_local_chain(url: str, netuid: int) -> list[dict[str, Any]]:
    """examples/miner.yaml as it is, but with each Miner's chain pointed at the chart's local chain."""
    docs = documents(EXAMPLES / "miner.yaml")
    for doc in docs:
        if doc["kind"] == api.MINER.kind:
            doc["spec"]["chain"] = {"endpoint": url, "netuid": netuid}
    return docs


def pods_of(core: client.CoreV1Api, instance: str, component: str) -> list[client.V1Pod]:
    selector = f"{api.LABEL_INSTANCE}={instance},{api.LABEL_COMPONENT}={component}"
    return core.list_namespaced_pod(NAMESPACE, label_selector=selector).items


def ready(pod: client.V1Pod) -> bool:
    conditions = pod.status.conditions or []
    return pod.metadata.deletion_timestamp is None and any(c.type == "Ready" and c.status == "True" for c in conditions)


def replaced(core: client.CoreV1Api, instance: str, component: str, old_uid: str) -> bool:
    pods = pods_of(core, instance, component)
    return any(ready(p) and p.metadata.uid != old_uid for p in pods) and all(p.metadata.uid != old_uid for p in pods)


def our_targets_up(prometheus: ClusterPrometheus) -> dict[str, int]:
    result = prometheus.api("query", query=f'up{{job=~"{scrape.JOB_PREFIX}.*"}} == 1')["result"]
    up: dict[str, int] = {}
    for sample in result:
        up[sample["metric"]["job"]] = up.get(sample["metric"]["job"], 0) + 1
    return up


def text_page() -> Image.Image:
    """A printed page for loading Triton: enough lines that one inference takes a while on a CPU."""
    page = Image.new("L", (1240, 1754), 255)
    draw = ImageDraw.Draw(page)
    font = ImageFont.load_default()
    for line in range(60):
        draw.text(
            (80, 80 + 26 * line), f"Line {line}: the quick brown fox pays invoice {1000 + line} on time.", 0, font
        )
    return page


@contextlib.contextmanager
def load_on(url: str, clients: int) -> Iterator[list[int]]:
    """`clients` threads sending pages to the Triton server at `url` (gRPC) until the block ends; yields the
    count of answered pages so far."""
    stop = threading.Event()
    answered = [0]
    page = text_page()

    def send() -> None:
        backend = TritonBackend(url, timeout_s=60.0)
        try:
            while not stop.is_set():
                try:
                    backend.recognize(page)
                    answered[0] += 1
                except Exception:  # a busy server may time out or shed load: keep the pressure on
                    time.sleep(0.5)
        finally:
            backend.close()

    threads = [threading.Thread(target=send, daemon=True) for _ in range(clients)]
    for thread in threads:
        thread.start()
    try:
        yield answered
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=90)


class Summary:
    """What the run saw, written to SUMMARY at the end whatever happened."""

    def __init__(self) -> None:
        self.started = time.monotonic()
        self.data: dict[str, Any] = {
            "cluster": cluster_kind(),
            "images": json.loads(IMAGES_MANIFEST.read_text()) if IMAGES_MANIFEST.is_file() else None,
            "milestones_s": {},
        }

    def milestone(self, name: str) -> None:
        self.data["milestones_s"][name] = round(time.monotonic() - self.started, 1)

    def write(self, outcome: str) -> None:
        self.data["outcome"] = outcome
        SUMMARY.parent.mkdir(parents=True, exist_ok=True)
        SUMMARY.write_text(json.dumps(self.data, indent=2) + "\n")


def pod_report(core: client.CoreV1Api) -> list[dict[str, Any]]:
    return [
        {
            "pod": pod.metadata.name,
            "component": (pod.metadata.labels or {}).get(api.LABEL_COMPONENT),
            "phase": pod.status.phase,
            "ready": ready(pod),
            "restarts": sum(c.restart_count for c in pod.status.container_statuses or []),
        }
        for pod in core.list_namespaced_pod(NAMESPACE).items
    ]


def failure_report(cluster: Cluster, core: client.CoreV1Api, tail_lines: int = 30) -> dict[str, Any]:
    """What a failed run needs for its diagnosis before the release is torn down: every container's last log
    lines and every Validator's and Miner's status. Printed as well, so CI's output holds it."""
    logs: dict[str, str] = {}
    for pod in core.list_namespaced_pod(NAMESPACE).items:
        for container in pod.spec.containers:
            try:
                text = core.read_namespaced_pod_log(
                    pod.metadata.name, NAMESPACE, container=container.name, tail_lines=tail_lines
                )
            except client.ApiException as exc:
                text = f"(no log: {exc.status} {exc.reason})"
            logs[f"{pod.metadata.name}/{container.name}"] = text
    custom = client.CustomObjectsApi(cluster.api)
    statuses = {
        f"{kind.kind}/{item['metadata']['name']}": item.get("status", {})
        for kind in (api.VALIDATOR, api.MINER)
        for item in custom.list_namespaced_custom_object(api.GROUP, api.VERSION, NAMESPACE, kind.plural)["items"]
    }
    for name, text in logs.items():
        print(f"--- {name} (last {tail_lines} lines)\n{text}")
    print("--- statuses\n" + json.dumps(statuses, indent=1, default=str))
    return {"logs": logs, "statuses": statuses}


def gone_but_crds(cluster: Cluster, core: client.CoreV1Api) -> list[str]:
    """What the release left behind in its namespace or cluster-wide (the CRDs stay, by Helm's rule)."""
    left = [f"pod/{p.metadata.name}" for p in core.list_namespaced_pod(NAMESPACE).items]
    left += [f"service/{s.metadata.name}" for s in core.list_namespaced_service(NAMESPACE).items]
    left += [f"pvc/{c.metadata.name}" for c in core.list_namespaced_persistent_volume_claim(NAMESPACE).items]
    apps = client.AppsV1Api(cluster.api)
    left += [f"deployment/{d.metadata.name}" for d in apps.list_namespaced_deployment(NAMESPACE).items]
    left += [f"job/{j.metadata.name}" for j in client.BatchV1Api(cluster.api).list_namespaced_job(NAMESPACE).items]
    left += [
        f"configmap/{c.metadata.name}"
        for c in core.list_namespaced_config_map(NAMESPACE).items
        if c.metadata.name != "kube-root-ca.crt"
    ]
    rbac = client.RbacAuthorizationV1Api(cluster.api)
    selector = f"{api.LABEL_INSTANCE}={RELEASE}"
    left += [f"clusterrole/{r.metadata.name}" for r in rbac.list_cluster_role(label_selector=selector).items]
    left += [
        f"clusterrolebinding/{b.metadata.name}" for b in rbac.list_cluster_role_binding(label_selector=selector).items
    ]
    return left


def test_subnet_on_kubernetes(
    k8s_cluster: Cluster, helm: Path, cluster_prometheus: ClusterPrometheus, tmp_path: Path
) -> None:
    summary = Summary()
    outcome = "failed"
    try:
        run_subnet(k8s_cluster, helm, cluster_prometheus, tmp_path, summary)
        outcome = "passed"
    finally:
        summary.write(outcome)


def gateway_reads_a_page(
    cluster: Cluster, core: client.CoreV1Api, resources: Resources, tmp_path: Path, summary: Summary
) -> None:
    """A user's call: the Validator's gateway turned on with a key Secret, then a page POSTed to the gateway
    pod, read by the miners' Triton model, verified by its canary and returned as text."""
    keys = tmp_path / "gateway-keys.json"
    key = add_key(keys, "e2e")
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": GATEWAY_KEYS, "labels": {"app.kubernetes.io/part-of": "ocr-subnet"}},
        "stringData": {"keys.json": keys.read_text()},
    }
    resources.apply(secret)
    gateway = {"spec": {"gateway": {"enabled": True, "apiKeySecretName": GATEWAY_KEYS}}}
    cluster.kubectl(
        "patch", api.VALIDATOR.singular, "validator", "-n", NAMESPACE, "--type", "merge", "-p", json.dumps(gateway)
    )
    wait_until(
        lambda: any(ready(p) for p in pods_of(core, "validator", GATEWAY_COMPONENT)),
        "the gateway pod Ready",
        READY_S,
        2.0,
    )
    wait_until(lambda: resources.converged(api.VALIDATOR, "validator"), "the Validator Ready again", READY_S, 2.0)
    (pod,) = [p for p in pods_of(core, "validator", GATEWAY_COMPONENT) if ready(p)]
    page = render_page(GATEWAY_SEED)
    image = io.BytesIO()
    Image.fromarray(page.raster).save(image, format="PNG")
    url = f"http://{pod.status.pod_ip}:{GATEWAY_PORT}/v1/ocr"
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "image/png"}

    def answered() -> dict[str, Any] | None:
        """The miners' EMAs reach the gateway over the validator's /metrics within a refresh or two."""
        response = httpx.post(url, content=image.getvalue(), headers=headers, timeout=120.0, trust_env=False)
        assert response.status_code in (200, 503), response.text
        return response.json() if response.status_code == 200 else None

    answer = wait_until(answered, "the gateway answering a page", READY_S, 5.0)
    (read,) = answer["pages"]
    truth = Counter(word for label in page.labels for word in label.text.split())
    found = sum((Counter(read["text"].split()) & truth).values()) / sum(truth.values())
    logs = core.read_namespaced_pod_log(pod.metadata.name, NAMESPACE, tail_lines=40)
    assert found > 0.8, (found, {k: v for k, v in read.items() if k != "sections"}, logs)
    assert read["verified"] is True, (read, logs)  # the miner's reading of the canary band passed
    refused = httpx.post(url, content=image.getvalue(), headers={"Content-Type": "image/png"}, trust_env=False)
    assert refused.status_code == 401
    summary.data["gateway"] = {"words_found": round(found, 3), "verified": read.get("verified")}
    summary.milestone("gateway_read")


def run_subnet(cluster: Cluster, helm: Path, prometheus: ClusterPrometheus, tmp_path: Path, summary: Summary) -> None:
    core = client.CoreV1Api(cluster.api)
    apps = client.AppsV1Api(cluster.api)
    env = helm_env(tmp_path / "helm", cluster.kubeconfig)
    resources = Resources(cluster, NAMESPACE)
    chain_values = yaml.safe_load((CHART / "values.yaml").read_text())["localChain"]
    chain_values |= yaml.safe_load(LOCAL_VALUES.read_text())["localChain"]
    install = ["install", RELEASE, str(CHART), "-n", NAMESPACE, "--create-namespace", "-f", str(LOCAL_VALUES)]
    if prometheus.url_for_pods:
        install += ["--set", f"operator.prometheusUrl={prometheus.url_for_pods}"]
    run_helm(helm, env, *install, "--wait", "--timeout", "10m")
    summary.milestone("helm_installed")
    uninstalled = False
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
        miner_docs = miners_on_the_local_chain(local_chain_url(core), chain_values["netuid"])
        miners = [d["metadata"]["name"] for d in miner_docs if d["kind"] == api.MINER.kind]
        assert len(miners) == 3
        # Only the miner the load below targets may scale: on a busy machine the others' queues grow too, and
        # their extra replicas would take the small node's CPU from the one the test waits for.
        # The loaded one needs only a second replica for the test.
        for doc in miner_docs:
            if doc["kind"] == api.MINER.kind:
                doc["spec"]["triton"]["maxReplicas"] = 2 if doc["metadata"]["name"] == miners[-1] else 1
        resources.apply(*miner_docs)
        summary.milestone("miners_applied")

        cluster.kubectl(
            "wait",
            "job",
            "-n",
            NAMESPACE,
            "-l",
            f"{api.LABEL_COMPONENT}=local-chain",
            "--for=condition=complete",
            f"--timeout={int(READY_S)}s",
            timeout_s=READY_S + 30,
        )
        summary.milestone("chain_registered")
        for kind, name in [(api.VALIDATOR, "validator"), *((api.MINER, m) for m in miners)]:
            wait_until(lambda k=kind, n=name: resources.converged(k, n), f"{kind.kind} {name} Ready", READY_S, 2.0)
        summary.milestone("all_ready")
        not_ready = [p["pod"] for p in pod_report(core) if not p["ready"] and p["phase"] != "Succeeded"]
        assert not_ready == [], f"pods not Ready: {not_ready}"

        wait_until(
            lambda: resources.has_condition(api.VALIDATOR, "validator", api.WEIGHTS_HEALTHY, "True"),
            "the validator setting weights",
            WEIGHTS_S,
            2.0,
        )
        summary.milestone("weights_set")
        for name in miners:
            wait_until(
                lambda n=name: (resources.get(api.MINER, n) or {}).get("status", {}).get("ema", 0) > 0,
                f"miner {name} scored by the validator",
                WEIGHTS_S,
                2.0,
            )
        summary.milestone("miners_scored")
        gateway_reads_a_page(cluster, core, resources, tmp_path, summary)

        # The weight fields come with the first health pass that read the validator's /metrics (a scrape can fail
        # on a busy node: the gateway has just had a page read); a later failed scrape leaves them as they were.
        wait_until(
            lambda: "lastWeightSetBlock" in resources.get(api.VALIDATOR, "validator").get("status", {}),
            "the validator's weight fields in its status",
            WEIGHTS_S,
            2.0,
        )
        validator = resources.get(api.VALIDATOR, "validator")["status"]
        assert validator["phase"] == "Running", validator
        assert 0 <= validator["lastWeightSetBlock"] <= validator["currentBlock"], validator
        assert validator["blocksSinceWeightSet"] >= 0, validator
        for name in miners:
            wait_until(
                lambda n=name: all(
                    resources.has_condition(api.MINER, n, c, "True") for c in (api.TRITON_READY, api.SCORE_HEALTHY)
                ),
                f"miner {name}: TritonReady and ScoreHealthy",
                WEIGHTS_S,
                2.0,
            )
            status = resources.get(api.MINER, name)["status"]
            assert status["phase"] == "Running" and status["uid"] is not None and status["ema"] > 0, status
            assert status["tritonReplicas"] >= 1, status

        expected = {scrape.VALIDATOR_JOB: 1, scrape.MINER_JOB: 3, scrape.TRITON_JOB: 3, scrape.OPERATOR_JOB: 1}
        wait_until(
            lambda: all(our_targets_up(prometheus).get(job, 0) >= n for job, n in expected.items()),
            "Prometheus scraping the validator, the miners, their Triton servers and the operator",
            READY_S,
            5.0,
        )
        loaded = {rule["name"] for group in prometheus.api("rules")["groups"] for rule in group["rules"]}
        assert set(rules.alert_names()) <= loaded
        firing = [
            alert["labels"]["alertname"]
            for alert in prometheus.api("alerts")["alerts"]
            if alert["labels"]["alertname"] in rules.alert_names() and alert["state"] == "firing"
        ]
        assert firing == []
        summary.milestone("prometheus_scraping")

        # Self-healing: a Triton pod and a miner pod deleted come back, and the miners stay Ready.
        (triton_pod,) = pods_of(core, miners[0], api.TRITON_COMPONENT)
        (miner_pod,) = pods_of(core, miners[1], api.MINER_COMPONENT)
        core.delete_namespaced_pod(triton_pod.metadata.name, NAMESPACE)
        core.delete_namespaced_pod(miner_pod.metadata.name, NAMESPACE)
        wait_until(
            lambda: (
                replaced(core, miners[0], api.TRITON_COMPONENT, triton_pod.metadata.uid)
                and replaced(core, miners[1], api.MINER_COMPONENT, miner_pod.metadata.uid)
            ),
            "the deleted Triton and miner pods replaced and Ready",
            READY_S,
            2.0,
        )
        for name in miners[:2]:
            wait_until(lambda n=name: resources.converged(api.MINER, n), f"Miner {name} Ready again", READY_S, 2.0)
        summary.milestone("pods_replaced")

        # Load on one miner's Triton: the operator reads its queue time from Prometheus and adds replicas.
        loaded_miner = miners[-1]
        deployment = api.object_name(loaded_miner, api.TRITON_COMPONENT)
        # Triton's Service is headless (the miners balance over its pods): load the pod itself.
        (loaded_pod,) = pods_of(core, loaded_miner, api.TRITON_COMPONENT)
        target = json.dumps({"spec": {"triton": {"targetQueueTimeMs": LOAD_TARGET_QUEUE_MS}}})
        cluster.kubectl("patch", api.MINER.singular, loaded_miner, "-n", NAMESPACE, "--type", "merge", "-p", target)
        with load_on(f"{loaded_pod.status.pod_ip}:{triton.GRPC_PORT}", LOAD_CLIENTS) as answered:
            try:
                wait_until(
                    lambda: (apps.read_namespaced_deployment(deployment, NAMESPACE).spec.replicas or 0) >= 2,
                    "the operator scaling Triton up under load",
                    SCALE_S,
                    5.0,
                )
            except AssertionError as exc:
                scaling = resources.get(api.MINER, loaded_miner)["status"].get("scaling")
                seen = f"{answered[0]} pages answered; the Miner's scaling status: {scaling}"
                raise AssertionError(f"{exc}; {seen}") from exc
            wait_until(
                lambda: (apps.read_namespaced_deployment(deployment, NAMESPACE).status.ready_replicas or 0) >= 2,
                "the added Triton replicas Ready",
                READY_S,
                5.0,
            )
        wait_until(
            lambda: resources.get(api.MINER, loaded_miner)["status"].get("tritonReplicas", 0) >= 2,
            f"Miner {loaded_miner} status following its Triton replicas",
            WEIGHTS_S,
            2.0,
        )
        summary.data["load"] = {
            "miner": loaded_miner,
            "pages_answered": answered[0],
            "triton_replicas": apps.read_namespaced_deployment(deployment, NAMESPACE).spec.replicas,
        }
        summary.milestone("triton_scaled")

        # The replicas follow the spec too: a lower maxReplicas takes them back at once (and gives the small
        # node its CPU back for `helm test`).
        cap = json.dumps({"spec": {"triton": {"maxReplicas": 1}}})
        cluster.kubectl("patch", api.MINER.singular, loaded_miner, "-n", NAMESPACE, "--type", "merge", "-p", cap)
        wait_until(
            lambda: (
                len([p for p in pods_of(core, loaded_miner, api.TRITON_COMPONENT) if ready(p)]) == 1
                and len(pods_of(core, loaded_miner, api.TRITON_COMPONENT)) == 1
            ),
            "Triton back to one replica under maxReplicas 1",
            READY_S,
            2.0,
        )
        summary.milestone("triton_capped")

        summary.data["pods"] = pod_report(core)
        summary.data["miners"] = {
            name: {key: resources.get(api.MINER, name)["status"].get(key) for key in ("uid", "ema", "tritonReplicas")}
            for name in miners
        }
        summary.data["last_weights_block"] = resources.get(api.VALIDATOR, "validator")["status"]["lastWeightSetBlock"]
        reconciles = prometheus.api("query", query=f"sum({names.OPERATOR_RECONCILES})")["result"]
        summary.data["operator_reconciles"] = int(float(reconciles[0]["value"][1])) if reconciles else None

        run_helm(helm, env, "test", RELEASE, "-n", NAMESPACE, "--timeout", "5m")
        summary.milestone("helm_test_passed")

        # As a user would: `kubectl delete -f` what they applied; the Validator from the values is left to
        # `helm uninstall` alone (its pre-delete hook deletes it while the operator still runs).
        cluster.kubectl("delete", "miners", *miners, "-n", NAMESPACE, "--wait=true", "--timeout=300s")
        run_helm(helm, env, "uninstall", RELEASE, "-n", NAMESPACE, "--wait", "--timeout", "5m")
        uninstalled = True
        custom = client.CustomObjectsApi(cluster.api)
        validators = custom.list_namespaced_custom_object(api.GROUP, api.VERSION, NAMESPACE, api.VALIDATOR.plural)
        assert not validators["items"], "helm uninstall left a Validator behind"
        cluster.kubectl("delete", "-n", NAMESPACE, "secret", "-l", "app.kubernetes.io/part-of=ocr-subnet")
        wait_until(lambda: gone_but_crds(cluster, core) == [], "everything of the release gone", 300.0, 2.0)
        extensions = client.ApiextensionsV1Api(cluster.api)
        crds = {crd.metadata.name for crd in extensions.list_custom_resource_definition().items}
        assert {f"{kind.plural}.{api.GROUP}" for kind in (api.VALIDATOR, api.MINER)} <= crds
        summary.milestone("uninstalled")
    finally:
        if not uninstalled:
            summary.data.setdefault("pods", pod_report(core))
            try:  # diagnosis must never hide the failure or skip the teardown
                summary.data["failure"] = failure_report(cluster, core)
            except Exception as exc:
                summary.data["failure"] = {"report_error": f"{type(exc).__name__}: {exc}"}
            resources.delete_all()
            run_helm(helm, env, "uninstall", RELEASE, "-n", NAMESPACE, "--wait", "--timeout", "5m")
        cluster.kubectl("delete", "namespace", NAMESPACE, "--wait=false")
