"""Schema of the pod settings a Validator or Miner passes through to the pods it owns (`spec.pod`,
`spec.triton.pod`): the core PodSpec fields GPU clusters need, under their core names.

Small core types (tolerations, topology spread, pull secrets) are written out so the API server
checks them and `kubectl explain` lists their fields; affinity and label selectors are deep core
types kept whole (x-kubernetes-preserve-unknown-fields) and checked by the API server when the
Deployment is applied.
"""

from __future__ import annotations

from subnet_operator.schema import DNS_SUBDOMAIN_PATTERN, Schema, array, integer, obj, string, string_map

TAINT_EFFECTS = ("NoSchedule", "PreferNoSchedule", "NoExecute")


def free_form(description: str) -> Schema:
    """A core type kept whole: any fields, passed to the pod as written."""
    return {"type": "object", "description": description, "x-kubernetes-preserve-unknown-fields": True}


def toleration() -> Schema:
    return obj(
        {
            "key": string("Taint key the toleration applies to; empty with operator Exists matches every taint."),
            "operator": string("Exists matches any value; Equal matches `value`.", enum=("Exists", "Equal")),
            "value": string("Taint value the toleration matches (operator Equal)."),
            "effect": string("Taint effect to match; empty matches every effect.", enum=TAINT_EFFECTS),
            "tolerationSeconds": integer("How long a NoExecute taint is tolerated before eviction."),
        },
        "As core/v1 Toleration.",
    )


def topology_spread_constraint() -> Schema:
    return obj(
        {
            "maxSkew": integer("Most the pod count may differ between two topology domains.", minimum=1),
            "topologyKey": string("Node label whose values are the domains, e.g. topology.kubernetes.io/zone."),
            "whenUnsatisfiable": string(
                "What the scheduler does when the skew cannot be kept.", enum=("DoNotSchedule", "ScheduleAnyway")
            ),
            "labelSelector": free_form("As core/v1 LabelSelector: the pods counted in each domain."),
        },
        "As core/v1 TopologySpreadConstraint.",
        required=["maxSkew", "topologyKey", "whenUnsatisfiable"],
    )


def pod_settings(whose: str) -> Schema:
    """spec.pod of both kinds and spec.triton.pod: copied onto the pod template of `whose` pods."""
    name = string(pattern=DNS_SUBDOMAIN_PATTERN, max_length=253)
    return obj(
        {
            "nodeSelector": string_map("Node labels the pods must match.", max_properties=32),
            "tolerations": array(toleration(), "Taints the pods tolerate, e.g. a GPU pool's.", max_items=32),
            "affinity": free_form("As core/v1 Affinity: node affinity, pod affinity and anti-affinity."),
            "topologySpreadConstraints": array(
                topology_spread_constraint(), "How the pods spread over zones or nodes.", max_items=8
            ),
            "priorityClassName": string("PriorityClass of the pods.", pattern=DNS_SUBDOMAIN_PATTERN, max_length=253),
            "runtimeClassName": string(
                "RuntimeClass the pods run with, e.g. nvidia.", pattern=DNS_SUBDOMAIN_PATTERN, max_length=253
            ),
            "imagePullSecrets": array(
                obj({"name": name}, "A Secret of type kubernetes.io/dockerconfigjson.", required=["name"]),
                "Secrets for pulling the images; the operator adds its own --image-pull-secret ones.",
                max_items=16,
            ),
            "annotations": string_map(
                "Annotations of the pods; the operator's own (Prometheus scrape) win on a clash.", max_properties=64
            ),
            "labels": string_map("Labels of the pods; the operator's own (its selector) win.", max_properties=64),
        },
        f"Settings of the {whose} pods, as the core PodSpec names them.",
        default={},
    )
