"""Bad specs at the door: the API server calls the operator's validating webhook (HTTPS on loopback, a
CA-signed certificate) and refuses what `subnet_operator.validation` refuses, naming the field; without
the webhook the reconcile reports the same problems (SpecValid=False, an Event) and applies nothing.
"""

from __future__ import annotations

import base64
import http.client
import json
import socket
import ssl
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes import client
from subnet_operator import api
from subnet_operator.handlers.admission import WEBHOOK_ID

from tests.integration.operator_harness import (
    REPO,
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
from tests.support.helm import REGISTRY_VALUES
from tests.support.pki import write_pki
from tests.support.poll import wait_until
from tests.support.ports import free_ports

pytestmark = [pytest.mark.integration, pytest.mark.slow]

CHART = REPO / "charts" / "subnet"

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


def chart_webhook(helm: Path, namespace: str) -> list[dict[str, Any]]:
    done = subprocess.run(
        [
            str(helm),
            "template",
            "subnet",
            str(CHART),
            "-n",
            namespace,
            "-f",
            str(REGISTRY_VALUES),
            "--show-only",
            "templates/operator-webhook.yaml",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return [doc for doc in yaml.safe_load_all(done.stdout) if doc]


def test_the_charts_certificate_serves_the_webhook_under_its_service_name(
    helm: Path, k8s_cluster: Cluster, k8s_namespace: str, tmp_path: Path
) -> None:
    """The operator serves with the chart's generated certificate; a client that trusts only the chart's CA
    and checks the name the API server dials (<service>.<namespace>.svc) gets the webhook's verdict."""
    secret, service, registration = chart_webhook(helm, k8s_namespace)
    tls = {key: base64.b64decode(value) for key, value in secret["data"].items()}
    for key in ("tls.crt", "tls.key"):
        (tmp_path / key).write_bytes(tls[key])
    [hook] = registration["webhooks"]
    assert base64.b64decode(hook["clientConfig"]["caBundle"]) == tls["ca.crt"]
    assert hook["clientConfig"]["service"]["name"] == service["metadata"]["name"]
    # the API server accepts the registration as the chart renders it (admissionregistration.k8s.io/v1)
    k8s_cluster.kubectl("apply", "--dry-run=server", "-f", "-", stdin=yaml.safe_dump(registration))
    install_crds(k8s_cluster)
    [port] = free_ports(1)
    args = [
        *("--webhook-host", "127.0.0.1", "--webhook-port", str(port)),
        *("--webhook-cert", str(tmp_path / "tls.crt"), "--webhook-key", str(tmp_path / "tls.key")),
    ]
    with running_operator(k8s_cluster, k8s_namespace, tmp_path / "op.log", namespaces=[k8s_namespace], extra_args=args):
        wait_until(lambda: listening(port), "the webhook server listening", timeout_s=START_TIMEOUT_S)
        context = ssl.create_default_context(cadata=tls["ca.crt"].decode())
        name = f"{service['metadata']['name']}.{k8s_namespace}.svc"
        review = {
            "apiVersion": "admission.k8s.io/v1",
            "kind": "AdmissionReview",
            "request": {
                "uid": str(uuid.uuid4()),
                "kind": {"group": api.GROUP, "version": api.VERSION, "kind": "Miner"},
                "resource": {"group": api.GROUP, "version": api.VERSION, "resource": api.MINER.plural},
                "operation": "CREATE",
                "userInfo": {"username": "test"},
                "namespace": k8s_namespace,
                "object": {**MISTAKES["min above max"][0], "metadata": {"name": "bad", "namespace": k8s_namespace}},
            },
        }
        with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
            connection = http.client.HTTPSConnection(name, port, context=context, timeout=10)
            connection.sock = context.wrap_socket(raw, server_hostname=name)  # verifies chain and name
            connection.request("POST", hook["clientConfig"]["service"]["path"], json.dumps(review))
            answer = json.loads(connection.getresponse().read())["response"]
    assert answer["allowed"] is False
    assert "spec.triton.maxReplicas (1) is below spec.triton.minReplicas (3)" in answer["status"]["message"]
