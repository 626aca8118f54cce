"""The validating admission webhook: a spec that breaks a rule of `validation` is refused at the door.

Served by kopf's webhook server when the operator runs with --webhook-port; the chart makes the
ValidatingWebhookConfiguration, its Service and the certificate. Without it, the reconcile applies
the same rules (SpecValid=False, nothing applied).
"""

from __future__ import annotations

from typing import Any

import kopf

from subnet_operator import api, validation
from subnet_operator.context import OperatorConfig
from subnet_operator.handlers.common import defaulted

WEBHOOK_ID = "validate-spec"  # the path the ValidatingWebhookConfiguration calls: /validate-spec
INVALID = 422  # what the API server reports for a schema violation too


def validate_spec(body: kopf.Body, spec: kopf.Spec, old: kopf.Body | None, **_: Any) -> None:
    """Only a new or changed spec is judged: metadata and finalizer updates of a resource admitted
    before (e.g. while no webhook answered) must pass, or it could never be deleted."""
    if old is not None and old.get("spec") == body.get("spec"):
        return
    kind = api.MINER if body["kind"] == api.MINER.kind else api.VALIDATOR
    found = validation.problems(kind, defaulted(kind, spec))
    if found:
        raise kopf.AdmissionError("; ".join(found), code=INVALID)


def register(registry: kopf.OperatorRegistry, config: OperatorConfig) -> None:
    if not config.webhook_port:
        return
    for kind in api.KINDS:
        kopf.on.validate(
            api.GROUP,
            api.VERSION,
            kind.plural,
            id=WEBHOOK_ID,
            operations=["CREATE", "UPDATE"],
            side_effects=False,
            registry=registry,
        )(validate_spec)
