"""The operator's API identity: CRD group and kinds, label keys, names of what it creates.

Every other module takes these from here so the CRDs, the builders, the handlers, the RBAC rules
and the tests cannot disagree on a name.
"""

from __future__ import annotations

from dataclasses import dataclass

GROUP = "subnet.ocr.dev"
VERSION = "v1alpha1"
API_VERSION = f"{GROUP}/{VERSION}"
CATEGORY = "ocr-subnet"

OPERATOR_NAME = "ocr-subnet-operator"
FIELD_MANAGER = OPERATOR_NAME
SCALER_FIELD_MANAGER = f"{OPERATOR_NAME}-scaler"
PEERING_NAME = OPERATOR_NAME
FINALIZER = f"{GROUP}/operator"

# Kubernetes' recommended labels; `instance` is the custom resource's name, `component` its part.
LABEL_NAME = "app.kubernetes.io/name"
LABEL_INSTANCE = "app.kubernetes.io/instance"
LABEL_COMPONENT = "app.kubernetes.io/component"
LABEL_MANAGED_BY = "app.kubernetes.io/managed-by"
APP_NAME = "ocr-subnet"

# A Deployment's pods are named <deployment>-<hash>-<suffix> only while that fits in 63 characters
# (longer bases are cut); the operator finds a resource's pods in Prometheus by that pattern, so
# resource names are kept short enough for every suffix it adds. The CRD schema enforces it.
MAX_NAME_LENGTH = 36


@dataclass(frozen=True)
class Kind:
    kind: str
    plural: str
    short_names: tuple[str, ...]

    @property
    def singular(self) -> str:
        return self.kind.lower()


VALIDATOR = Kind("Validator", "validators", ("ocrv",))
MINER = Kind("Miner", "miners", ("ocrm",))
KINDS = (VALIDATOR, MINER)

# Components: also the suffix of each object's name, `<resource>-<component>`. No suffix ends
# another, so two resources can never produce the same object name.
VALIDATOR_COMPONENT = "validator"
MINER_COMPONENT = "miner"
TRITON_COMPONENT = "triton"
STATE_SUFFIX = "state"

# Condition types written into `.status.conditions`.
READY = "Ready"
TRITON_READY = "TritonReady"
WEIGHTS_HEALTHY = "WeightsHealthy"
SCORE_HEALTHY = "ScoreHealthy"
SPEC_VALID = "SpecValid"  # False while the spec breaks a rule of subnet_operator.validation


def object_name(resource: str, component: str) -> str:
    return f"{resource}-{component}"
