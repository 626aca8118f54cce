"""The cross-field rules a CRD schema cannot express on Kubernetes 1.20 (no CEL), in one place.

Pure: a defaulted spec in, the problems out, each naming its field. The admission webhook refuses a
spec with problems; without the webhook the reconcile reports them (SpecValid=False) and applies
nothing; the builders refuse the same specs, so nothing invalid is ever built.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from kubernetes.utils.quantity import parse_quantity
from ocr_subnet.addresses import parse_networks

from subnet_operator import api
from subnet_operator.conditions import Condition

Spec = Mapping[str, Any]


def chain_problems(chain: Spec) -> list[str]:
    if chain.get("network") == "local" and not chain.get("endpoint"):
        return ["spec.chain.endpoint is required when spec.chain.network is local (the local chain's URL)"]
    return []


def _quantity(value: Any) -> Decimal | None:
    try:
        return parse_quantity(value)
    except ValueError:
        return None  # the schema's pattern refuses it first


def resources_problems(path: str, resources: Spec) -> list[str]:
    """A request above its limit: the API server would refuse every pod the Deployment makes."""
    requests, limits = resources.get("requests") or {}, resources.get("limits") or {}
    found = []
    for key in sorted(set(requests) & set(limits)):
        request, limit = _quantity(requests[key]), _quantity(limits[key])
        if request is not None and limit is not None and request > limit:
            found.append(
                f"{path}.requests.{key} ({requests[key]}) is above {path}.limits.{key} ({limits[key]}): "
                f"raise the limit or lower the request"
            )
    return found


def triton_problems(spec: Spec) -> list[str]:
    """A Miner's Triton section: present for the triton backend, bounds in order, resources that fit."""
    if spec.get("backend") != "triton":
        return []
    triton = spec.get("triton")
    if triton is None:
        return ["spec.triton is required when spec.backend is triton (at least spec.triton.image)"]
    found = []
    if triton["maxReplicas"] < triton["minReplicas"]:
        found.append(
            f"spec.triton.maxReplicas ({triton['maxReplicas']}) is below spec.triton.minReplicas "
            f"({triton['minReplicas']})"
        )
    return found + resources_problems("spec.triton.resources", triton.get("resources") or {})


def axon_problems(axon: Spec) -> list[str]:
    """spec.axon.publish must name an address that can exist."""
    mode = axon.get("publish")
    if mode == "ExternalIP" and not axon.get("externalIp"):
        return ["spec.axon.externalIp is required when spec.axon.publish is ExternalIP"]
    if mode == "LoadBalancerIP" and axon.get("serviceType") != "LoadBalancer":
        return ["spec.axon.publish LoadBalancerIP needs spec.axon.serviceType LoadBalancer"]
    return []


def axon_networks(neuron: Spec) -> list[str]:
    """spec.neuron.allowedAxonNetworks as strings, for parsing as the validator parses them."""
    return [str(value) for value in neuron.get("allowedAxonNetworks") or []]


def networks_problems(neuron: Spec) -> list[str]:
    try:
        parse_networks(axon_networks(neuron))
    except ValueError as exc:
        return [f"spec.neuron.allowedAxonNetworks: {exc}"]
    return []


def problems(kind: api.Kind, spec: Spec) -> list[str]:
    """Everything wrong with a defaulted spec of `kind`, each naming its field; empty when it is valid."""
    found = chain_problems(spec["chain"]) + resources_problems("spec.resources", spec.get("resources") or {})
    if kind is api.MINER:
        return found + triton_problems(spec) + axon_problems(spec["axon"])
    return found + networks_problems(spec["neuron"])


SPEC_IS_VALID = Condition.of(api.SPEC_VALID, True, "SpecValid", "the spec passes every cross-field rule")


def spec_invalid(message: str) -> Condition:
    return Condition.of(api.SPEC_VALID, False, "SpecInvalid", message)


def spec_condition(kind: api.Kind, spec: Spec) -> Condition:
    """SpecValid: True, or False with every problem in the message."""
    found = problems(kind, spec)
    return spec_invalid("; ".join(found)) if found else SPEC_IS_VALID
