"""Drift on a real API server: owned Deployments, Services and claims deleted or edited by hand are re-applied
by the operator from the watch event (a DriftRepaired Event says so), with no spec change and no timer."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client
from subnet_operator import api

from tests.integration.operator_harness import (
    NEURON_IMAGE,
    SETTLE_S,
    TRITON_IMAGE,
    Resources,
    install_crds,
    miner_manifest,
    running_operator,
    validator_manifest,
)
from tests.support.cluster import Cluster
from tests.support.poll import wait_until

pytestmark = [pytest.mark.integration, pytest.mark.slow]


@pytest.fixture
def cluster(k8s_cluster: Cluster) -> Cluster:
    install_crds(k8s_cluster)
    return k8s_cluster


def restored(read: Callable[[], Any], old_uid: str, what: str) -> Any:
    """Wait for the object to exist again as a new object (a new uid), and return it."""
    return wait_until(
        lambda: (found := read()) is not None and found.metadata.uid != old_uid and found, what, timeout_s=SETTLE_S
    )


def test_deleted_and_hand_edited_children_are_restored(cluster: Cluster, k8s_namespace: str, tmp_path: Path) -> None:
    ns = k8s_namespace
    resources = Resources(cluster, ns)
    core = client.CoreV1Api(cluster.api)
    with running_operator(cluster, ns, tmp_path / "operator.log", namespaces=[ns]):
        resources.apply(miner_manifest("m1"), validator_manifest("v1"))
        for kind, name in ((api.MINER, "m1"), (api.VALIDATOR, "v1")):
            wait_until(lambda k=kind, n=name: resources.converged(k, n), f"{name} Ready", timeout_s=SETTLE_S)
        generations = {
            n: resources.get(k, n)["metadata"]["generation"] for k, n in ((api.MINER, "m1"), (api.VALIDATOR, "v1"))
        }

        triton = resources.deployment("m1-triton")
        cluster.kubectl("delete", "deployment", "m1-triton", "-n", ns, "--wait=false")
        restored(lambda: resources.deployment("m1-triton"), triton.metadata.uid, "the deleted Triton Deployment back")

        axon = resources.service("m1-miner")
        cluster.kubectl("delete", "service", "m1-miner", "-n", ns, "--wait=false")
        restored(lambda: resources.service("m1-miner"), axon.metadata.uid, "the deleted axon Service back")

        image = {"spec": {"template": {"spec": {"containers": [{"name": "miner", "image": "evil/miner:latest"}]}}}}
        cluster.kubectl("patch", "deployment", "m1-miner", "-n", ns, "-p", json.dumps(image))
        wait_until(
            lambda: resources.deployment("m1-miner").spec.template.spec.containers[0].image == NEURON_IMAGE,
            "the hand-edited miner image restored",
            timeout_s=SETTLE_S,
        )

        # A field the operator does not own survives its re-apply (server-side apply leaves others' fields): one
        # repair, and none more while the Deployment rolls the new template out (its status changes, not its spec).
        edited = "Deployment m1-miner was edited: re-applied"
        repairs = lambda: [e for e in resources.events("m1") if e.reason == "DriftRepaired" and e.message == edited]  # noqa: E731
        before = len(repairs())
        cluster.kubectl("set", "env", "deployment/m1-miner", "-n", ns, "EXTRA=kept")
        wait_until(lambda: len(repairs()) > before, "the env edit noticed", timeout_s=SETTLE_S)

        def rolled_out() -> bool:
            found = resources.deployment("m1-miner")
            return found.status.observed_generation == found.metadata.generation and found.status.updated_replicas == 1

        wait_until(rolled_out, "the edited template rolled out", timeout_s=SETTLE_S)
        wait_until(lambda: resources.converged(api.MINER, "m1"), "m1 Ready again", timeout_s=SETTLE_S)
        env = {e.name: e.value for e in resources.deployment("m1-miner").spec.template.spec.containers[0].env}
        assert env["EXTRA"] == "kept"
        assert len(repairs()) == before + 1

        selector = {"spec": {"selector": {api.LABEL_COMPONENT: "hijacked"}}}
        cluster.kubectl("patch", "service", "m1-triton", "-n", ns, "-p", json.dumps(selector))
        wait_until(
            lambda: resources.service("m1-triton").spec.selector[api.LABEL_COMPONENT] == api.TRITON_COMPONENT,
            "the hand-edited Triton Service selector restored",
            timeout_s=SETTLE_S,
        )

        # A claim in use stays Terminating while its pod lives (the pvc-protection finalizer); once it is
        # really gone, it is created again.
        claim = core.read_namespaced_persistent_volume_claim("v1-state", ns)
        cluster.kubectl("delete", "pvc", "v1-state", "-n", ns, "--wait=false")
        cluster.kubectl("patch", "pvc", "v1-state", "-n", ns, "--type=merge", "-p", '{"metadata":{"finalizers":null}}')

        def claim_now() -> Any:
            found = core.list_namespaced_persistent_volume_claim(ns, field_selector="metadata.name=v1-state").items
            return found[0] if found else None

        restored(claim_now, claim.metadata.uid, "the deleted state claim back")

        def repairs_posted() -> list[str]:  # kopf posts Events in the background: they may trail the repair
            return [e.message for name in ("m1", "v1") for e in resources.events(name) if e.reason == "DriftRepaired"]

        for message in (
            "Deployment m1-triton was deleted: re-applied",
            "Service m1-miner was deleted: re-applied",
            "Deployment m1-miner was edited: re-applied",
            "Service m1-triton was edited: re-applied",
            "PersistentVolumeClaim v1-state was deleted: re-applied",
        ):
            wait_until(lambda m=message: m in repairs_posted(), f"the Event {message!r}", timeout_s=SETTLE_S)
        assert "PersistentVolumeClaim v1-state was edited: re-applied" not in repairs_posted()  # binding is no edit
        # Repaired from the watch, not by a spec change: the owners' generations never moved.
        assert {
            n: resources.get(k, n)["metadata"]["generation"] for k, n in ((api.MINER, "m1"), (api.VALIDATOR, "v1"))
        } == generations


def drift_failures(log: str, child: str) -> list[dict[str, Any]]:
    lines = (json.loads(line) for line in log.splitlines() if line.startswith("{"))
    return [line for line in lines if line.get("event") == "drift-repair-failed" and line.get("child") == child]


def test_a_spec_that_breaks_a_rule_is_not_applied_by_the_drift_repair_either(
    cluster: Cluster, k8s_namespace: str, tmp_path: Path
) -> None:
    """The repair applies through the same rules as the reconcile: while SpecValid is False it puts back nothing,
    and the fixed spec brings the deleted child back."""
    ns = k8s_namespace
    resources = Resources(cluster, ns)
    with running_operator(cluster, ns, tmp_path / "operator.log", namespaces=[ns]) as operator:
        resources.apply(miner_manifest("m1"))
        wait_until(lambda: resources.converged(api.MINER, "m1"), "m1 Ready", timeout_s=SETTLE_S)
        resources.apply(miner_manifest("m1", triton={"image": TRITON_IMAGE, "minReplicas": 3, "maxReplicas": 1}))
        wait_until(
            lambda: resources.has_condition(api.MINER, "m1", api.SPEC_VALID, "False"),
            "SpecValid False",
            timeout_s=SETTLE_S,
        )

        cluster.kubectl("delete", "deployment", "m1-triton", "-n", ns, "--wait=false")
        failed = wait_until(
            lambda: drift_failures(operator.log(), "Deployment m1-triton"), "the repair refused", timeout_s=SETTLE_S
        )
        assert "spec.triton.maxReplicas (1) is below spec.triton.minReplicas (3)" in failed[0]["error"]
        assert resources.deployment("m1-triton") is None

        resources.apply(miner_manifest("m1", triton={"image": TRITON_IMAGE, "minReplicas": 1, "maxReplicas": 3}))
        wait_until(lambda: resources.deployment("m1-triton") is not None, "Triton applied again", timeout_s=SETTLE_S)
        valid = lambda: resources.has_condition(api.MINER, "m1", api.SPEC_VALID, "True")  # noqa: E731
        wait_until(valid, "SpecValid True", timeout_s=SETTLE_S)
