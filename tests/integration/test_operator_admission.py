"""Bad specs at the door: the API server calls the operator's validating webhook (HTTPS on loopback, a
CA-signed certificate) and refuses what `subnet_operator.validation` refuses, naming the field; without
the webhook the reconcile reports the same problems (SpecValid=False, an Event) and applies nothing.
"""

from __future__ import annotations

import base64
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client
from subnet_operator import api
from subnet_operator.handlers.admission import WEBHOOK_ID

from tests.integration.operator_harness import (
    SETTLE_S,
    START_TIMEOUT_S,
    OperatorProcess,
    Resources,
    install_crds,
    miner_manifest,
    running_operator,
    validator_manifest,
)
from tests.support.cluster import Cluster
from tests.support.pki import write_pki
from tests.support.poll import wait_until
from tests.support.ports import free_ports

pytestmark = [pytest.mark.integration, pytest.mark.slow]

MISTAKES = {
    "min above max": (
        miner_manifest("bad", triton={"image": "t", "minReplicas": 3, "maxReplicas": 1}),
        "spec.triton.maxReplicas (1) is below spec.triton.minReplicas (3)",
    ),
    "triton backend without triton": (
        {**miner_manifest("bad"), "spec": {k: v for k, v in miner_manifest("bad")["spec"].items() if k != "triton"}},
        "spec.triton is required when spec.backend is triton",
    ),
    "external ip published without one": (
        miner_manifest("bad", axon={"serviceType": "LoadBalancer", "publish": "ExternalIP"}),
        "spec.axon.externalIp is required when spec.axon.publish is ExternalIP",
    ),
    "local chain without endpoint": (
        validator_manifest("bad", chain={"network": "local", "netuid": 1}),
        "spec.chain.endpoint is required when spec.chain.network is local",
    ),
    "request above the default limit": (
        miner_manifest("bad", resources={"requests": {"cpu": "3"}}),
        "spec.resources.requests.cpu (3) is above spec.resources.limits.cpu (2)",
    ),
}


def webhook_configuration(name: str, port: int, ca: bytes, label: dict[str, str]) -> dict[str, Any]:
    """What the chart makes, pointed at loopback by URL instead of at the operator's Service."""
    return {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "ValidatingWebhookConfiguration",
        "metadata": {"name": name},
        "webhooks": [
            {
                "name": f"{name}.{api.GROUP}",
                "clientConfig": {
                    "url": f"https://127.0.0.1:{port}/{WEBHOOK_ID}",
                    "caBundle": base64.b64encode(ca).decode(),
                },
                "rules": [
                    {
                        "apiGroups": [api.GROUP],
                        "apiVersions": [api.VERSION],
                        "operations": ["CREATE", "UPDATE"],
                        "resources": [kind.plural for kind in api.KINDS],
                    }
                ],
                "namespaceSelector": {"matchLabels": label},  # this test's namespace only
                "failurePolicy": "Fail",
                "sideEffects": "None",
                "admissionReviewVersions": ["v1"],
                "timeoutSeconds": 10,
            }
        ],
    }


def listening(port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(1)
        return probe.connect_ex(("127.0.0.1", port)) == 0


@pytest.fixture
def webhook(k8s_cluster: Cluster, k8s_namespace: str, tmp_path: Path) -> Iterator[OperatorProcess]:
    install_crds(k8s_cluster)
    pki = write_pki(tmp_path / "pki")  # its serving certificate names 127.0.0.1
    [port] = free_ports(1)
    args = [
        *("--webhook-host", "127.0.0.1", "--webhook-port", str(port)),
        *("--webhook-cert", str(pki.serving_cert), "--webhook-key", str(pki.serving_key)),
    ]
    name = f"ocr-subnet-test-{uuid.uuid4().hex[:8]}"
    label = {"ocr-subnet-webhook-test": name}
    core = client.CoreV1Api(k8s_cluster.api)
    core.patch_namespace(k8s_namespace, {"metadata": {"labels": label}})
    log = tmp_path / "operator.log"
    with running_operator(k8s_cluster, k8s_namespace, log, namespaces=[k8s_namespace], extra_args=args) as op:
        wait_until(lambda: listening(port), "the webhook server listening", timeout_s=START_TIMEOUT_S)
        Resources(k8s_cluster, k8s_namespace).apply(webhook_configuration(name, port, pki.ca_cert.read_bytes(), label))
        try:
            yield op
        finally:
            client.AdmissionregistrationV1Api(k8s_cluster.api).delete_validating_webhook_configuration(name)


@pytest.mark.parametrize("case", sorted(MISTAKES))
def test_the_api_server_refuses_each_mistake_through_the_operators_webhook(
    k8s_cluster: Cluster, k8s_namespace: str, webhook: OperatorProcess, case: str
) -> None:
    resources = Resources(k8s_cluster, k8s_namespace)
    manifest, message = MISTAKES[case]
    refusal = resources.apply(manifest, check=False, client_validation=False)
    assert "admission webhook" in refusal and "denied the request" in refusal, refusal
    assert message in refusal, refusal
    kind = api.MINER if manifest["kind"] == "Miner" else api.VALIDATOR
    assert resources.get(kind, "bad") is None


def test_a_valid_spec_passes_the_webhook_and_a_bad_update_of_it_is_refused(
    k8s_cluster: Cluster, k8s_namespace: str, webhook: OperatorProcess
) -> None:
    resources = Resources(k8s_cluster, k8s_namespace)
    resources.apply(miner_manifest("good", backend="tesseract"))
    assert resources.get(api.MINER, "good") is not None
    refusal = resources.apply(
        miner_manifest("good", backend="tesseract", chain={"network": "local", "netuid": 1}), check=False
    )
    assert "spec.chain.endpoint is required" in refusal, refusal
    assert resources.get(api.MINER, "good")["spec"]["chain"]["network"] == "test"


@pytest.fixture
def operator(k8s_cluster: Cluster, k8s_namespace: str, tmp_path: Path) -> Iterator[OperatorProcess]:
    install_crds(k8s_cluster)
    with running_operator(k8s_cluster, k8s_namespace, tmp_path / "operator.log", namespaces=[k8s_namespace]) as op:
        yield op


def test_without_the_webhook_a_bad_spec_is_reported_and_nothing_is_applied(
    k8s_cluster: Cluster, k8s_namespace: str, operator: OperatorProcess
) -> None:
    resources = Resources(k8s_cluster, k8s_namespace)
    resources.apply(miner_manifest("m1", triton={"image": "t", "minReplicas": 3, "maxReplicas": 1}))
    invalid = wait_until(
        lambda: resources.has_condition(api.MINER, "m1", api.SPEC_VALID, "False"),
        "SpecValid False",
        timeout_s=SETTLE_S,
    )
    assert "spec.triton.maxReplicas (1) is below spec.triton.minReplicas (3)" in invalid["message"]
    event = wait_until(lambda: resources.event("m1", "SpecInvalid"), "a SpecInvalid Event", timeout_s=SETTLE_S)
    assert event.type == "Warning" and "spec.triton.maxReplicas" in event.message
    assert resources.deployment("m1-miner") is None and resources.deployment("m1-triton") is None
    assert resources.service("m1-miner") is None
    resources.apply(miner_manifest("m1", triton={"image": "t", "minReplicas": 1, "maxReplicas": 3}))
    wait_until(
        lambda: resources.has_condition(api.MINER, "m1", api.SPEC_VALID, "True"), "SpecValid True", timeout_s=SETTLE_S
    )
    wait_until(lambda: resources.deployment("m1-triton") is not None, "Triton applied", timeout_s=SETTLE_S)
