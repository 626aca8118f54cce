"""The Validator and Miner CustomResourceDefinitions (apiextensions.k8s.io/v1), written in Python.

This is the one source of truth: `ocr-subnet operator crds --out charts/subnet/crds` renders the
chart's YAML from it and a unit test fails when the committed YAML drifts. The schemas are
structural and use only what Kubernetes 1.20 validates (no CEL); rules that span two fields
(maxReplicas >= minReplicas, a Triton section for the triton backend) are checked by the builders
and reported in status.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import yaml
from ocr_subnet.challenge.families import DEFAULT_MIX, FAMILIES
from ocr_subnet.challenge.levels import LEVELS

from subnet_operator import api
from subnet_operator.pod_schema import pod_settings
from subnet_operator.schema import (
    DNS_SUBDOMAIN_PATTERN,
    Schema,
    array,
    boolean,
    integer,
    number,
    obj,
    quantity,
    quantity_map,
    string,
)

PATH_SEGMENT_PATTERN = r"^[A-Za-z0-9_-][A-Za-z0-9_.-]*$"
SECRET_KEY_PATTERN = r"^[-._a-zA-Z0-9]+$"
ENDPOINT_PATTERN = r"^(https?|wss?)://[^\s/]+(/\S*)?$"
IPV4_PATTERN = r"^((25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])\.){3}(25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])$"
# A Service name is a DNS-1035 label: it starts with a letter.
RESOURCE_NAME_PATTERN = r"^[a-z]([-a-z0-9]*[a-z0-9])?$"
# An extended resource: <DNS subdomain>/<name>, e.g. nvidia.com/gpu.
EXTENDED_RESOURCE_PATTERN = r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?/[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$"
PUBLISH_MODES = ("NodeIP", "ExternalIP", "LoadBalancerIP")
NETWORKS = ("finney", "test", "archive", "devnet", "local")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
BACKENDS = ("triton", "tesseract")
SERVICE_TYPES = ("NodePort", "LoadBalancer")
PULL_POLICIES = ("Always", "IfNotPresent", "Never")
PHASES = ("Pending", "Progressing", "Running", "Degraded", "Failed")
SCALING_MODES = ("operator", "external")


def resources_schema(requests: Mapping[str, str], limits: Mapping[str, str]) -> Schema:
    return obj(
        {
            "requests": quantity_map("What the scheduler reserves.", default=requests),
            "limits": quantity_map(
                "The most the container may use; a key missing here takes its request.", default=limits
            ),
        },
        "Compute resources of the container.",
        default={},
    )


def common_spec() -> dict[str, Schema]:
    """The fields both kinds share: image, wallet, chain, resources, scheduling, logging."""
    return {
        "image": string("Container image of the neuron (`ocr-subnet` entry point).", min_length=1),
        "imagePullPolicy": string(enum=PULL_POLICIES, default="IfNotPresent"),
        "wallet": obj(
            {
                "secretName": string(
                    "Secret holding the hotkey file only; the coldkey never enters the cluster.",
                    pattern=DNS_SUBDOMAIN_PATTERN,
                    max_length=253,
                ),
                "key": string("Key of the hotkey file in the Secret.", pattern=SECRET_KEY_PATTERN, default="hotkey"),
                "name": string(
                    "Wallet (coldkey) name the neuron is started with.", pattern=PATH_SEGMENT_PATTERN, default="default"
                ),
                "hotkey": string("Hotkey name inside the wallet.", pattern=PATH_SEGMENT_PATTERN, default="default"),
            },
            "The neuron's hotkey, mounted read-only.",
            required=["secretName"],
        ),
        "chain": obj(
            {
                "network": string("A named Bittensor network.", enum=NETWORKS, default="finney"),
                "endpoint": string(
                    "A chain endpoint (ws(s):// subtensor, http(s):// local chain); overrides `network`.",
                    pattern=ENDPOINT_PATTERN,
                ),
                "netuid": integer("The subnet's netuid.", minimum=0, maximum=65535),
            },
            "Which chain and subnet the neuron joins.",
            required=["netuid"],
        ),
        "logLevel": string(enum=LOG_LEVELS, default="INFO"),
        "pod": pod_settings("neuron (validator or miner, not Triton)"),
    }


def challenge_schema() -> Schema:
    """spec.challenge: which document families the validator challenges with (`--family`)."""
    families = array(
        string(enum=FAMILIES),
        "Document families drawn from, each equally likely; every sampled miner gets its own page each round.",
        max_items=len(FAMILIES),
    )
    return obj(
        {"families": {**families, "minItems": 1, "default": list(DEFAULT_MIX)}},
        "The challenge mix (`ocr-subnet validator --family`).",
        default={},
    )


def gateway_link_schema() -> dict[str, Schema]:
    """Validator.spec.gateway fields for what the gateway and the validator read from each other's /metrics."""
    return {
        "organicWeight": number(
            "Share of a miner's organic EMA, read from every gateway pod's metrics and combined by pages, in each "
            "reward entering the validator's EMA (`ocr-subnet validator --organic-weight`, formula in README.md). "
            "0: the validator scores on synthetic challenges alone.",
            minimum=0,
            maximum=1,
            default=0.3,
        ),
    }


def gateway_spec() -> Schema:
    """Validator.spec.gateway: the organic gateway (`ocr-subnet gateway serve`) beside the validator."""
    return obj(
        {
            "enabled": boolean("Run the gateway.", default=False),
            "replicas": integer("Gateway pods.", minimum=1, maximum=64, default=1),
            "port": integer("Port of the gateway's HTTP API.", minimum=1024, maximum=65535, default=8080),
            "resources": resources_schema({"cpu": "250m", "memory": "512Mi"}, {"cpu": "2", "memory": "2Gi"}),
            "serviceType": string(enum=("ClusterIP", *SERVICE_TYPES), default="ClusterIP"),
            "apiKeySecretName": string(
                "Secret holding the hashed API keys file (`ocr-subnet gateway add-key`); required when enabled.",
                pattern=DNS_SUBDOMAIN_PATTERN,
                max_length=253,
            ),
            "apiKeySecretKey": string(
                "Key of the keys file in the Secret.", pattern=SECRET_KEY_PATTERN, default="keys.json"
            ),
            "ingress": obj(
                {
                    "enabled": boolean("Create an Ingress to the gateway's Service.", default=False),
                    "host": string("Host the Ingress answers for; any host if unset.", max_length=253),
                    "className": string("IngressClass; the cluster default if unset.", max_length=253),
                    "path": string("Path prefix.", pattern="^/", default="/"),
                },
                default={},
            ),
            **gateway_link_schema(),
        },
        "The organic gateway: real users' documents read by the subnet's miners, every page verified.",
        default={},
    )


def validator_spec() -> Schema:
    return obj(
        {
            **common_spec(),
            "challenge": challenge_schema(),
            "gateway": gateway_spec(),
            "resources": resources_schema({"cpu": "500m", "memory": "1Gi"}, {"cpu": "2", "memory": "2Gi"}),
            "neuron": obj(
                {
                    "sampleSize": integer("Miners challenged per round.", minimum=1, maximum=256, default=8),
                    "roundIntervalSeconds": number(
                        "Seconds from one round's start to the next.", minimum=0, default=12
                    ),
                    "deadlineSeconds": number("Seconds a miner has to answer.", minimum=0.1, maximum=300, default=12),
                    "emaAlpha": number(
                        "Weight of the newest reward in the EMA.",
                        minimum=0,
                        exclusive_minimum=True,
                        maximum=1,
                        default=0.1,
                    ),
                    "difficulty": integer("Challenge difficulty level.", minimum=1, maximum=len(LEVELS) - 1, default=1),
                    "chainTimeoutSeconds": number("Seconds one chain call may take.", minimum=0.1, default=30),
                    "allowedAxonNetworks": array(
                        string(format="cidr", max_length=49),
                        "CIDRs of non-public addresses miners may be queried at, e.g. a local cluster's node, pod "
                        "and service ranges. Empty (the default): only globally routable unicast axons are queried; "
                        "link-local, multicast and unspecified addresses never are.",
                        max_items=64,
                    ),
                },
                "Validator settings (`ocr-subnet validator` options).",
                default={},
            ),
            "metricsPort": integer("Port of the validator's /metrics.", minimum=1024, maximum=65535, default=9101),
            "persistence": obj(
                {
                    "size": quantity("Size of the state volume; fixed once the claim exists.", default="1Gi"),
                    "storageClassName": string("Storage class of the claim; the cluster default if unset."),
                    "retain": boolean(
                        "Keep the claim when the Validator is deleted (losing the EMA state resets the validator's "
                        "view of every miner); a Validator of the same name takes it up again. False: the claim "
                        "is deleted with the Validator. Fixed when the claim is created.",
                        default=True,
                    ),
                },
                "The PersistentVolumeClaim holding the EMA state across restarts.",
                default={},
            ),
            "health": obj(
                {
                    "weights": obj(
                        {
                            "maxEpochsWithoutWeights": number(
                                "WeightsHealthy turns False after this many tempos plus the rate limit without a "
                                "successful weight set.",
                                minimum=1,
                                maximum=100,
                                default=3,
                            ),
                            "maxFailureRate": number(
                                "WeightsHealthy turns False when more attempts than this share fail.",
                                minimum=0,
                                maximum=1,
                                default=0.5,
                            ),
                            "windowSeconds": integer(
                                "Window of the failure rate.", minimum=30, maximum=86400, default=600
                            ),
                        },
                        default={},
                    ),
                },
                "Thresholds of the WeightsHealthy condition.",
                default={},
            ),
        },
        "The desired validator.",
        required=["image", "wallet", "chain"],
    )


def triton_spec() -> Schema:
    return obj(
        {
            "image": string("Triton image (runs `ocr-subnet triton serve`).", min_length=1),
            "imagePullPolicy": string(enum=PULL_POLICIES, default="IfNotPresent"),
            "modelRepository": string(
                "Model repository path inside the pod; unset serves the weights packaged in the image.", min_length=1
            ),
            "gpus": integer(
                "GPUs per replica, requested as `gpuResource`. 0: none, and the NVIDIA runtime shows the pod none.",
                minimum=0,
                maximum=16,
                default=0,
            ),
            "gpuResource": string(
                "Extended resource the GPUs are requested as, e.g. a MIG slice nvidia.com/mig-1g.10gb; replicas "
                "with GPUs tolerate the NoSchedule taints nvidia.com/gpu and this one.",
                pattern=EXTENDED_RESOURCE_PATTERN,
                max_length=253,
                default="nvidia.com/gpu",
            ),
            "minReplicas": integer(minimum=1, maximum=100, default=1),
            "maxReplicas": integer(minimum=1, maximum=100, default=4),
            "targetQueueTimeMs": number(
                "Mean queue time per request the scaler aims for.", minimum=0, exclusive_minimum=True, default=50
            ),
            "tolerance": number(
                "No scaling while observed/target is within 1 +- tolerance.", minimum=0, maximum=1, default=0.1
            ),
            "metricsWindowSeconds": integer(
                "Window the queue time is averaged over; a scale-up also waits this long after every replica is "
                "ready (the cool-down that counts model load time).",
                minimum=5,
                maximum=3600,
                default=60,
            ),
            "scaleUpStabilizationSeconds": integer(minimum=0, maximum=3600, default=0),
            "scaleDownStabilizationSeconds": integer(minimum=0, maximum=3600, default=300),
            "maxScaleUpStep": integer("Most replicas added in one decision.", minimum=1, maximum=100, default=4),
            "maxScaleDownStep": integer("Most replicas removed in one decision.", minimum=1, maximum=100, default=1),
            "shmSize": quantity(
                "Size of /dev/shm (Triton's Python backend moves tensors through it).", default="256Mi"
            ),
            "resources": resources_schema({"cpu": "1", "memory": "2Gi"}, {"cpu": "4", "memory": "8Gi"}),
            "pod": pod_settings("Triton (placed apart from the miner's: spec.pod does not apply here)"),
            **triton_scaling_fields(),
        },
        "The Triton model servers the miner calls; required when `backend` is triton.",
        required=["image"],
    )


def triton_scaling_fields() -> dict[str, Schema]:
    """Who owns the Triton replica count: the operator's scaler, or something outside it (HPA, KEDA, a person)."""
    return {
        "scaling": obj(
            {
                "mode": string(
                    "operator: the operator scales Triton on queue time within minReplicas..maxReplicas. external: "
                    "the operator never sets the replica count, so an HPA or a KEDA ScaledObject owns it (on the "
                    "Triton Deployment, or on this Miner through its scale subresource).",
                    enum=SCALING_MODES,
                    default="operator",
                ),
            },
            "Who scales the Triton Deployment.",
            default={},
        ),
        "replicas": integer(
            "Triton replicas in external mode, set through the scale subresource (`kubectl scale miner/<name>`, an "
            "HPA or a ScaledObject targeting the Miner); unset leaves the Deployment's count to whoever scales it. "
            "Ignored in operator mode.",
            minimum=0,
            maximum=1000,
        ),
    }


def scale_subresource() -> dict[str, str]:
    """`kubectl scale miner/<name>` and an HPA targeting a Miner move its Triton replicas (external mode)."""
    return {
        "specReplicasPath": ".spec.triton.replicas",
        "statusReplicasPath": ".status.tritonReplicas",
        "labelSelectorPath": ".status.tritonSelector",
    }


def miner_spec() -> Schema:
    return obj(
        {
            **common_spec(),
            "resources": resources_schema({"cpu": "500m", "memory": "512Mi"}, {"cpu": "2", "memory": "2Gi"}),
            "backend": string("OCR engine of the miner.", enum=BACKENDS, default="triton"),
            "neuron": obj(
                {
                    "minStake": number("Callers with less stake are blacklisted.", minimum=0, default=0),
                    "requireValidatorPermit": boolean("Blacklist callers without a validator permit.", default=True),
                    "maxConcurrency": integer("Pages recognized at once.", minimum=1, maximum=1024, default=2),
                    "maxQueue": integer(
                        "Requests waiting before answering overloaded.", minimum=0, maximum=65536, default=16
                    ),
                    "maxConnections": integer(
                        "Open connections kept; past it the one waiting longest for its request head is closed.",
                        minimum=1,
                        maximum=65536,
                        default=1024,
                    ),
                    "metagraphRefreshSeconds": number(minimum=0.1, default=30),
                    "startupTimeoutSeconds": number(minimum=1, maximum=3600, default=120),
                },
                "Miner settings (`ocr-subnet miner` options).",
                default={},
            ),
            "axon": obj(
                {
                    "port": integer(
                        "Port the miner serves /ocr, /healthz and /metrics on.",
                        minimum=1024,
                        maximum=65535,
                        default=8091,
                    ),
                    "serviceType": string("How the axon is exposed.", enum=SERVICE_TYPES, default="NodePort"),
                    "nodePort": integer(
                        "Fixed node port (NodePort); allocated by the cluster if unset.", minimum=30000, maximum=32767
                    ),
                    "publish": string(
                        "Which IP is published on chain for validators to dial. NodeIP: the IP of the node the miner "
                        "runs on (status.hostIP; on cloud nodes often a private VPC address). ExternalIP: "
                        "`externalIp`. LoadBalancerIP: the IP the LoadBalancer Service is assigned, once it is "
                        "(the miner starts then). Unset: ExternalIP when `externalIp` is set, else LoadBalancerIP "
                        "for a LoadBalancer, else NodeIP.",
                        enum=PUBLISH_MODES,
                    ),
                    "externalIp": string(
                        "IP published on chain with `publish: ExternalIP`; with a LoadBalancer it is also asked for "
                        "as its loadBalancerIP.",
                        pattern=IPV4_PATTERN,
                    ),
                    "externalPort": integer(
                        "Port published on chain; default: the axon port when a LoadBalancer's address is "
                        "published, else the node port.",
                        minimum=1,
                        maximum=65535,
                    ),
                },
                "The miner's axon and how validators reach it.",
                default={},
            ),
            "triton": triton_spec(),
            "health": obj(
                {
                    "score": obj(
                        {
                            "minEma": number(
                                "ScoreHealthy turns False below this mean EMA.", minimum=0, maximum=1, default=0.05
                            ),
                            "maxDrop": number(
                                "ScoreHealthy turns False when the mean EMA falls by more than this share of its "
                                "peak within the window.",
                                minimum=0,
                                maximum=1,
                                default=0.3,
                            ),
                            "dropWindowSeconds": integer(minimum=60, maximum=604800, default=1800),
                        },
                        default={},
                    ),
                },
                "Thresholds of the ScoreHealthy condition.",
                default={},
            ),
        },
        "The desired miner.",
        required=["image", "wallet", "chain"],
    )


def condition_schema() -> Schema:
    return obj(
        {
            "type": string(),
            "status": string(enum=("True", "False", "Unknown")),
            "reason": string(),
            "message": string(),
            "lastTransitionTime": string(format="date-time"),
            "observedGeneration": integer(),
        },
        required=["type", "status"],
    )


def common_status() -> dict[str, Schema]:
    return {
        "observedGeneration": integer("The generation the operator last reconciled."),
        "phase": string(enum=PHASES),
        "conditions": array(condition_schema(), max_items=16),
        "reconcileError": string("Why the last reconcile failed; empty after a success."),
        "hotkey": string("The neuron's hotkey, as its metrics report it."),
    }


def validator_status() -> Schema:
    return obj(
        {
            **common_status(),
            "currentBlock": integer(),
            "lastWeightSetBlock": integer(),
            "blocksSinceWeightSet": integer(),
            "weightSetBlockLimit": integer("Blocks without weights that turn WeightsHealthy False."),
            "weightSetFailureRate": number(),
        }
    )


def miner_status() -> Schema:
    return obj(
        {
            **common_status(),
            "uid": integer("The miner's uid on chain."),
            "ema": number("Mean EMA score over the validators."),
            "rank": integer("Rank of the mean EMA among the subnet's miners (1 is best)."),
            "validators": array(
                obj({"hotkey": string(), "ema": number()}, required=["hotkey", "ema"]),
                "EMA each validator gives this miner.",
                max_items=256,
            ),
            "tritonReplicas": integer("Replicas the Triton Deployment asks for."),
            "tritonReadyReplicas": integer(),
            "tritonSelector": string("Label selector of the Triton pods (the scale subresource's)."),
            "scaling": obj(
                {
                    "queueTimeMs": number("Observed mean queue time per request."),
                    "pendingRequests": number(),
                    "desiredReplicas": integer(),
                    "reason": string(),
                    "message": string(),
                    "lastScaleTime": string(format="date-time"),
                    "readySince": number(
                        "Unix seconds since every replica has been ready; a scale-up waits a metrics window past it."
                    ),
                    "recommendations": array(
                        obj({"at": number("Unix seconds."), "replicas": integer()}, required=["at", "replicas"]),
                        "Recent recommendations the stabilization windows look back on, one entry per change.",
                        max_items=256,
                    ),
                }
            ),
        }
    )


def printer_columns(kind: api.Kind) -> list[dict[str, Any]]:
    phase = {"name": "Phase", "type": "string", "jsonPath": ".status.phase"}
    age = {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"}
    if kind is api.MINER:
        return [
            phase,
            {"name": "UID", "type": "integer", "jsonPath": ".status.uid"},
            {"name": "EMA", "type": "number", "jsonPath": ".status.ema"},
            {
                "name": "Triton",
                "type": "integer",
                "jsonPath": ".status.tritonReplicas",
                "description": "Triton replicas",
            },
            age,
        ]
    return [
        phase,
        {
            "name": "Weights",
            "type": "string",
            "jsonPath": f'.status.conditions[?(@.type=="{api.WEIGHTS_HEALTHY}")].status',
        },
        {
            "name": "Since-Set",
            "type": "integer",
            "jsonPath": ".status.blocksSinceWeightSet",
            "description": "Blocks since the last weight set",
        },
        age,
    ]


def crd(kind: api.Kind, spec: Schema, status: Schema, description: str) -> dict[str, Any]:
    metadata_schema = obj({"name": string(pattern=RESOURCE_NAME_PATTERN, max_length=api.MAX_NAME_LENGTH)})
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{kind.plural}.{api.GROUP}"},
        "spec": {
            "group": api.GROUP,
            "scope": "Namespaced",
            "names": {
                "kind": kind.kind,
                "listKind": f"{kind.kind}List",
                "plural": kind.plural,
                "singular": kind.singular,
                "shortNames": list(kind.short_names),
                "categories": [api.CATEGORY],
            },
            "versions": [
                {
                    "name": api.VERSION,
                    "served": True,
                    "storage": True,
                    "subresources": {"status": {}, **({"scale": scale_subresource()} if kind is api.MINER else {})},
                    "additionalPrinterColumns": printer_columns(kind),
                    "schema": {
                        "openAPIV3Schema": obj(
                            {
                                "apiVersion": string(),
                                "kind": string(),
                                "metadata": metadata_schema,
                                "spec": spec,
                                "status": status,
                            },
                            description,
                            required=["spec"],
                        )
                    },
                }
            ],
        },
    }


def peering_crd(kind: str, plural: str, scope: str) -> dict[str, Any]:
    """kopf's peering resources (kopf.dev/v1): how several operator replicas agree on which one works."""
    status = {"type": "object", "x-kubernetes-preserve-unknown-fields": True}
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{plural}.kopf.dev"},
        "spec": {
            "group": "kopf.dev",
            "scope": scope,
            "names": {"kind": kind, "plural": plural, "singular": kind.lower()},
            "versions": [
                {
                    "name": "v1",
                    "served": True,
                    "storage": True,
                    "schema": {"openAPIV3Schema": {"type": "object", "properties": {"status": status}}},
                }
            ],
        },
    }


def all_crds() -> dict[str, dict[str, Any]]:
    """File name -> CRD, as the chart's crds/ folder holds them."""
    return {
        "validators.yaml": crd(
            api.VALIDATOR,
            validator_spec(),
            validator_status(),
            "A validator neuron of the OCR subnet, run by the operator.",
        ),
        "miners.yaml": crd(
            api.MINER, miner_spec(), miner_status(), "A miner neuron of the OCR subnet with its Triton model servers."
        ),
        "kopf-peerings.yaml": peering_crd("KopfPeering", "kopfpeerings", "Namespaced"),
        "cluster-kopf-peerings.yaml": peering_crd("ClusterKopfPeering", "clusterkopfpeerings", "Cluster"),
    }


HEADER = (
    "# Generated by `ocr-subnet operator crds --out charts/subnet/crds` from subnet_operator/crds.py; do not edit.\n"
)


def render(manifest: Mapping[str, Any]) -> str:
    return HEADER + yaml.safe_dump(dict(manifest), sort_keys=False, width=120)


def spec_schema(kind: api.Kind) -> Schema:
    """The spec schema of `kind`, for defaulting specs outside the API server."""
    return miner_spec() if kind is api.MINER else validator_spec()
