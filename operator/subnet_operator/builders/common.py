"""Pieces every pod the operator runs shares: metadata, security, wallet mount, chain and probe settings.

Pure functions from a (defaulted) spec to plain manifest dicts; nothing here talks to a cluster.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ocr_subnet.addresses import parse_networks

from subnet_operator import api, validation
from subnet_operator.builders.pod import Manifest, Spec, pod_spec_fields, template_metadata

# The uid and gid neuron and Triton images run as; pods insist on it rather than trusting the image.
RUN_AS = 10001
WALLETS_DIR = "/var/run/ocr-subnet/wallets"
TMP_DIR = "/tmp"
POD_IP = "$(POD_IP)"  # expanded by the kubelet from the env var of the same name
HOST_IP = "$(HOST_IP)"
# For containers given no GPU: the NVIDIA runtime then exposes none, where a CUDA image would otherwise see
# every GPU of the node (the device plugin sets its own value for containers that request GPUs).
NO_GPUS_ENV = {"name": "NVIDIA_VISIBLE_DEVICES", "value": "void"}


class InvalidSpec(ValueError):
    """A rule the CRD schema cannot express on Kubernetes 1.20 was broken; the message names the field."""


class NotYet(RuntimeError):
    """Something the cluster still has to provide (a load balancer's IP); the reconcile is retried."""


@dataclass(frozen=True)
class Owner:
    """The custom resource that owns what a builder makes."""

    kind: str
    name: str
    namespace: str
    uid: str

    @property
    def reference(self) -> Manifest:
        return {
            "apiVersion": api.API_VERSION,
            "kind": self.kind,
            "name": self.name,
            "uid": self.uid,
            "controller": True,
            "blockOwnerDeletion": True,
        }


def selector_labels(owner: Owner, component: str) -> dict[str, str]:
    """The labels a Deployment selects its pods by; they never change for the life of the resource."""
    return {api.LABEL_NAME: api.APP_NAME, api.LABEL_INSTANCE: owner.name, api.LABEL_COMPONENT: component}


def metadata(owner: Owner, component: str, suffix: str | None = None) -> Manifest:
    return {
        "name": api.object_name(owner.name, suffix or component),
        "namespace": owner.namespace,
        "labels": {**selector_labels(owner, component), api.LABEL_MANAGED_BY: api.OPERATOR_NAME},
        "ownerReferences": [owner.reference],
    }


def resources(spec: Spec) -> Manifest:
    """Requests and limits both set: a limit left out takes its request, so no container runs unbounded."""
    requests = {key: str(value) for key, value in spec.get("requests", {}).items()}
    limits = {**requests, **{key: str(value) for key, value in spec.get("limits", {}).items()}}
    return {"requests": requests, "limits": limits}


def pod_security_context() -> Manifest:
    return {
        "runAsNonRoot": True,
        "runAsUser": RUN_AS,
        "runAsGroup": RUN_AS,
        "fsGroup": RUN_AS,  # makes the mounted hotkey readable by the group, and nothing else
        "seccompProfile": {"type": "RuntimeDefault"},
    }


def container_security_context() -> Manifest:
    return {
        "runAsNonRoot": True,
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "capabilities": {"drop": ["ALL"]},
    }


def downward_env() -> list[Manifest]:
    """POD_IP to bind to, HOST_IP to publish a node port at, HOME on the writable /tmp."""
    return [
        {"name": "POD_IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}},
        {"name": "HOST_IP", "valueFrom": {"fieldRef": {"fieldPath": "status.hostIP"}}},
        {"name": "HOME", "value": TMP_DIR},
    ]


def tmp_volume() -> tuple[Manifest, Manifest]:
    return {"name": "tmp", "emptyDir": {}}, {"name": "tmp", "mountPath": TMP_DIR}


def wallet_volume(wallet: Spec) -> tuple[Manifest, Manifest]:
    """The Secret's hotkey file at `<wallets>/<name>/hotkeys/<hotkey>`, where bittensor looks for it; read-only."""
    volume = {
        "name": "hotkey",
        "secret": {
            "secretName": wallet["secretName"],
            "items": [{"key": wallet["key"], "path": wallet["hotkey"]}],
            "defaultMode": 0o440,
        },
    }
    mount = {"name": "hotkey", "mountPath": f"{WALLETS_DIR}/{wallet['name']}/hotkeys", "readOnly": True}
    return volume, mount


def wallet_args(wallet: Spec) -> list[str]:
    return ["--wallet-path", WALLETS_DIR, "--wallet-name", wallet["name"], "--wallet-hotkey", wallet["hotkey"]]


def options(values: Mapping[str, object]) -> list[str]:
    """{"--flag": value, ...} -> ["--flag", "value", ...] in the mapping's order."""
    return [part for flag, value in values.items() for part in (flag, str(value))]


def chain_args(chain: Spec) -> list[str]:
    return ["--network", chain.get("endpoint") or chain["network"], "--netuid", str(chain["netuid"])]


def service_port(name: str, port: int) -> Manifest:
    """Protocol spelled out: server-side apply on Kubernetes 1.20 refuses ports without it (the list's key)."""
    return {"name": name, "port": port, "targetPort": name, "protocol": "TCP"}


def container_port(name: str, port: int) -> Manifest:
    return {"name": name, "containerPort": port, "protocol": "TCP"}


def http_probe(path: str, port: str, *, period_s: int, failures: int, timeout_s: int = 5) -> Manifest:
    return {
        "httpGet": {"path": path, "port": port},
        "periodSeconds": period_s,
        "failureThreshold": failures,
        "timeoutSeconds": timeout_s,
    }


def neuron_container(
    component: str,
    spec: Spec,
    *,
    command: list[str],
    port: tuple[str, int],
    mounts: Sequence[Manifest],
    health_path: str,
    startup_failures: int,
) -> Manifest:
    """A neuron's container: locked down, one named port, and probes on one health path (the startup probe
    allows `startup_failures` x 5 s before liveness takes over)."""
    port_name, number = port
    health = http_probe(health_path, port_name, period_s=10, failures=3)
    return {
        "name": component,
        "image": spec["image"],
        "imagePullPolicy": spec["imagePullPolicy"],
        "command": command,
        "env": [*downward_env(), NO_GPUS_ENV],
        "ports": [container_port(port_name, number)],
        "resources": resources(spec["resources"]),
        "securityContext": container_security_context(),
        "volumeMounts": list(mounts),
        "startupProbe": http_probe(health_path, port_name, period_s=5, failures=startup_failures),
        "livenessProbe": health,
        "readinessProbe": health,
    }


def scrape_annotations(port: int) -> dict[str, str]:
    """The common `prometheus.io/*` convention, for scrape configs that discover pods by annotation."""
    return {"prometheus.io/scrape": "true", "prometheus.io/port": str(port), "prometheus.io/path": "/metrics"}


def deployment(
    owner: Owner,
    component: str,
    *,
    replicas: int | None,
    containers: Sequence[Manifest],
    volumes: Sequence[Manifest],
    strategy: Manifest,
    pod: Spec,
    annotations: Mapping[str, str],
    tolerations: Sequence[Manifest] = (),
) -> Manifest:
    """`pod`: the spec's pod settings (spec.pod or spec.triton.pod); `tolerations`: the operator's own."""
    labels = selector_labels(owner, component)
    pod_spec: Manifest = {
        "automountServiceAccountToken": False,  # neurons never call the Kubernetes API
        "enableServiceLinks": False,
        "securityContext": pod_security_context(),
        "containers": list(containers),
        "volumes": list(volumes),
        **pod_spec_fields(pod, tolerations),
    }
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": metadata(owner, component),
        "spec": {
            **({} if replicas is None else {"replicas": replicas}),  # None: someone else owns the count
            "revisionHistoryLimit": 3,
            "selector": {"matchLabels": labels},
            "strategy": strategy,
            "template": {
                "metadata": template_metadata(pod, {**labels, api.LABEL_MANAGED_BY: api.OPERATOR_NAME}, annotations),
                "spec": pod_spec,
            },
        },
    }


def service(
    owner: Owner,
    component: str,
    ports: Sequence[Manifest],
    *,
    service_type: str = "ClusterIP",
    suffix: str | None = None,
    **extra: Any,
) -> Manifest:
    """A Service selecting `component`'s pods, named `<resource>-<suffix or component>`."""
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": metadata(owner, component, suffix),
        "spec": {"type": service_type, "selector": selector_labels(owner, component), "ports": list(ports), **extra},
    }


def allowed_networks(neuron: Spec) -> list[str]:
    """spec.neuron.allowedAxonNetworks as the validator parses them; a bad entry is refused naming it."""
    for problem in validation.networks_problems(neuron):
        raise InvalidSpec(problem)
    return [str(network) for network in parse_networks(validation.axon_networks(neuron))]


def service_url(owner: Owner, name: str, port: int, path: str) -> str:
    """The in-cluster URL of Service `name` in the owner's namespace."""
    return f"http://{name}.{owner.namespace}.svc:{port}{path}"
