"""An in-memory index of the Deployments the operator made, kept current by a watch.

The health and scaling timers of 256 resources read rollouts from here instead of asking the API.
"""

from __future__ import annotations

from typing import Any

import kopf

from subnet_operator import api
from subnet_operator.context import OperatorConfig
from subnet_operator.health import Rollout


def deployments(
    namespace: str, name: str, spec: kopf.Spec, status: kopf.Status, **_: Any
) -> dict[tuple[str, str], Rollout]:
    return {(namespace, name): Rollout.from_body(name, spec, status)}


def register(registry: kopf.OperatorRegistry, config: OperatorConfig) -> None:
    kopf.index("apps", "v1", "deployments", labels={api.LABEL_MANAGED_BY: api.OPERATOR_NAME}, registry=registry)(
        deployments
    )
