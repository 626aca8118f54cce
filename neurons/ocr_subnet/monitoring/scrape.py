"""How Prometheus finds the subnet's pods, and the labels it gives their series.

The alert rules and the dashboard select on these job names and labels, and the chart's PodMonitor and
ServiceMonitor are rendered from the same values, so a scrape config cannot drift from the rules that
read it. Pod labels and port names come from the operator, which sets them.
"""

from __future__ import annotations

from typing import Any

from subnet_operator import api
from subnet_operator.builders import miner, triton, validator

JOB_PREFIX = "ocr-subnet-"
# The custom resource (Validator or Miner) a series belongs to, copied from the pod's instance label.
RESOURCE_LABEL = "resource"
OPERATOR_COMPONENT = "operator"


def job(component: str) -> str:
    """The `job` label of a component's targets: `ocr-subnet-validator`, `ocr-subnet-miner`, ..."""
    return JOB_PREFIX + component


VALIDATOR_JOB = job(api.VALIDATOR_COMPONENT)
MINER_JOB = job(api.MINER_COMPONENT)
TRITON_JOB = job(api.TRITON_COMPONENT)
OPERATOR_JOB = job(OPERATOR_COMPONENT)
NEURON_JOBS = (VALIDATOR_JOB, MINER_JOB)

# Named container ports serving /metrics: the miner serves it on its axon port.
METRICS_PORTS = {
    api.VALIDATOR_COMPONENT: validator.METRICS_PORT_NAME,
    api.MINER_COMPONENT: miner.AXON_PORT_NAME,
    api.TRITON_COMPONENT: next(name for name, port in triton.PORTS.items() if port == triton.METRICS_PORT),
}


def _label_meta(label: str) -> str:
    """Prometheus's discovery meta label for a Kubernetes pod label."""
    return "__meta_kubernetes_pod_label_" + "".join(c if c.isalnum() else "_" for c in label)


def pod_monitor_spec() -> dict[str, Any]:
    """The PodMonitor spec (without namespaceSelector, which the chart adds) for every pod the operator runs.

    One endpoint per component keeps only that component's pods (each names its metrics port
    differently), sets `job` to the component's job and `resource` to the owning custom resource.
    """
    endpoints = []
    for component, port in METRICS_PORTS.items():
        endpoints.append(
            {
                "port": port,
                "path": "/metrics",
                "relabelings": [
                    {
                        "sourceLabels": [_label_meta(api.LABEL_COMPONENT)],
                        "regex": component,
                        "action": "keep",
                    },
                    {"targetLabel": "job", "replacement": job(component)},
                    {"sourceLabels": [_label_meta(api.LABEL_INSTANCE)], "targetLabel": RESOURCE_LABEL},
                ],
            }
        )
    return {
        "selector": {
            "matchLabels": {api.LABEL_NAME: api.APP_NAME, api.LABEL_MANAGED_BY: api.OPERATOR_NAME},
            "matchExpressions": [
                {"key": api.LABEL_COMPONENT, "operator": "In", "values": list(METRICS_PORTS)},
            ],
        },
        "podMetricsEndpoints": endpoints,
    }
