"""Triton scaling end to end: real Prometheus, the operator's timer, the Deployment's replicas.

One test drives a real Triton server (`ocr-subnet triton serve`, PyTriton, a deliberately slow fake model)
with a load generator; Prometheus discovers the Miner's Triton pod through the API server and scrapes the
server at that pod's IP, so replicas go up under load and back down after the window. The other serves
exact `nv_inference_*` values from a fake exporter, to check the HPA arithmetic and the hold without metrics.
A third hands the count over (external mode): `kubectl scale miner` through the scale subresource, and an
HPA-like write on the Deployment that the operator leaves alone.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes import client
from kubernetes.utils import parse_quantity
from ocr_subnet import metric_names as names
from ocr_subnet.backends.base import BackendError
from ocr_subnet.backends.triton import TritonBackend
from ocr_subnet.local.procs import Child, spawn, stop_all, wait_healthy
from ocr_subnet.local.up import ocr_subnet_command
from ocr_subnet.triton import wire
from ocr_subnet.triton.repository import ServingConfig, build_repository
from PIL import Image
from subnet_operator import api, autoscaling, promql
from subnet_operator.builders import triton
from subnet_operator.builders.common import Owner
from subnet_operator.prometheus import Prometheus as PrometheusClient

from tests.integration.operator_harness import (
    REPO,
    SETTLE_S,
    FakeExporter,
    PodDiscovery,
    Resources,
    install_crds,
    miner_manifest,
    running_operator,
    static_config,
)
from tests.support.cluster import Cluster
from tests.support.poll import wait_until
from tests.support.prometheus import Prometheus
from tests.unit.test_triton_fake import FAKE_PIPELINE, write_fake_weights

pytestmark = [pytest.mark.integration, pytest.mark.slow]

StartPrometheus = Callable[[Mapping[str, Any]], Prometheus]
TRITON_START_S = 180.0  # a bound for PyTriton's start on a shared CPU, never a speed assertion
LOAD_THREADS = 6
MODEL_DELAY_S = 0.1  # each page takes this long and pages go one at a time: queues build under load


def scaling(**overrides: Any) -> dict[str, Any]:
    settings = {
        "image": "ocr-subnet/triton:test",
        "minReplicas": 1,
        "maxReplicas": 4,
        "targetQueueTimeMs": 50,
        "tolerance": 0.1,
        "metricsWindowSeconds": 6,
        "scaleUpStabilizationSeconds": 0,
        "scaleDownStabilizationSeconds": 0,
        "maxScaleUpStep": 4,
        "maxScaleDownStep": 1,
    }
    return {**settings, **overrides}


def triton_replicas(resources: Resources, miner: str) -> int:
    deployment = resources.deployment(api.object_name(miner, api.TRITON_COMPONENT))
    return deployment.spec.replicas if deployment else 0


@pytest.fixture
def cluster(k8s_cluster: Cluster) -> Cluster:
    install_crds(k8s_cluster)
    return k8s_cluster


@pytest.fixture
def exporter() -> Iterator[FakeExporter]:
    fake = FakeExporter()
    yield fake
    fake.close()


def test_replicas_follow_exact_queue_times_and_hold_without_metrics(
    cluster: Cluster, k8s_namespace: str, prometheus: StartPrometheus, exporter: FakeExporter, tmp_path: Path
) -> None:
    ns = k8s_namespace
    resources = Resources(cluster, ns)
    pod = "m1-triton-6b7c9d8f5-x2x4z"  # what a pod of m1's Triton Deployment is called
    server = prometheus(static_config({exporter.target: {"namespace": ns, "pod": pod}}))
    model = {"model": wire.MODEL_NAME, "version": "1"}
    with running_operator(cluster, ns, tmp_path / "operator.log", namespaces=[ns], prometheus_url=server.url):
        resources.apply(miner_manifest("m1", triton=scaling()))
        wait_until(lambda: resources.converged(api.MINER, "m1"), "m1 Ready", timeout_s=SETTLE_S)

        # 10 requests/s, each queued 150 ms, against a 50 ms target: ceil(1 * 150 / 50) = 3.
        exporter.set_rate(names.TRITON_REQUEST_SUCCESS, 10.0, **model)
        exporter.set_rate(names.TRITON_QUEUE_DURATION_US, 10.0 * 150_000, **model)
        exporter.set_gauge(names.TRITON_PENDING_REQUEST_COUNT, 2.0, **model)
        first = wait_until(lambda: resources.event("m1", "TritonScaled"), "a first scaling Event", timeout_s=SETTLE_S)
        assert first.message.startswith("Triton replicas 1 -> 3: queue 150.0 ms per request, target 50 ms")
        # The fake's queue does not shrink with replicas, so the rule keeps asking for more: up to the max.
        wait_until(lambda: triton_replicas(resources, "m1") == 4, "the maximum of 4 replicas", timeout_s=SETTLE_S)
        scaled = resources.get(api.MINER, "m1")["status"]
        assert scaled["scaling"]["pendingRequests"] == 2.0
        assert scaled["scaling"]["queueTimeMs"] == pytest.approx(150.0)

        exporter.set_rate(names.TRITON_REQUEST_SUCCESS, 0.0, **model)
        exporter.set_rate(names.TRITON_QUEUE_DURATION_US, 0.0, **model)
        exporter.set_gauge(names.TRITON_PENDING_REQUEST_COUNT, 0.0, **model)
        wait_until(lambda: triton_replicas(resources, "m1") == 1, "one step at a time back to 1", timeout_s=SETTLE_S)
        # kopf posts Events in the background: the last may trail the Deployment's new count.
        downs = wait_until(
            lambda: [e.message for e in resources.events("m1") if e.reason == "TritonScaled" and "-> 1:" in e.message],
            "the scale-down Event",
            timeout_s=SETTLE_S,
        )
        assert downs == ["Triton replicas 2 -> 1: no requests in the window"]

        # The series vanish: the scaler must hold, and say why (a first such Event came before any series).
        exporter.clear()
        blind = lambda: [e for e in resources.events("m1") if e.reason == "MetricsUnavailable"]  # noqa: E731
        wait_until(lambda: len(blind()) >= 2, "a second MetricsUnavailable Event", timeout_s=SETTLE_S)
        assert blind()[-1].type == "Warning"
        status = resources.get(api.MINER, "m1")["status"]
        assert status["scaling"]["reason"] == "MetricsUnavailable"
        assert "no Triton series for the pods of m1-triton in Prometheus over 6s" in status["scaling"]["message"]
        assert triton_replicas(resources, "m1") == status["tritonReplicas"] == 1


def test_external_mode_leaves_the_count_to_the_scale_subresource_and_to_an_hpa(
    cluster: Cluster, k8s_namespace: str, tmp_path: Path
) -> None:
    ns = k8s_namespace
    resources = Resources(cluster, ns)
    custom = client.CustomObjectsApi(cluster.api)
    deployment = api.object_name("m1", api.TRITON_COMPONENT)
    with running_operator(cluster, ns, tmp_path / "operator.log", namespaces=[ns]):
        resources.apply(miner_manifest("m1", triton=scaling(scaling={"mode": "external"})))
        wait_until(lambda: resources.converged(api.MINER, "m1"), "m1 Ready", timeout_s=SETTLE_S)
        assert triton_replicas(resources, "m1") == 1  # the Deployment's default: the operator set no count

        # An HPA on the Deployment writes its scale; a later reconcile (any spec change) must not undo it.
        client.AppsV1Api(cluster.api).patch_namespaced_deployment_scale(deployment, ns, {"spec": {"replicas": 5}})
        generation = resources.get(api.MINER, "m1")["metadata"]["generation"]
        resources.apply(miner_manifest("m1", logLevel="DEBUG", triton=scaling(scaling={"mode": "external"})))
        wait_until(
            lambda: resources.get(api.MINER, "m1")["status"].get("observedGeneration", 0) > generation,
            "the spec change reconciled",
        )
        assert triton_replicas(resources, "m1") == 5
        assert resources.event("m1", "TritonScaled") is None
        status = resources.get(api.MINER, "m1")["status"]
        assert status["scaling"]["reason"] == "External"
        assert "recommendations" not in status["scaling"]

        # Or the Miner's scale subresource: `kubectl scale miner` (or an HPA/ScaledObject targeting the Miner).
        cluster.kubectl("scale", "-n", ns, "miner/m1", "--replicas=3")
        wait_until(lambda: triton_replicas(resources, "m1") == 3, "kubectl scale miner -> 3 replicas")
        scale = lambda: custom.get_namespaced_custom_object_scale(api.GROUP, api.VERSION, ns, "miners", "m1")  # noqa: E731
        wait_until(lambda: scale()["status"].get("replicas") == 3, "the scale subresource reporting 3")
        assert scale()["spec"]["replicas"] == 3
        assert scale()["status"]["selector"] == triton.pod_selector(Owner("Miner", "m1", ns, "-"))


def test_the_handover_query_reads_the_queue_time_the_operator_scales_on(
    prometheus: StartPrometheus, exporter: FakeExporter
) -> None:
    """examples/triton-keda.yaml's query (the HPA's through prometheus-adapter) against real Prometheus."""
    [scaled] = [d for d in yaml.safe_load_all((REPO / "examples" / "triton-keda.yaml").read_text()) if d]
    ns, miner = scaled["metadata"]["namespace"], "miner-1"
    pod = "miner-1-triton-6b7c9d8f5-x2x4z"
    server = prometheus(
        static_config({exporter.target: {"namespace": ns, "pod": pod, **autoscaling.miner_labels(miner)}})
    )
    model = {"model": wire.MODEL_NAME, "version": "1"}
    exporter.set_rate(names.TRITON_REQUEST_SUCCESS, 10.0, **model)
    exporter.set_rate(names.TRITON_QUEUE_DURATION_US, 10.0 * 150_000, **model)
    query = scaled["spec"]["triggers"][0]["metadata"]["query"]
    [handover] = server.wait_for(query, lambda found: bool(found) and found[0].value > 0, timeout_s=SETTLE_S)
    client_ = PrometheusClient(server.url)
    try:
        samples = client_.query(promql.triton_query(promql.pods_of(ns, f"{miner}-triton"), 60))
    finally:
        client_.close()
    observation = promql.triton_observation(samples)
    assert observation is not None
    assert handover.value == pytest.approx(150.0) == pytest.approx(observation.queue_ms)


def test_the_hpa_example_is_accepted_by_the_api_server(cluster: Cluster, k8s_namespace: str) -> None:
    """1.20 serves autoscaling/v2beta2, the same body as v2: the API server's own validation of the example."""
    [hpa] = [d for d in yaml.safe_load_all((REPO / "examples" / "triton-hpa.yaml").read_text()) if d]
    assert hpa["apiVersion"] == "autoscaling/v2"
    hpa = {**hpa, "apiVersion": "autoscaling/v2beta2", "metadata": {**hpa["metadata"], "namespace": k8s_namespace}}
    done = cluster.kubectl("apply", "--dry-run=server", "-o", "json", "-f", "-", stdin=json.dumps(hpa))
    accepted = json.loads(done.stdout)
    [metric], [ours] = accepted["spec"]["metrics"], hpa["spec"]["metrics"]
    target = metric["external"].pop("target")  # the API server writes quantities its own way: 2000 -> 2k
    assert parse_quantity(target["value"]) == parse_quantity(ours["external"]["target"]["value"])
    assert metric["external"] == {k: v for k, v in ours["external"].items() if k != "target"}
    assert accepted["spec"]["behavior"]["scaleDown"]["policies"] == hpa["spec"]["behavior"]["scaleDown"]["policies"]


def start_triton_at(ip: str, repository: Path, log_path: Path) -> Child:
    """`ocr-subnet triton serve` bound to a pod's IP on the pod's ports, as if the pod ran it."""
    argv = [
        *ocr_subnet_command(),
        *("triton", "serve", "--host", ip, "--model-repo", str(repository), "--pipeline", FAKE_PIPELINE),
        *("--http-port", str(triton.HTTP_PORT), "--grpc-port", str(triton.GRPC_PORT)),
        *("--metrics-port", str(triton.METRICS_PORT)),
    ]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    child = spawn("triton", argv, log_path, env=env)
    wait_healthy(f"http://{ip}:{triton.HTTP_PORT}/v2/health/ready", TRITON_START_S, child)
    return child


class Load:
    """Threads sending pages to Triton back to back, as a busy miner would, until stopped."""

    def __init__(self, url: str, threads: int) -> None:
        self._stop = threading.Event()
        self.answered = 0
        self._threads = [threading.Thread(target=self._run, args=(url,), daemon=True) for _ in range(threads)]
        for thread in self._threads:
            thread.start()

    def _run(self, url: str) -> None:
        backend = TritonBackend(url, timeout_s=60.0)
        page = Image.new("L", (64, 48), 255)
        try:
            while not self._stop.is_set():
                try:
                    backend.recognize(page)
                    self.answered += 1
                except BackendError:
                    continue
        finally:
            backend.close()

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=120)


@pytest.fixture
def discovery(cluster: Cluster, k8s_namespace: str) -> Iterator[PodDiscovery]:
    pods = PodDiscovery(cluster, k8s_namespace)
    yield pods
    pods.close()


def test_a_loaded_triton_scales_up_and_back_down_after_the_window(
    cluster: Cluster, k8s_namespace: str, prometheus: StartPrometheus, discovery: PodDiscovery, tmp_path: Path
) -> None:
    if cluster.local is None:
        pytest.skip("serves Triton at a pod's loopback IP, which only the local control plane's fake kubelet gives")
    ns = k8s_namespace
    resources = Resources(cluster, ns)
    server = prometheus(discovery.config())
    weights = write_fake_weights(tmp_path / "weights", delay_s=MODEL_DELAY_S)
    config = ServingConfig(max_batch_size=1, preferred_batch_sizes=())
    repository = build_repository(weights, tmp_path / "repository", config).path
    settings = scaling(targetQueueTimeMs=20, scaleDownStabilizationSeconds=10, maxScaleUpStep=1)
    with running_operator(cluster, ns, tmp_path / "operator.log", namespaces=[ns], prometheus_url=server.url):
        resources.apply(miner_manifest("m1", triton=settings))
        [ip] = wait_until(lambda: resources.pod_ips("m1", api.TRITON_COMPONENT), "m1's Triton pod running")
        child = start_triton_at(ip, repository, tmp_path / "triton.log")
        try:
            matchers = f'namespace="{ns}", pod=~"m1-triton-.*"'
            server.wait_for(f"{names.TRITON_REQUEST_SUCCESS}{{{matchers}}}", timeout_s=SETTLE_S)
            load = Load(f"grpc://{ip}:{triton.GRPC_PORT}", LOAD_THREADS)
            try:
                wait_until(lambda: triton_replicas(resources, "m1") >= 2, "a scale-up under load", timeout_s=SETTLE_S)
                up = wait_until(lambda: resources.event("m1", "TritonScaled"), "the scale-up Event", timeout_s=SETTLE_S)
                assert up.message.startswith("Triton replicas 1 -> 2: queue "), up
                queue_ms = float(up.message.split("queue ")[1].split(" ms")[0])
                assert queue_ms > settings["targetQueueTimeMs"]
                assert load.answered > 0
            finally:
                load.stop()
            peak = triton_replicas(resources, "m1")
            wait_until(lambda: triton_replicas(resources, "m1") == 1, "back to 1 after the window", timeout_s=SETTLE_S)
            # The Event follows the Deployment's patch, so it may land a moment after the replicas read 1.
            wait_until(
                lambda: any(
                    e.reason == "TritonScaled" and e.message.endswith(": no requests in the window")
                    for e in resources.events("m1")
                ),
                "the idle scale-down Event",
                timeout_s=SETTLE_S,
            )
            assert peak >= 2
        finally:
            stop_all([child], grace_s=60.0)
