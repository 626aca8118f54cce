"""Placement on a real scheduler: a tainted GPU pool takes Triton, and only Triton.

The local control plane's real kube-scheduler places the pods; a tainted node with MIG slices is added
for the test (the fake kubelet does not run its pods: being bound to a node is what is checked).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from kubernetes import client
from subnet_operator import api

from tests.integration.operator_harness import (
    SETTLE_S,
    OperatorProcess,
    Resources,
    install_crds,
    miner_manifest,
    running_operator,
    validator_manifest,
)
from tests.support.cluster import Cluster
from tests.support.fake_kubelet import FakeNode, node_manifest
from tests.support.poll import wait_until

pytestmark = [pytest.mark.integration, pytest.mark.slow]

MIG = "nvidia.com/mig-1g.10gb"
POOL_TAINT = {"key": "pool", "operator": "Equal", "value": "gpu", "effect": "NoSchedule"}


@pytest.fixture
def gpu_pool(k8s_cluster: Cluster, k8s_namespace: str) -> Iterator[str]:
    """A node that only pods tolerating both of its taints land on, with 7 MIG slices; its name."""
    core = client.CoreV1Api(k8s_cluster.api)
    manifest = node_manifest(FakeNode(f"mig-{k8s_namespace}"[:63]))
    name = manifest["metadata"]["name"]
    manifest["metadata"]["labels"]["pool"] = name
    manifest["spec"] = {
        "taints": [
            {"key": "pool", "value": "gpu", "effect": "NoSchedule"},
            {"key": "nvidia.com/gpu", "effect": "NoSchedule"},
        ]
    }
    for key in ("capacity", "allocatable"):
        manifest["status"][key][MIG] = "7"
    core.create_node(manifest)
    core.patch_node_status(name, {"status": manifest["status"]})
    yield name
    for pod in core.list_namespaced_pod(k8s_namespace, field_selector=f"spec.nodeName={name}").items:
        core.delete_namespaced_pod(pod.metadata.name, k8s_namespace, grace_period_seconds=0)
    core.delete_node(name)


@pytest.fixture
def operator(k8s_cluster: Cluster, k8s_namespace: str, tmp_path: Path) -> Iterator[OperatorProcess]:
    install_crds(k8s_cluster)
    log = tmp_path / "operator.log"
    args = ("--image-pull-secret", "regcred")
    with running_operator(k8s_cluster, k8s_namespace, log, namespaces=[k8s_namespace], extra_args=args) as op:
        yield op


def scheduled_node(core: client.CoreV1Api, namespace: str, component: str) -> str | None:
    pods = core.list_namespaced_pod(namespace, label_selector=f"{api.LABEL_COMPONENT}={component}").items
    return next((pod.spec.node_name for pod in pods if pod.spec.node_name), None)


def test_triton_lands_on_the_tainted_gpu_pool_and_the_miner_off_it(
    k8s_cluster: Cluster, k8s_namespace: str, gpu_pool: str, operator: OperatorProcess
) -> None:
    resources = Resources(k8s_cluster, k8s_namespace)
    affinity = {
        "nodeAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": {
                "nodeSelectorTerms": [{"matchExpressions": [{"key": "pool", "operator": "In", "values": [gpu_pool]}]}]
            }
        }
    }
    resources.apply(
        miner_manifest(
            "m1",
            pod={"nodeSelector": {"kubernetes.io/os": "linux"}, "annotations": {"team": "ocr"}},
            triton={
                "image": "triton:1",
                "gpus": 1,
                "gpuResource": MIG,
                "pod": {"affinity": affinity, "tolerations": [POOL_TAINT], "labels": {"tier": "gpu"}},
            },
        )
    )
    core = client.CoreV1Api(k8s_cluster.api)
    wait_until(
        lambda: scheduled_node(core, k8s_namespace, api.TRITON_COMPONENT) == gpu_pool,
        "Triton scheduled on the tainted pool",
        timeout_s=SETTLE_S,
    )
    wait_until(
        lambda: scheduled_node(core, k8s_namespace, api.MINER_COMPONENT) not in (None, gpu_pool),
        "the miner scheduled off the GPU pool",
        timeout_s=SETTLE_S,
    )
    triton = resources.deployment("m1-triton").spec.template
    assert triton.spec.affinity.node_affinity is not None  # kept whole by the CRD, not pruned
    assert triton.metadata.labels["tier"] == "gpu"
    assert triton.spec.containers[0].resources.limits[MIG] == "1"
    miner = resources.deployment("m1-miner").spec.template
    assert miner.metadata.annotations["team"] == "ocr"
    assert not miner.spec.tolerations and miner.spec.affinity is None
    for template in (triton, miner):  # the operator's --image-pull-secret (the chart's images.pullSecrets)
        assert [secret.name for secret in template.spec.image_pull_secrets] == ["regcred"]


def test_a_load_balancers_ip_is_published_once_the_cloud_assigns_it(
    k8s_cluster: Cluster, k8s_namespace: str, operator: OperatorProcess
) -> None:
    resources = Resources(k8s_cluster, k8s_namespace)
    resources.apply(miner_manifest("m2", backend="tesseract", axon={"serviceType": "LoadBalancer"}))
    wait_until(lambda: resources.service("m2-miner") is not None, "the axon Service", timeout_s=SETTLE_S)
    wait_until(
        lambda: "no IP yet" in ((resources.get(api.MINER, "m2") or {}).get("status", {}).get("reconcileError") or ""),
        "the reconcile waiting for the load balancer",
        timeout_s=SETTLE_S,
    )
    assert resources.deployment("m2-miner") is None  # nothing is published before the address exists
    core = client.CoreV1Api(k8s_cluster.api)
    # what a cloud's service controller does once the load balancer exists (documentation range address)
    core.patch_namespaced_service_status(
        "m2-miner", k8s_namespace, {"status": {"loadBalancer": {"ingress": [{"ip": "198.51.100.7"}]}}}
    )
    wait_until(lambda: resources.deployment("m2-miner") is not None, "the miner Deployment", timeout_s=SETTLE_S)
    command = resources.deployment("m2-miner").spec.template.spec.containers[0].command
    assert command[command.index("--external-ip") + 1] == "198.51.100.7"
    assert command[command.index("--external-port") + 1] == "8091"


def test_with_network_policies_the_api_server_holds_one_per_component(
    k8s_cluster: Cluster, k8s_namespace: str, tmp_path: Path
) -> None:
    install_crds(k8s_cluster)
    resources = Resources(k8s_cluster, k8s_namespace)
    networking = client.NetworkingV1Api(k8s_cluster.api)
    args = ("--network-policies", "--monitoring-namespace", "mon")

    def policies() -> set[str]:
        return {p.metadata.name for p in networking.list_namespaced_network_policy(k8s_namespace).items}

    log = tmp_path / "operator.log"
    with running_operator(k8s_cluster, k8s_namespace, log, namespaces=[k8s_namespace], extra_args=args):
        resources.apply(miner_manifest("m1"), validator_manifest("v1"))

        wait_until(lambda: policies() == {"m1-miner", "m1-triton", "v1-validator"}, "three policies", SETTLE_S)
        triton_policy = networking.read_namespaced_network_policy("m1-triton", k8s_namespace).spec
        assert triton_policy.ingress[0]._from[0].pod_selector.match_labels[api.LABEL_COMPONENT] == "miner"
        resources.apply(miner_manifest("m1", backend="tesseract"))
        wait_until(lambda: "m1-triton" not in policies(), "Triton's policy gone with Triton", SETTLE_S)
    # run without the flag, the operator removes the policies an earlier run made
    leftover = {"metadata": {"name": "m2-miner"}, "spec": {"podSelector": {}, "policyTypes": ["Ingress"]}}
    networking.create_namespaced_network_policy(k8s_namespace, leftover)
    with running_operator(k8s_cluster, k8s_namespace, log, namespaces=[k8s_namespace]):
        resources.apply(miner_manifest("m2", backend="tesseract"))
        wait_until(lambda: "m2-miner" not in policies(), "the earlier run's policy removed", SETTLE_S)
        assert resources.deployment("m2-miner") is not None


def test_kubectl_explain_documents_the_pod_settings(k8s_cluster: Cluster) -> None:
    install_crds(k8s_cluster)

    def explain(path: str) -> str:
        """The API server publishes a new CRD's OpenAPI a few seconds after it is established."""
        return wait_until(lambda: k8s_cluster.kubectl("explain", path, check=False).stdout, path, SETTLE_S)

    shown = explain("miner.spec.triton.pod")
    assert "Settings of the Triton" in shown
    for field in ("tolerations", "affinity", "topologySpreadConstraints", "runtimeClassName", "imagePullSecrets"):
        assert field in shown, field
    toleration = explain("validator.spec.pod.tolerations")
    assert "As core/v1 Toleration." in toleration and "tolerationSeconds" in toleration
    assert "published on chain" in explain("miner.spec.axon.publish")
