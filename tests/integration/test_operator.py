"""The operator against a real API server: CRDs, validation, reconciliation, rollout, garbage collection,
crash recovery, peering between replicas and least-privilege RBAC.

`ocr-subnet operator run` runs as a process, exactly as the chart runs it; the cluster is the local 1.20
control plane with its fake kubelet, or kind (OCR_SUBNET_KUBECONFIG), unchanged.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client
from subnet_operator import api, crds, rbac
from subnet_operator.schema import apply_defaults

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
from tests.support.poll import wait_until

pytestmark = [pytest.mark.integration, pytest.mark.slow]


@pytest.fixture(scope="module")
def cluster(k8s_cluster: Cluster) -> Cluster:
    install_crds(k8s_cluster)
    return k8s_cluster


@pytest.fixture
def resources(cluster: Cluster, k8s_namespace: str) -> Resources:
    return Resources(cluster, k8s_namespace)


@pytest.fixture
def operator(cluster: Cluster, k8s_namespace: str, tmp_path: Path) -> Iterator[OperatorProcess]:
    with running_operator(cluster, k8s_namespace, tmp_path / "operator.log", namespaces=[k8s_namespace]) as op:
        yield op


def wait_converged(resources: Resources, kind: api.Kind, *names: str, timeout_s: float = SETTLE_S) -> None:
    for name in names:
        wait_until(lambda n=name: resources.converged(kind, n), f"{kind.kind} {name} Ready", timeout_s=timeout_s)


def test_the_crds_install_and_the_api_server_defaults_specs_as_the_builders_expect(resources: Resources) -> None:
    listed = resources.cluster.kubectl("get", "crd", "-o", "name").stdout
    for kind in api.KINDS:
        assert f"customresourcedefinition.apiextensions.k8s.io/{kind.plural}.{api.GROUP}" in listed
    assert "No resources found" in resources.cluster.kubectl("get", api.CATEGORY, "-n", resources.namespace).stderr
    miner, validator = miner_manifest("m-defaults"), validator_manifest("v-defaults")
    resources.apply(miner, validator)
    assert resources.get(api.MINER, "m-defaults")["spec"] == apply_defaults(crds.miner_spec(), miner["spec"])
    assert resources.get(api.VALIDATOR, "v-defaults")["spec"] == apply_defaults(
        crds.validator_spec(), validator["spec"]
    )
    shown = resources.cluster.kubectl("get", "ocrm,ocrv", "-n", resources.namespace).stdout
    assert "m-defaults" in shown and "v-defaults" in shown


def without(spec: dict[str, Any], key: str) -> dict[str, Any]:
    return {k: v for k, v in spec.items() if k != key}


INVALID = {
    "unknown backend": (miner_manifest("bad", backend="gpu"), 'spec.backend: Unsupported value: "gpu"'),
    "too few replicas": (
        miner_manifest("bad", triton={"image": "t", "maxReplicas": 0}),
        "spec.triton.maxReplicas: Invalid value: 0",
    ),
    "no netuid": (miner_manifest("bad", chain={"network": "test"}), "spec.chain.netuid: Required value"),
    "cluster-internal axon": (
        miner_manifest("bad", axon={"serviceType": "ClusterIP"}),
        'spec.axon.serviceType: Unsupported value: "ClusterIP"',
    ),
    "no hotkey secret": (miner_manifest("bad", wallet={"hotkey": "hk"}), "spec.wallet.secretName: Required value"),
    "not a quantity": (
        miner_manifest("bad", resources={"requests": {"cpu": "lots"}}),
        "spec.resources.requests.cpu: Invalid value",
    ),
    "node port out of range": (miner_manifest("bad", axon={"nodePort": 80}), "spec.axon.nodePort: Invalid value: 80"),
    "name too long": (miner_manifest("m" * (api.MAX_NAME_LENGTH + 1)), "metadata.name: "),
    "zero EMA alpha": (validator_manifest("bad", neuron={"emaAlpha": 0}), "spec.neuron.emaAlpha: Invalid value: 0"),
    "no image": (
        {**validator_manifest("bad"), "spec": without(validator_manifest("bad")["spec"], "image")},
        "spec.image: Required value",
    ),
}


@pytest.mark.parametrize("case", sorted(INVALID))
def test_invalid_resources_are_rejected_with_a_message_naming_the_field(resources: Resources, case: str) -> None:
    manifest, message = INVALID[case]
    refusal = resources.apply(manifest, check=False, client_validation=False)
    assert message in refusal, refusal  # the field's path, then what is wrong with it
    assert " is invalid: " in refusal
    kind = api.MINER if manifest["kind"] == "Miner" else api.VALIDATOR
    assert resources.get(kind, manifest["metadata"]["name"]) is None


def test_kubectl_apply_of_a_miner_creates_its_objects_locked_down(
    resources: Resources, operator: OperatorProcess
) -> None:
    resources.apply(miner_manifest("m1", triton={"image": "triton:1", "gpus": 1}))
    wait_converged(resources, api.MINER, "m1")
    miner = resources.get(api.MINER, "m1")
    uid = miner["metadata"]["uid"]

    for name in ("m1-miner", "m1-triton"):
        deployment = resources.deployment(name)
        assert deployment is not None
        [owner] = deployment.metadata.owner_references
        assert (owner.kind, owner.name, owner.uid, owner.controller) == ("Miner", "m1", uid, True)
        pod = deployment.spec.template.spec
        assert pod.security_context.run_as_non_root is True
        assert pod.automount_service_account_token is False
        for container in pod.containers:
            assert container.security_context.read_only_root_filesystem is True
            assert container.security_context.allow_privilege_escalation is False
            assert container.security_context.capabilities.drop == ["ALL"]
            assert container.resources.requests and container.resources.limits
    [triton] = resources.deployment("m1-triton").spec.template.spec.containers
    assert triton.resources.limits["nvidia.com/gpu"] == "1"
    assert (triton.liveness_probe.http_get.path, triton.readiness_probe.http_get.path) == (
        "/v2/health/live",
        "/ready",  # `triton serve --health-port`: ready while a canary inference answers
    )
    axon = resources.service("m1-miner")
    assert axon.spec.type == "NodePort"
    node_port = axon.spec.ports[0].node_port
    command = resources.deployment("m1-miner").spec.template.spec.containers[0].command
    assert command[command.index("--external-port") + 1] == str(node_port)
    assert resources.service("m1-triton").spec.cluster_ip == "None"

    status = resources.get(api.MINER, "m1")["status"]
    assert (status["phase"], status["tritonReplicas"], status["tritonReadyReplicas"]) == ("Running", 1, 1)
    score = resources.condition(api.MINER, "m1", api.SCORE_HEALTHY)
    assert (score["status"], score["reason"]) == ("Unknown", "PrometheusNotConfigured")
    table = resources.cluster.kubectl("get", "miners", "-n", resources.namespace).stdout
    assert table.split("\n")[0].split() == ["NAME", "PHASE", "UID", "EMA", "TRITON", "AGE"]
    assert table.split("\n")[1].split()[:3] == ["m1", "Running", "1"]  # no uid or EMA known yet
    ready = resources.event("m1", "Available")
    assert ready is not None and ready.type == "Normal"
    assert 'ocr_subnet_operator_reconciles_total{kind="Miner",result="success"}' in operator.metrics()


def test_a_validator_gets_its_state_claim_and_a_single_replica(resources: Resources, operator: OperatorProcess) -> None:
    resources.apply(validator_manifest("v1", persistence={"size": "2Gi"}))
    wait_converged(resources, api.VALIDATOR, "v1")
    claim = client.CoreV1Api(resources.cluster.api).read_namespaced_persistent_volume_claim(
        "v1-state", resources.namespace
    )
    assert claim.spec.resources.requests["storage"] == "2Gi"
    assert not claim.metadata.owner_references  # retained by default: it outlives the Validator
    deployment = resources.deployment("v1-validator")
    assert (deployment.spec.replicas, deployment.spec.strategy.type) == (1, "Recreate")
    weights = resources.condition(api.VALIDATOR, "v1", api.WEIGHTS_HEALTHY)
    assert (weights["status"], weights["reason"]) == ("Unknown", "PrometheusNotConfigured")


def test_a_spec_change_rolls_out(resources: Resources, operator: OperatorProcess) -> None:
    resources.apply(miner_manifest("m1"))
    wait_converged(resources, api.MINER, "m1")
    changed = miner_manifest("m1", image="ocr-subnet/neuron:next", neuron={"maxQueue": 4})
    resources.apply(changed)

    def rolled_out() -> bool:
        deployment = resources.deployment("m1-miner")
        [container] = deployment.spec.template.spec.containers
        status = deployment.status
        return (
            container.image == "ocr-subnet/neuron:next"
            and "--max-queue" in container.command
            and container.command[container.command.index("--max-queue") + 1] == "4"
            and status.observed_generation == deployment.metadata.generation
            and status.updated_replicas == status.replicas == status.available_replicas == 1
        )

    wait_until(rolled_out, "the new miner pod template rolled out", timeout_s=SETTLE_S)
    wait_converged(resources, api.MINER, "m1")
    assert resources.get(api.MINER, "m1")["status"]["observedGeneration"] == 2

    resources.apply(miner_manifest("m1", image="ocr-subnet/neuron:next", backend="tesseract"))
    gone = lambda: resources.deployment("m1-triton") is None and resources.service("m1-triton") is None  # noqa: E731
    wait_until(gone, "the Triton Deployment and Service removed", timeout_s=SETTLE_S)
    not_used = lambda: (resources.condition(api.MINER, "m1", api.TRITON_READY) or {}).get("reason") == "NotUsed"  # noqa: E731
    wait_until(not_used, "TritonReady NotUsed")


def test_deleting_a_miner_garbage_collects_everything_it_owned(resources: Resources, operator: OperatorProcess) -> None:
    resources.apply(miner_manifest("m1"), validator_manifest("v1", persistence={"retain": False}))
    wait_converged(resources, api.MINER, "m1")
    wait_converged(resources, api.VALIDATOR, "v1")
    resources.cluster.kubectl("delete", "miner/m1", "validator/v1", "-n", resources.namespace, "--timeout=120s")
    core, apps = client.CoreV1Api(resources.cluster.api), client.AppsV1Api(resources.cluster.api)
    ns = resources.namespace

    def everything_gone() -> bool:
        return not (
            apps.list_namespaced_deployment(ns).items
            or apps.list_namespaced_replica_set(ns).items
            or core.list_namespaced_pod(ns).items
            or core.list_namespaced_service(ns).items
            or core.list_namespaced_persistent_volume_claim(ns).items
        )

    wait_until(everything_gone, "the garbage collector to remove every owned object", timeout_s=SETTLE_S)


def test_a_validators_state_claim_outlives_it_and_is_taken_up_again(
    resources: Resources, operator: OperatorProcess
) -> None:
    resources.apply(validator_manifest("v1"))
    wait_converged(resources, api.VALIDATOR, "v1")
    core = client.CoreV1Api(resources.cluster.api)
    before = core.read_namespaced_persistent_volume_claim("v1-state", resources.namespace).metadata.uid
    resources.cluster.kubectl("delete", "validator/v1", "-n", resources.namespace, "--timeout=120s")
    wait_until(lambda: resources.deployment("v1-validator") is None, "the validator's Deployment collected", SETTLE_S)
    resources.apply(validator_manifest("v1"))
    wait_converged(resources, api.VALIDATOR, "v1")
    assert core.read_namespaced_persistent_volume_claim("v1-state", resources.namespace).metadata.uid == before


def test_killing_the_operator_mid_reconcile_and_restarting_it_converges(
    cluster: Cluster, resources: Resources, tmp_path: Path
) -> None:
    names = [f"m{i}" for i in range(12)]
    ns = resources.namespace
    first = OperatorProcess(cluster.kubeconfig, tmp_path / "first.log", namespaces=[ns]).start()
    resources.apply(*(miner_manifest(name) for name in names))
    wait_until(lambda: resources.deployment("m0-miner") or resources.deployment("m0-triton"), "a first Deployment")
    first.kill()
    converged_at_kill = sum(resources.converged(api.MINER, name) for name in names)
    resources.apply(miner_manifest("m0", image="ocr-subnet/neuron:after-crash"))  # changed while nobody watches
    resources.cluster.kubectl("delete", "miner", "m1", "-n", ns, "--wait=false")  # held by the finalizer

    with running_operator(cluster, ns, tmp_path / "second.log", namespaces=[ns]):
        survivors = [name for name in names if name != "m1"]
        wait_converged(resources, api.MINER, *survivors)
        wait_until(lambda: resources.get(api.MINER, "m1") is None, "m1's deletion finished", timeout_s=SETTLE_S)
        expected = {f"{n}-{component}" for n in survivors for component in ("miner", "triton")}
        wait_until(lambda: deployments_now(resources) == expected, "one Deployment per part, m1's collected")
        image = resources.deployment("m0-miner").spec.template.spec.containers[0].image
        assert image == "ocr-subnet/neuron:after-crash"
    assert converged_at_kill < len(names), "the kill came after everything had converged; nothing was tested"


def deployments_now(resources: Resources) -> set[str]:
    apps = client.AppsV1Api(resources.cluster.api)
    return {d.metadata.name for d in apps.list_namespaced_deployment(resources.namespace).items}


def test_two_replicas_one_works_and_the_other_takes_over(
    cluster: Cluster, resources: Resources, tmp_path: Path
) -> None:
    ns = resources.namespace
    active = OperatorProcess(cluster.kubeconfig, tmp_path / "a.log", [ns], pod_id="operator-a", priority=200).start()
    standby = OperatorProcess(cluster.kubeconfig, tmp_path / "b.log", [ns], pod_id="operator-b", priority=100).start()
    try:
        wait_until(lambda: "Pausing operations in favour of" in standby.log(), "the standby to pause")
        resources.apply(miner_manifest("m1"))
        wait_converged(resources, api.MINER, "m1")
        assert '"name": "m1"' in active.log() and '"name": "m1"' not in standby.log()
        peering = client.CustomObjectsApi(cluster.api).get_namespaced_custom_object(
            "kopf.dev", "v1", ns, "kopfpeerings", api.PEERING_NAME
        )
        assert {"operator-a", "operator-b"} <= set(peering["status"])

        assert active.stop() == 0  # a graceful stop withdraws from the peering at once
        resources.apply(miner_manifest("m1", image="ocr-subnet/neuron:by-standby"))
        wait_until(
            lambda: (
                resources.deployment("m1-miner").spec.template.spec.containers[0].image
                == "ocr-subnet/neuron:by-standby"
            ),
            "the standby to roll out the change",
            timeout_s=SETTLE_S,
        )
        Resources(cluster, ns).delete_all()
    finally:
        for replica in (active, standby):
            if replica.alive:
                replica.stop()


@pytest.mark.parametrize("clusterwide", [True, False], ids=["cluster-role", "namespace-role"])
def test_the_operator_works_with_exactly_the_permissions_the_chart_grants(
    cluster: Cluster, resources: Resources, tmp_path: Path, clusterwide: bool
) -> None:
    ns = resources.namespace
    name = f"operator-{ns}"  # cluster-scoped roles are named per test
    manifests = rbac.manifests(namespace=ns, name=name, watch_namespaces=() if clusterwide else (ns,))
    resources.apply(*manifests)
    token = cluster.service_account_token(ns, name)
    kubeconfig = cluster.token_kubeconfig(token, tmp_path / "operator.kubeconfig")
    denied = cluster.kubectl(f"--kubeconfig={kubeconfig}", "get", "secrets", "-n", ns, check=False)
    assert denied.returncode != 0 and "forbidden" in denied.stderr.lower()  # not an admin
    try:
        options: dict[str, Any] = {"namespaces": () if clusterwide else (ns,), "kubeconfig": kubeconfig}
        with running_operator(cluster, ns, tmp_path / "operator.log", **options) as operator:
            resources.apply(miner_manifest("m1"), validator_manifest("v1"))
            wait_converged(resources, api.MINER, "m1")
            wait_converged(resources, api.VALIDATOR, "v1")
            assert resources.event("m1", "Available") is not None
        log = operator.log()
        assert not re.search(r"\b403\b|forbidden", log, re.IGNORECASE), log[-3000:]
    finally:
        if clusterwide:
            for kind in ("clusterrolebinding", "clusterrole"):
                cluster.kubectl("delete", kind, name, "--ignore-not-found")


def test_a_validators_gateway_gets_a_deployment_service_and_ingress_and_loses_them_when_off(
    resources: Resources, operator: OperatorProcess
) -> None:
    gateway = {"enabled": True, "apiKeySecretName": "v1-api-keys", "replicas": 2, "ingress": {"enabled": True}}
    resources.apply(validator_manifest("v1", gateway=gateway))
    wait_converged(resources, api.VALIDATOR, "v1")
    networking = client.NetworkingV1Api(resources.cluster.api)

    def ingress() -> Any:
        items = networking.list_namespaced_ingress(resources.namespace).items
        return next((i for i in items if i.metadata.name == "v1-gateway"), None)

    wait_until(lambda: resources.deployment("v1-gateway") and ingress(), "the gateway's objects", timeout_s=SETTLE_S)
    deployment = resources.deployment("v1-gateway")
    assert deployment.spec.replicas == 2
    [container] = deployment.spec.template.spec.containers
    assert container.command[:3] == ["ocr-subnet", "gateway", "serve"]
    assert container.readiness_probe.http_get.path == "/healthz"
    assert resources.service("v1-gateway").spec.ports[0].port == 8080
    assert ingress().spec.rules[0].http.paths[0].backend.service.name == "v1-gateway"
    # linked over /metrics: a headless Service for every gateway pod, read by the validator
    assert resources.service("v1-gateway-pods").spec.cluster_ip == "None"
    assert f"http://v1-validator.{resources.namespace}.svc:9101/metrics" in container.command
    wait_until(
        lambda: "--organic-metrics" in resources.deployment("v1-validator").spec.template.spec.containers[0].command,
        "the validator reading the gateway pods",
        timeout_s=SETTLE_S,
    )

    resources.apply(validator_manifest("v1", gateway={"enabled": False}))

    def gone() -> bool:
        services = all(resources.service(name) is None for name in ("v1-gateway", "v1-gateway-pods"))
        return services and resources.deployment("v1-gateway") is None and ingress() is None

    wait_until(gone, "the gateway's objects removed", timeout_s=SETTLE_S)
    assert "--organic-metrics" not in resources.deployment("v1-validator").spec.template.spec.containers[0].command


def test_two_namespaced_operators_in_two_namespaces_both_work(
    cluster: Cluster, resources: Resources, tmp_path: Path
) -> None:
    """Namespaced mode as the chart renders it (operator.watchNamespaces): each operator holds only a Role in its
    namespace and peers through that namespace's KopfPeering, so neither pauses the other."""
    core = client.CoreV1Api(cluster.api)
    second = core.create_namespace({"metadata": {"generateName": f"{resources.namespace[:50]}-b-"}}).metadata.name
    operators: list[OperatorProcess] = []
    try:
        for n, ns in enumerate((resources.namespace, second)):
            name = f"operator-{n}"
            Resources(cluster, ns).apply(*rbac.manifests(namespace=ns, name=name, watch_namespaces=(ns,)))
            kubeconfig = cluster.token_kubeconfig(cluster.service_account_token(ns, name), tmp_path / f"{n}.kubeconfig")
            # Different priorities: under one cluster-wide peering the lower would pause.
            operator = OperatorProcess(
                kubeconfig, tmp_path / f"{n}.log", [ns], pod_id=f"operator-{n}", priority=100 + n
            ).start()
            operators.append(operator)
            Resources(cluster, ns).apply(miner_manifest(f"m{n}"))
        for n, ns in enumerate((resources.namespace, second)):
            wait_converged(Resources(cluster, ns), api.MINER, f"m{n}")
            peering = client.CustomObjectsApi(cluster.api).get_namespaced_custom_object(
                "kopf.dev", "v1", ns, "kopfpeerings", api.PEERING_NAME
            )
            assert set(peering["status"]) == {f"operator-{n}"}
        for operator in operators:
            log = operator.log()
            assert "Pausing operations" not in log
            assert not re.search(r"\b403\b|forbidden", log, re.IGNORECASE), log[-3000:]
        for ns in (resources.namespace, second):
            Resources(cluster, ns).delete_all()
    finally:
        for operator in operators:
            if operator.alive:
                operator.stop()
        core.delete_namespace(second)
