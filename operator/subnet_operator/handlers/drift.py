"""Converge on drift: a deleted or hand-edited Deployment, Service or claim of a Validator or Miner is re-applied
from its owner's spec as soon as the watch reports it (`subnet_operator.drift` decides what counts)."""

from __future__ import annotations

import logging
from typing import Any

import kopf
from ocr_subnet.logs import log_event

from subnet_operator import api, drift
from subnet_operator.builders.common import InvalidSpec
from subnet_operator.context import OperatorConfig
from subnet_operator.handlers.common import context, owner_of
from subnet_operator.handlers.reconcile import APPLY
from subnet_operator.kube import KubeError

CHILDREN = (("apps", "v1", "deployments"), ("", "v1", "services"), ("", "v1", "persistentvolumeclaims"))
log = logging.getLogger(__name__)


class Repairer:
    """The handler, with the generation each child was last re-applied at (per operator run)."""

    def __init__(self) -> None:
        self.repaired: dict[str, int | None] = {}

    def __call__(self, event: kopf.RawEvent, body: kopf.Body, memo: Any, **_: Any) -> None:
        metadata = body["metadata"]
        uid = metadata["uid"]
        what = drift.drifted(event["type"], body["kind"], metadata, self.repaired.get(uid))
        if event["type"] == "DELETED":
            self.repaired.pop(uid, None)
        ref = drift.controller_of(body["kind"], metadata)
        if what is None or ref is None:
            return
        ctx = context(memo)
        namespace = metadata["namespace"]
        resource = ctx.cluster.get(api.API_VERSION, ref.kind, namespace, ref.name)
        owner_meta = (resource or {}).get("metadata", {})
        if resource is None or ref.uid not in (None, owner_meta["uid"]) or owner_meta.get("deletionTimestamp"):
            return  # its owner is going: the garbage collector takes the rest
        child = f"{body['kind']} {metadata['name']}"
        fields = {"kind": ref.kind, "namespace": namespace, "name": ref.name, "child": child, "drift": what}
        try:
            APPLY[ref.kind](ctx, owner_of(resource), resource["spec"])
        except (InvalidSpec, KubeError) as exc:  # the reconcile reports and retries these on the owner
            log_event(log, "drift-repair-failed", logging.WARNING, **fields, error=str(exc))
            return
        if what == "edited":
            self.repaired[uid] = metadata.get("generation")
        log_event(log, "drift-repaired", logging.INFO, **fields)
        kopf.event(resource, type="Normal", reason="DriftRepaired", message=f"{child} was {what}: re-applied")


def register(registry: kopf.OperatorRegistry, config: OperatorConfig) -> None:
    repair = Repairer()
    for group, version, plural in CHILDREN:
        kopf.on.event(
            f"{group}/{version}" if group else version,
            plural,
            id="repair-drift",
            labels={api.LABEL_MANAGED_BY: api.OPERATOR_NAME},
            registry=registry,
        )(repair)
