"""Validator.spec.gateway -> the gateway's Deployment, Service and (optionally) Ingress.

The gateway signs with the validator's hotkey (the same wallet Secret, read-only) and reads its API keys
(hashes only) from `spec.gateway.apiKeySecretName`. It runs without the validator's state volume (a
ReadWriteOnce claim the validator owns), so in a cluster it ranks miners without the validator's EMA
and its organic scores stay in its own metrics.
"""

from __future__ import annotations

from subnet_operator import api
from subnet_operator.builders import common
from subnet_operator.builders.common import InvalidSpec, Manifest, Owner, Spec
from subnet_operator.builders.validator import allowed_networks

GATEWAY_COMPONENT = "gateway"
PORT_NAME = "http"
KEYS_DIR = "/var/run/ocr-subnet/api-keys"
KEYS_FILE = "keys.json"


def enabled(spec: Spec) -> bool:
    return bool(spec.get("gateway", {}).get("enabled"))


def _gateway(spec: Spec) -> Spec:
    gateway = spec["gateway"]
    if not gateway.get("apiKeySecretName"):
        raise InvalidSpec("spec.gateway.apiKeySecretName is required when spec.gateway.enabled is true")
    return gateway


def command(spec: Spec) -> list[str]:
    """Exactly `ocr-subnet gateway serve ...`, its options taken from the spec."""
    gateway = _gateway(spec)
    networks = [part for network in allowed_networks(spec["neuron"]) for part in ("--allowed-axon-network", network)]
    return [
        "ocr-subnet",
        "gateway",
        "serve",
        *common.chain_args(spec["chain"]),
        *common.wallet_args(spec["wallet"]),
        *common.options(
            {
                "--host": common.POD_IP,
                "--port": gateway["port"],
                "--api-keys": f"{KEYS_DIR}/{KEYS_FILE}",
                "--deadline": spec["neuron"]["deadlineSeconds"],
                "--log-level": spec["logLevel"],
            }
        ),
        *networks,
    ]


def gateway_deployment(owner: Owner, spec: Spec) -> Manifest:
    gateway = _gateway(spec)
    wallet_volume, wallet_mount = common.wallet_volume(spec["wallet"])
    tmp_volume, tmp_mount = common.tmp_volume()
    keys_volume = {
        "name": "api-keys",
        "secret": {
            "secretName": gateway["apiKeySecretName"],
            "items": [{"key": gateway["apiKeySecretKey"], "path": KEYS_FILE}],
            "defaultMode": 0o440,
        },
    }
    keys_mount = {"name": "api-keys", "mountPath": KEYS_DIR, "readOnly": True}
    container = common.neuron_container(
        GATEWAY_COMPONENT,
        {**spec, "resources": gateway["resources"]},
        command=command(spec),
        port=(PORT_NAME, gateway["port"]),
        mounts=[wallet_mount, tmp_mount, keys_mount],
        health_path="/healthz",
        startup_failures=24,
    )
    return common.deployment(
        owner,
        GATEWAY_COMPONENT,
        replicas=gateway["replicas"],
        containers=[container],
        volumes=[wallet_volume, tmp_volume, keys_volume],
        strategy={"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1}},
        pod=spec["pod"],
        annotations=common.scrape_annotations(gateway["port"]),
    )


def gateway_service(owner: Owner, spec: Spec) -> Manifest:
    gateway = _gateway(spec)
    port = common.service_port(PORT_NAME, gateway["port"])
    return common.service(owner, GATEWAY_COMPONENT, [port], service_type=gateway["serviceType"])


def gateway_ingress(owner: Owner, spec: Spec) -> Manifest | None:
    """networking.k8s.io/v1 (Kubernetes 1.19+), to the Service's named port; None when not asked for."""
    ingress = _gateway(spec)["ingress"]
    if not ingress.get("enabled"):
        return None
    backend = {"service": {"name": api.object_name(owner.name, GATEWAY_COMPONENT), "port": {"name": PORT_NAME}}}
    rule: Manifest = {"http": {"paths": [{"path": ingress["path"], "pathType": "Prefix", "backend": backend}]}}
    if ingress.get("host"):
        rule["host"] = ingress["host"]
    manifest: Manifest = {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "Ingress",
        "metadata": common.metadata(owner, GATEWAY_COMPONENT),
        "spec": {"rules": [rule]},
    }
    if ingress.get("className"):
        manifest["spec"]["ingressClassName"] = ingress["className"]
    return manifest


KINDS = (("apps/v1", "Deployment"), ("v1", "Service"), ("networking.k8s.io/v1", "Ingress"))  # what the gateway may own


def gateway_objects(owner: Owner, spec: Spec) -> list[Manifest]:
    """Everything the gateway needs now; what is absent here (all of it when disabled) is to be deleted."""
    if not enabled(spec):
        return []
    ingress = gateway_ingress(owner, spec)
    return [gateway_service(owner, spec), gateway_deployment(owner, spec), *([ingress] if ingress else [])]
