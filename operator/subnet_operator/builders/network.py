"""NetworkPolicies of the pods a resource owns (operator run --network-policies): Triton answers only its
miner, a validator's metrics only the monitoring namespace and its own gateway's pods, a miner's axon
everyone (what it is for). The gateway's pods get no policy: their port (API and /metrics) is open,
to users and to the validator that reads their organic scores.

Pure; each policy selects one component's pods by the labels their Deployment selects them by. Egress
is left open: neurons dial the chain and each other.
"""

from __future__ import annotations

from collections.abc import Sequence

from subnet_operator import api
from subnet_operator.builders import gateway, triton
from subnet_operator.builders.common import Manifest, Owner, Spec, metadata, selector_labels

# The label every namespace carries from Kubernetes 1.21 on (set it by hand on 1.20).
NAMESPACE_NAME_LABEL = "kubernetes.io/metadata.name"
POLICY_KIND = ("networking.k8s.io/v1", "NetworkPolicy")


def _ports(*ports: int) -> list[Manifest]:
    return [{"protocol": "TCP", "port": port} for port in ports]


def _monitoring(namespaces: Sequence[str], *ports: int) -> list[Manifest]:
    """Ingress on `ports` from the monitoring namespaces (none: nobody)."""
    sources = [{"namespaceSelector": {"matchLabels": {NAMESPACE_NAME_LABEL: name}}} for name in namespaces]
    return [{"from": sources, "ports": _ports(*ports)}] if sources else []


def _policy(owner: Owner, component: str, ingress: list[Manifest]) -> Manifest:
    return {
        "apiVersion": POLICY_KIND[0],
        "kind": POLICY_KIND[1],
        "metadata": metadata(owner, component),
        "spec": {
            "podSelector": {"matchLabels": selector_labels(owner, component)},
            "policyTypes": ["Ingress"],
            "ingress": ingress,
        },
    }


def triton_policy(owner: Owner, monitoring: Sequence[str]) -> Manifest:
    """Inference ports for this Miner's miner pod alone; Triton's metrics for the monitoring namespaces."""
    serving = [triton.HTTP_PORT, triton.GRPC_PORT, triton.HEALTH_PORT]
    from_miner = {"podSelector": {"matchLabels": selector_labels(owner, api.MINER_COMPONENT)}}
    return _policy(
        owner,
        api.TRITON_COMPONENT,
        [{"from": [from_miner], "ports": _ports(*serving)}, *_monitoring(monitoring, triton.METRICS_PORT)],
    )


def miner_policy(owner: Owner, spec: Spec) -> Manifest:
    """The axon (and /metrics on the same port) from anywhere: validators call from outside the cluster."""
    return _policy(owner, api.MINER_COMPONENT, [{"ports": _ports(spec["axon"]["port"])}])


def validator_policy(owner: Owner, spec: Spec, monitoring: Sequence[str]) -> Manifest:
    """Nothing but scrapes of /metrics: by the monitoring namespaces, and by its gateway's pods, which rank
    miners by its EMAs."""
    ingress = _monitoring(monitoring, spec["metricsPort"])
    if gateway.enabled(spec):
        from_gateway = {"podSelector": {"matchLabels": selector_labels(owner, gateway.GATEWAY_COMPONENT)}}
        ingress.append({"from": [from_gateway], "ports": _ports(spec["metricsPort"])})
    return _policy(owner, api.VALIDATOR_COMPONENT, ingress)
