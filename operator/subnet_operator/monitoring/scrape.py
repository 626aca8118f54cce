"""How Prometheus finds the subnet's pods, and the labels it gives their series.

The alert rules and the dashboard select on these job names and labels, and the chart's PodMonitor and
ServiceMonitor are rendered from the same values, so a scrape config cannot drift from the rules that
read it. Pod labels and port names come from the operator, which sets them.
"""

from __future__ import annotations

from typing import Any

from subnet_operator import api
from subnet_operator.builders import gateway, miner, triton, validator

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
GATEWAY_JOB = job(gateway.GATEWAY_COMPONENT)
NEURON_JOBS = (VALIDATOR_JOB, MINER_JOB)

# Named container ports serving /metrics: the miner serves it on its axon port.
METRICS_PORTS = {
    api.VALIDATOR_COMPONENT: validator.METRICS_PORT_NAME,
    api.MINER_COMPONENT: miner.AXON_PORT_NAME,
    api.TRITON_COMPONENT: next(name for name, port in triton.PORTS.items() if port == triton.METRICS_PORT),
    gateway.GATEWAY_COMPONENT: gateway.PORT_NAME,
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


def _snake(key: str) -> str:
    return "".join("_" + c.lower() if c.isupper() else c for c in key)


def _keep(label: str, regex: str) -> dict[str, Any]:
    return {"source_labels": [label], "regex": regex, "action": "keep"}


# What the Prometheus Operator adds to every pod target: the labels the alerts, the dashboard and the
# operator's own queries group by.
_TARGET_LABELS = [
    {"source_labels": ["__meta_kubernetes_pod_phase"], "regex": "Failed|Succeeded", "action": "drop"},
    {"source_labels": ["__meta_kubernetes_namespace"], "target_label": "namespace"},
    {"source_labels": ["__meta_kubernetes_pod_name"], "target_label": "pod"},
    {"source_labels": ["__meta_kubernetes_pod_container_name"], "target_label": "container"},
]


def file_sd_groups(pods: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Prometheus file_sd target groups for pods (as the API serves them): one per named container port, with
    the `__meta_kubernetes_pod_*` labels kubernetes_sd gives, so the same relabelings apply. For a Prometheus
    built without Kubernetes discovery, such as Debian's."""
    groups = []
    for pod in pods:
        meta, spec, status = pod["metadata"], pod["spec"], pod.get("status") or {}
        if not status.get("podIP"):
            continue
        common = {
            "__meta_kubernetes_namespace": meta["namespace"],
            "__meta_kubernetes_pod_name": meta["name"],
            "__meta_kubernetes_pod_phase": status.get("phase", ""),
            **{_label_meta(key): value for key, value in (meta.get("labels") or {}).items()},
        }
        for container in spec["containers"]:
            for port in container.get("ports") or []:
                labels = {
                    **common,
                    "__meta_kubernetes_pod_container_name": container["name"],
                    "__meta_kubernetes_pod_container_port_name": port.get("name", ""),
                }
                groups.append({"targets": [f"{status['podIP']}:{port['containerPort']}"], "labels": labels})
    return groups


def prometheus_scrape_configs(interval: str = "30s", discovery: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """Plain Prometheus scrape jobs that find the same targets, with the same labels, as the chart's PodMonitor
    and ServiceMonitor: for a Prometheus without the Prometheus Operator (Debian's, on a bare node).

    `discovery`: one service discovery entry, e.g. `{"kubernetes_sd_configs": [{"role": "pod"}]}` (the default)
    or `{"file_sd_configs": [{"files": [path]}]}` with a file of `file_sd_groups`.
    """
    sd_configs = discovery or {"kubernetes_sd_configs": [{"role": "pod"}]}
    selector = pod_monitor_spec()["selector"]["matchLabels"]
    jobs = []
    for endpoint in pod_monitor_spec()["podMetricsEndpoints"]:
        relabel = [_keep(_label_meta(label), value) for label, value in selector.items()]
        relabel.append(_keep("__meta_kubernetes_pod_container_port_name", endpoint["port"]))
        relabel += _TARGET_LABELS
        relabel += [{_snake(key): value for key, value in step.items()} for step in endpoint["relabelings"]]
        job_name = next(step["replacement"] for step in endpoint["relabelings"] if step.get("targetLabel") == "job")
        jobs.append(
            {
                "job_name": job_name,
                "scrape_interval": interval,
                "metrics_path": endpoint["path"],
                **sd_configs,
                "relabel_configs": relabel,
            }
        )
    jobs.append(
        {
            "job_name": OPERATOR_JOB,
            "scrape_interval": interval,
            # The operator's health series name the namespace of the resource they describe.
            "honor_labels": True,
            **sd_configs,
            "relabel_configs": [
                _keep(_label_meta(api.LABEL_COMPONENT), OPERATOR_COMPONENT),
                _keep("__meta_kubernetes_pod_container_port_name", "metrics"),
                *_TARGET_LABELS,
            ],
        }
    )
    return jobs
