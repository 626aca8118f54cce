"""The test control plane behaves like Kubernetes where the operator and chart tests lean on it.

Runs against the local 1.20 control plane with its fake kubelet, or unchanged against kind
(OCR_SUBNET_KUBECONFIG): authentication and RBAC, controllers and garbage collection, CRDs, PVCs, kubectl.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client
from kubernetes.client.rest import ApiException

from tests.support.cluster import Cluster, connect, existing_kubeconfig
from tests.support.fake_kubelet import FakeKubelet, FakeNode
from tests.support.poll import wait_until

pytestmark = pytest.mark.integration

PAUSE = "registry.k8s.io/pause:3.9"  # runs on kind's real kubelet too
GROUP = "fixtures.ocr-subnet.test"


def deployment(name: str, replicas: int, volumes: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    container: dict[str, Any] = {
        "name": "main",
        "image": PAUSE,
        "resources": {"requests": {"cpu": "10m", "memory": "16Mi"}, "limits": {"cpu": "50m", "memory": "32Mi"}},
    }
    if volumes:
        container["volumeMounts"] = [{"name": v["name"], "mountPath": f"/{v['name']}"} for v in volumes]
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [container], "volumes": volumes or []},
            },
        },
    }


def available_replicas(apps: client.AppsV1Api, namespace: str, name: str) -> int:
    return apps.read_namespaced_deployment_status(name, namespace).status.available_replicas or 0


def status_of(call: Callable[[], object]) -> int:
    """The HTTP status an API call ends with (200 when it succeeds)."""
    try:
        call()
    except ApiException as exc:
        return exc.status
    return 200


def test_api_server_authenticates_tokens_and_rbac_denies_until_a_role_grants(
    k8s_cluster: Cluster, k8s_namespace: str, tmp_path: Path
) -> None:
    assert client.VersionApi(k8s_cluster.api).get_code().git_version.startswith("v1.")
    token = k8s_cluster.service_account_token(k8s_namespace, "nobody")
    as_nobody = client.CoreV1Api(connect(k8s_cluster.token_kubeconfig(token, tmp_path / "nobody.kubeconfig")))
    list_pods = partial(as_nobody.list_namespaced_pod, k8s_namespace)

    assert status_of(list_pods) == 403  # authenticated (not 401), not authorized
    rbac = client.RbacAuthorizationV1Api(k8s_cluster.api)
    rule = {"apiGroups": [""], "resources": ["pods"], "verbs": ["list"]}
    rbac.create_namespaced_role(k8s_namespace, {"metadata": {"name": "pod-reader"}, "rules": [rule]})
    rbac.create_namespaced_role_binding(
        k8s_namespace,
        {
            "metadata": {"name": "nobody-reads-pods"},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "pod-reader"},
            "subjects": [{"kind": "ServiceAccount", "name": "nobody", "namespace": k8s_namespace}],
        },
    )
    wait_until(lambda: status_of(list_pods) == 200, "the RoleBinding to take effect")
    assert status_of(partial(as_nobody.list_namespaced_secret, k8s_namespace)) == 403


def test_deployment_becomes_available_and_deleting_it_collects_replicaset_and_pods(
    k8s_cluster: Cluster, k8s_namespace: str
) -> None:
    apps, core = client.AppsV1Api(k8s_cluster.api), client.CoreV1Api(k8s_cluster.api)
    apps.create_namespaced_deployment(k8s_namespace, deployment("web", replicas=3))

    wait_until(lambda: available_replicas(apps, k8s_namespace, "web") == 3, "3 available replicas")
    (replica_set,) = apps.list_namespaced_replica_set(k8s_namespace).items
    assert [(o.kind, o.name, o.controller) for o in replica_set.metadata.owner_references] == [
        ("Deployment", "web", True)
    ]
    pods = core.list_namespaced_pod(k8s_namespace, label_selector="app=web").items
    assert len(pods) == 3
    for pod in pods:
        assert pod.metadata.owner_references[0].name == replica_set.metadata.name
        assert pod.status.phase == "Running" and pod.status.pod_ip and pod.spec.node_name
        assert {c.type: c.status for c in pod.status.conditions}["Ready"] == "True"
        assert all(s.ready for s in pod.status.container_statuses)

    apps.delete_namespaced_deployment("web", k8s_namespace)  # background propagation: the garbage collector's job
    wait_until(
        lambda: (
            not apps.list_namespaced_replica_set(k8s_namespace).items
            and not core.list_namespaced_pod(k8s_namespace).items
        ),
        "the ReplicaSet and its pods to be garbage-collected",
    )


def test_a_pvc_binds_through_the_default_storage_class_and_its_pod_becomes_ready(
    k8s_cluster: Cluster, k8s_namespace: str
) -> None:
    apps, core = client.AppsV1Api(k8s_cluster.api), client.CoreV1Api(k8s_cluster.api)
    claim = {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "16Mi"}}}
    core.create_namespaced_persistent_volume_claim(k8s_namespace, {"metadata": {"name": "state"}, "spec": claim})
    volume = {"name": "state", "persistentVolumeClaim": {"claimName": "state"}}
    apps.create_namespaced_deployment(k8s_namespace, deployment("stateful", replicas=1, volumes=[volume]))

    wait_until(lambda: available_replicas(apps, k8s_namespace, "stateful") == 1, "the pod with the PVC to be ready")
    assert core.read_namespaced_persistent_volume_claim("state", k8s_namespace).status.phase == "Bound"


def test_gpu_pods_land_on_the_fake_gpu_node(k8s_cluster: Cluster, k8s_namespace: str) -> None:
    if k8s_cluster.local is None:
        pytest.skip("fake GPU nodes exist only on the local control plane")
    apps, core = client.AppsV1Api(k8s_cluster.api), client.CoreV1Api(k8s_cluster.api)
    manifest = deployment("triton", replicas=2)
    manifest["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"]["nvidia.com/gpu"] = "1"
    apps.create_namespaced_deployment(k8s_namespace, manifest)

    wait_until(lambda: available_replicas(apps, k8s_namespace, "triton") == 2, "2 GPU replicas")
    nodes = {pod.spec.node_name for pod in core.list_namespaced_pod(k8s_namespace).items}
    gpu_nodes = {n.metadata.name for n in core.list_node().items if "nvidia.com/gpu" in n.status.allocatable}
    assert nodes <= gpu_nodes


def test_a_second_fake_kubelet_serves_its_own_node_and_stops_cleanly(k8s_cluster: Cluster, k8s_namespace: str) -> None:
    if k8s_cluster.local is None:
        pytest.skip("adds a fake node: only on the local control plane, never on someone's cluster")
    core = client.CoreV1Api(k8s_cluster.api)
    kubelet = FakeKubelet(k8s_cluster.api, [FakeNode("fake-extra-0", gpus=1)])
    kubelet.start()
    try:
        pod = {
            "metadata": {"name": "pinned"},
            "spec": {"nodeName": "fake-extra-0", "containers": [{"name": "c", "image": PAUSE}]},
        }
        core.create_namespaced_pod(k8s_namespace, pod)

        def running() -> client.V1Pod | None:
            current = core.read_namespaced_pod("pinned", k8s_namespace)
            return current if current.status.phase == "Running" else None

        ready = wait_until(running, "the pinned pod to run")
        assert ready.status.pod_ip.startswith("127.") and ready.status.container_statuses[0].ready
    finally:
        kubelet.stop()
        core.delete_node("fake-extra-0")
        with contextlib.suppress(ApiException):  # no kubelet left to finish a graceful delete
            core.delete_namespaced_pod("pinned", k8s_namespace, grace_period_seconds=0)
    assert not kubelet.running


def test_only_an_explicit_opt_in_selects_an_existing_cluster(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """A KUBECONFIG in someone's shell must never send the tests to their cluster."""
    for name in ("OCR_SUBNET_KUBECONFIG", "OCR_SUBNET_USE_EXISTING_CLUSTER"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "kind"))
    assert existing_kubeconfig() is None
    monkeypatch.setenv("OCR_SUBNET_USE_EXISTING_CLUSTER", "1")
    assert existing_kubeconfig() == tmp_path / "kind"
    monkeypatch.setenv("OCR_SUBNET_KUBECONFIG", str(tmp_path / "explicit"))
    assert existing_kubeconfig() == tmp_path / "explicit"


def test_deleting_a_namespace_with_running_pods_completes(k8s_cluster: Cluster, k8s_namespace: str) -> None:
    apps, core = client.AppsV1Api(k8s_cluster.api), client.CoreV1Api(k8s_cluster.api)
    apps.create_namespaced_deployment(k8s_namespace, deployment("web", replicas=2))
    wait_until(lambda: available_replicas(apps, k8s_namespace, "web") == 2, "2 available replicas")

    core.delete_namespace(k8s_namespace)
    wait_until(lambda: status_of(partial(core.read_namespace, k8s_namespace)) == 404, "the namespace to be gone")


def test_a_crd_installs_and_custom_objects_are_defaulted_stored_read_and_deleted(
    k8s_cluster: Cluster, k8s_namespace: str
) -> None:
    """The first custom-object create crashed the 1.20 apiserver before the reflect2/json-iterator swap."""
    ext, custom = client.ApiextensionsV1Api(k8s_cluster.api), client.CustomObjectsApi(k8s_cluster.api)
    schema = {
        "type": "object",
        "properties": {
            "spec": {
                "type": "object",
                "required": ["size"],
                "properties": {
                    "size": {"type": "integer", "minimum": 1},
                    "color": {"type": "string", "enum": ["red", "blue"], "default": "blue"},
                },
            }
        },
    }
    crd = {
        "metadata": {"name": f"widgets.{GROUP}"},
        "spec": {
            "group": GROUP,
            "scope": "Namespaced",
            "names": {"plural": "widgets", "singular": "widget", "kind": "Widget"},
            "versions": [{"name": "v1", "served": True, "storage": True, "schema": {"openAPIV3Schema": schema}}],
        },
    }
    ext.create_custom_resource_definition(crd)
    try:
        wait_until(
            lambda: any(
                c.type == "Established" and c.status == "True"
                for c in ext.read_custom_resource_definition(f"widgets.{GROUP}").status.conditions or []
            ),
            "the CRD to be established",
        )
        widget = {"apiVersion": f"{GROUP}/v1", "kind": "Widget", "metadata": {"name": "w"}, "spec": {"size": 3}}
        create = partial(custom.create_namespaced_custom_object, GROUP, "v1", k8s_namespace, "widgets", widget)
        wait_until(lambda: status_of(create) == 200, "the new resource to be served")

        stored = custom.get_namespaced_custom_object(GROUP, "v1", k8s_namespace, "widgets", "w")
        assert stored["spec"] == {"size": 3, "color": "blue"}
        invalid = {**widget, "metadata": {"name": "bad"}, "spec": {"size": 0}}
        with pytest.raises(ApiException) as rejected:
            custom.create_namespaced_custom_object(GROUP, "v1", k8s_namespace, "widgets", invalid)
        assert rejected.value.status == 422 and "spec.size" in rejected.value.body

        custom.delete_namespaced_custom_object(GROUP, "v1", k8s_namespace, "widgets", "w")
        assert custom.list_namespaced_custom_object(GROUP, "v1", k8s_namespace, "widgets")["items"] == []
    finally:
        ext.delete_custom_resource_definition(f"widgets.{GROUP}")


def test_kubectl_applies_reapplies_and_gets_across_the_version_skew(k8s_cluster: Cluster, k8s_namespace: str) -> None:
    """kubectl 1.32 here against the 1.20 server: far outside the supported skew, so prove what tests use."""
    versions = json.loads(k8s_cluster.kubectl("version", "-o", "json").stdout)
    assert {"clientVersion", "serverVersion"} <= versions.keys()

    manifest = deployment("applied", replicas=1)
    config_map = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "settings"}, "data": {"a": "1"}}
    documents = {"apiVersion": "v1", "kind": "List", "items": [manifest, config_map]}
    k8s_cluster.kubectl("apply", "-n", k8s_namespace, "-f", "-", stdin=json.dumps(documents))
    config_map["data"] = {"a": "2", "b": "3"}
    k8s_cluster.kubectl("apply", "-n", k8s_namespace, "-f", "-", stdin=json.dumps(config_map))
    k8s_cluster.kubectl("apply", "--server-side", "-n", k8s_namespace, "-f", "-", stdin=json.dumps(manifest))

    got = json.loads(k8s_cluster.kubectl("get", "-n", k8s_namespace, "configmap/settings", "-o", "json").stdout)
    assert got["data"] == {"a": "2", "b": "3"}
    k8s_cluster.kubectl("rollout", "status", "-n", k8s_namespace, "deployment/applied", "--timeout=60s")
    listed = k8s_cluster.kubectl("get", "-n", k8s_namespace, "deployments", "-o", "name").stdout.split()
    assert listed == ["deployment.apps/applied"]
