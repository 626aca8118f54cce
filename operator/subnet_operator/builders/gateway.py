"""Validator.spec.gateway -> the gateway's Deployment, Services and (optionally) Ingress.

The gateway signs with the validator's hotkey (the same wallet Secret, read-only) and reads its API keys
(hashes only) from `spec.gateway.apiKeySecretName`. It shares no volume with the validator (whose state
claim is ReadWriteOnce); the two read each other's /metrics instead: the gateway ranks miners by the
validator's EMA gauge (`--validator-metrics`, through the validator's metrics Service), and the validator
blends every gateway pod's organic scores into its rewards (`--organic-metrics`, through a headless
Service whose name resolves to each ready gateway pod; `spec.gateway.organicWeight`).
"""

from __future__ import annotations

from subnet_operator import api
from subnet_operator.builders import common
from subnet_operator.builders.common import InvalidSpec, Manifest, Owner, Spec

GATEWAY_COMPONENT = "gateway"
PODS_SUFFIX = "gateway-pods"  # the headless Service: one DNS address per ready gateway pod
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


def validator_metrics_url(owner: Owner, spec: Spec) -> str:
    """The validator's /metrics through its metrics Service: the EMAs the gateway ranks miners by."""
    return common.service_url(
        owner, api.object_name(owner.name, api.VALIDATOR_COMPONENT), spec["metricsPort"], "/metrics"
    )


def organic_metrics_url(owner: Owner, spec: Spec) -> str:
    """Every gateway pod's /metrics at once: the headless Service's name resolves to each ready pod."""
    return common.service_url(owner, api.object_name(owner.name, PODS_SUFFIX), spec["gateway"]["port"], "/metrics")


def validator_args(owner: Owner, spec: Spec) -> list[str]:
    """The validator's options that blend the gateway's organic scores in; none without a gateway or weight."""
    if not enabled(spec) or spec["gateway"]["organicWeight"] == 0:
        return []
    return common.options(
        {"--organic-metrics": organic_metrics_url(owner, spec), "--organic-weight": spec["gateway"]["organicWeight"]}
    )


def command(owner: Owner, spec: Spec) -> list[str]:
    """Exactly `ocr-subnet gateway serve ...`, its options taken from the spec."""
    gateway = _gateway(spec)
    networks = [
        part for network in common.allowed_networks(spec["neuron"]) for part in ("--allowed-axon-network", network)
    ]
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
                "--difficulty": spec["neuron"]["difficulty"],
                "--validator-metrics": validator_metrics_url(owner, spec),
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
        command=command(owner, spec),
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


def gateway_pods_service(owner: Owner, spec: Spec) -> Manifest:
    """Headless (no cluster IP, no load balancing): its DNS name answers with every ready gateway pod's
    address, so the validator reads each replica's organic scores rather than one at random."""
    port = common.service_port(PORT_NAME, _gateway(spec)["port"])
    return common.service(owner, GATEWAY_COMPONENT, [port], suffix=PODS_SUFFIX, clusterIP="None")


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


# What the gateway may own: (apiVersion, kind, name suffix)
OWNED = (
    ("apps/v1", "Deployment", GATEWAY_COMPONENT),
    ("v1", "Service", GATEWAY_COMPONENT),
    ("v1", "Service", PODS_SUFFIX),
    ("networking.k8s.io/v1", "Ingress", GATEWAY_COMPONENT),
)


def gateway_objects(owner: Owner, spec: Spec) -> list[Manifest]:
    """Everything the gateway needs now; what is absent here (all of it when disabled) is to be deleted."""
    if not enabled(spec):
        return []
    ingress = gateway_ingress(owner, spec)
    return [
        gateway_service(owner, spec),
        gateway_pods_service(owner, spec),
        gateway_deployment(owner, spec),
        *([ingress] if ingress else []),
    ]
