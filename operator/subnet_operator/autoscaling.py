"""External-mode handover: an HPA (v2, with a prometheus-adapter external metric) or a KEDA ScaledObject that
scales a Miner's Triton Deployment on the same queue time, and towards the same target, as the operator's scaler.

The PromQL comes from `promql.triton_queue_ms`, the target, bounds and windows from the Miner's own spec, so
handing the count over changes who decides, not what is decided. `ocr-subnet operator autoscaling` prints
these for any Miner; examples/ holds them rendered for examples/miner.yaml's first Miner (drift-tested).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import yaml
from ocr_subnet import metric_names as names

from subnet_operator import api, promql

Manifest = dict[str, Any]
# The metric prometheus-adapter serves to the HPA, and the label matchers it fills in from the HPA's selector.
EXTERNAL_METRIC = "ocr_subnet_triton_queue_ms"
ADAPTER_MATCHERS = "<<.LabelMatchers>>"
TRITON_JOB = "ocr-subnet-triton"  # the PodMonitor's job for Triton pods (files/scrape.yaml)
RESOURCE_LABEL = "resource"  # the PodMonitor's label holding the Miner's name
STEP_PERIOD_S = 15  # the HPA's sync period: a step limit applies per decision, as the operator's does per tick


def miner_labels(miner: str) -> dict[str, str]:
    """The labels the chart's PodMonitor puts on one Miner's Triton series."""
    return {"job": TRITON_JOB, RESOURCE_LABEL: miner}


def adapter_rule(window_s: int) -> Manifest:
    """One `rules.external` entry of the prometheus-adapter chart: the queue time per Miner, by namespace."""
    return {
        "seriesQuery": f'{names.TRITON_QUEUE_DURATION_US}{{namespace!="",{RESOURCE_LABEL}!=""}}',
        "resources": {"overrides": {"namespace": {"resource": "namespace"}}},
        "name": {"as": EXTERNAL_METRIC},
        "metricsQuery": promql.triton_queue_ms(ADAPTER_MATCHERS, window_s),
    }


def _behavior(triton: Mapping[str, Any]) -> Manifest:
    """The Miner's stabilization windows and step limits, in the HPA's own terms."""
    return {
        "scaleUp": {
            "stabilizationWindowSeconds": triton["scaleUpStabilizationSeconds"],
            "policies": [{"type": "Pods", "value": triton["maxScaleUpStep"], "periodSeconds": STEP_PERIOD_S}],
        },
        "scaleDown": {
            "stabilizationWindowSeconds": triton["scaleDownStabilizationSeconds"],
            "policies": [{"type": "Pods", "value": triton["maxScaleDownStep"], "periodSeconds": STEP_PERIOD_S}],
        },
    }


def _target(miner: str) -> Manifest:
    return {"apiVersion": "apps/v1", "kind": "Deployment", "name": api.object_name(miner, api.TRITON_COMPONENT)}


def hpa(miner: str, namespace: str, triton: Mapping[str, Any]) -> Manifest:
    """autoscaling/v2 (Kubernetes 1.23+; autoscaling/v2beta2 takes the same body on older clusters)."""
    selector = {"matchLabels": miner_labels(miner)}
    return {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": api.object_name(miner, api.TRITON_COMPONENT), "namespace": namespace},
        "spec": {
            "scaleTargetRef": _target(miner),
            "minReplicas": triton["minReplicas"],
            "maxReplicas": triton["maxReplicas"],
            "metrics": [
                {
                    "type": "External",
                    "external": {
                        "metric": {"name": EXTERNAL_METRIC, "selector": selector},
                        # Value, not AverageValue: queue time is a mean already; the HPA then applies
                        # ceil(replicas * value / target), the operator's own rule.
                        "target": {"type": "Value", "value": f"{triton['targetQueueTimeMs']:g}"},
                    },
                }
            ],
            "behavior": _behavior(triton),
        },
    }


def scaled_object(miner: str, namespace: str, triton: Mapping[str, Any], prometheus_url: str) -> Manifest:
    """KEDA (2.x): the same query against Prometheus directly, the same target and windows."""
    deployment = api.object_name(miner, api.TRITON_COMPONENT)
    # What prometheus-adapter's <<.LabelMatchers>> become for the HPA above: the same series either way.
    matchers = ", ".join(f'{k}="{v}"' for k, v in {"namespace": namespace, **miner_labels(miner)}.items())
    return {
        "apiVersion": "keda.sh/v1alpha1",
        "kind": "ScaledObject",
        "metadata": {"name": deployment, "namespace": namespace},
        "spec": {
            "scaleTargetRef": _target(miner),
            "minReplicaCount": triton["minReplicas"],
            "maxReplicaCount": triton["maxReplicas"],
            "pollingInterval": STEP_PERIOD_S,
            "advanced": {"horizontalPodAutoscalerConfig": {"behavior": _behavior(triton)}},
            "triggers": [
                {
                    "type": "prometheus",
                    "metricType": "Value",
                    "metadata": {
                        "serverAddress": prometheus_url,
                        "query": promql.triton_queue_ms(matchers, triton["metricsWindowSeconds"]),
                        "threshold": f"{triton['targetQueueTimeMs']:g}",
                    },
                }
            ],
        },
    }


HEADER = "# Generated by `ocr-subnet operator autoscaling --out examples` from subnet_operator/autoscaling.py.\n"


HPA_NOTE = """\
An HPA owns the Triton replicas of Miner {miner} (spec.triton.scaling.mode: external), scaling on the queue
time prometheus-adapter serves as an external metric; give prometheus-adapter the rule in
prometheus-adapter-values.yaml. autoscaling/v2 needs Kubernetes 1.23+ (1.20-1.22: autoscaling/v2beta2)."""
KEDA_NOTE = """\
A KEDA ScaledObject owns the Triton replicas of Miner {miner} (spec.triton.scaling.mode: external), on the
same queue-time query as the HPA example, asked of Prometheus directly."""
ADAPTER_NOTE = """\
prometheus-adapter chart values: the external metric {metric} that triton-hpa.yaml scales on."""


def example_files(miner: str, namespace: str, triton: Mapping[str, Any], prometheus_url: str) -> dict[str, str]:
    """File name -> YAML, as examples/ holds them."""
    adapter = {"rules": {"default": False, "external": [adapter_rule(triton["metricsWindowSeconds"])]}}
    return {
        "triton-hpa.yaml": render([hpa(miner, namespace, triton)], HPA_NOTE.format(miner=miner)),
        "triton-keda.yaml": render(
            [scaled_object(miner, namespace, triton, prometheus_url)], KEDA_NOTE.format(miner=miner)
        ),
        "prometheus-adapter-values.yaml": render([adapter], ADAPTER_NOTE.format(metric=EXTERNAL_METRIC)),
    }


def render(documents: list[Manifest], note: str) -> str:
    comment = "".join(f"# {line}\n" for line in note.splitlines())
    return HEADER + comment + yaml.safe_dump_all(documents, sort_keys=False, width=120)
