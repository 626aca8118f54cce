"""The PodMonitor the chart ships finds every pod the operator builds, on the port that serves /metrics."""

from __future__ import annotations

from typing import Any

import pytest
from subnet_operator import api, crds
from subnet_operator.builders import gateway, miner, triton, validator
from subnet_operator.builders.common import Owner
from subnet_operator.monitoring import scrape
from subnet_operator.schema import apply_defaults

COMMON = {"image": "ocr-subnet:test", "wallet": {"secretName": "hotkey"}, "chain": {"netuid": 1}}


def built_pods() -> dict[str, dict[str, Any]]:
    """component -> pod template, from the operator's own builders and defaulted specs."""
    owner = Owner("Miner", "m0", "subnet", "uid-1")
    miner_spec = apply_defaults(crds.miner_spec(), {**COMMON, "backend": "triton", "triton": {"image": "triton:test"}})
    validator_spec = apply_defaults(crds.validator_spec(), COMMON)
    deployments = {
        api.VALIDATOR_COMPONENT: validator.validator_deployment(owner, validator_spec),
        api.MINER_COMPONENT: miner.miner_deployment(owner, miner_spec, node_port=30091),
        api.TRITON_COMPONENT: triton.triton_deployment(owner, miner_spec, replicas=None),
        gateway.GATEWAY_COMPONENT: gateway.gateway_deployment(
            owner,
            apply_defaults(crds.validator_spec(), {**COMMON, "gateway": {"enabled": True, "apiKeySecretName": "k"}}),
        ),
    }
    return {component: d["spec"]["template"] for component, d in deployments.items()}


def selects(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    if any(labels.get(k) != v for k, v in selector["matchLabels"].items()):
        return False
    return all(labels.get(e["key"]) in e["values"] for e in selector["matchExpressions"] if e["operator"] == "In")


@pytest.mark.parametrize("component", list(scrape.METRICS_PORTS))
def test_pod_monitor_selects_the_pod_and_its_metrics_port(component: str) -> None:
    pod = built_pods()[component]
    spec = scrape.pod_monitor_spec()
    assert selects(spec["selector"], pod["metadata"]["labels"])
    ports = {p["name"] for c in pod["spec"]["containers"] for p in c.get("ports", [])}
    assert scrape.METRICS_PORTS[component] in ports
    endpoint = next(e for e in spec["podMetricsEndpoints"] if e["relabelings"][0]["regex"] == component)
    assert endpoint["port"] == scrape.METRICS_PORTS[component]
    keep = endpoint["relabelings"][0]["sourceLabels"][0]
    assert keep == "__meta_kubernetes_pod_label_" + api.LABEL_COMPONENT.replace(".", "_").replace("/", "_")


def test_every_endpoint_names_its_job_and_resource() -> None:
    for endpoint in scrape.pod_monitor_spec()["podMetricsEndpoints"]:
        targets = {r.get("targetLabel") for r in endpoint["relabelings"]}
        assert {"job", scrape.RESOURCE_LABEL} <= targets
    assert len(set(scrape.NEURON_JOBS)) == 2
