"""Small helpers the handler modules share: the owner of a body, its defaulted spec, the clock."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

import kopf

from subnet_operator import api, crds
from subnet_operator.builders.common import Owner
from subnet_operator.context import Context
from subnet_operator.health import Rollout
from subnet_operator.schema import apply_defaults


def context(memo: Any) -> Context:
    return memo.ctx


def owner_of(body: kopf.Body) -> Owner:
    meta = body["metadata"]
    return Owner(kind=body["kind"], name=meta["name"], namespace=meta["namespace"], uid=meta["uid"])


def defaulted(kind: api.Kind, spec: Mapping[str, Any]) -> dict[str, Any]:
    """The API server already defaulted it; doing it again costs nothing and keeps old objects safe."""
    return apply_defaults(crds.spec_schema(kind), dict(spec))


def rollout(deployments: kopf.Index, namespace: str, name: str) -> Rollout | None:
    """The indexed state of one Deployment the operator made, or None if it does not exist."""
    return next(iter(deployments.get((namespace, name), [])), None)


def write_changes(patch: kopf.Patch, status: Mapping[str, Any], fields: Mapping[str, Any]) -> None:
    """Put into the status patch only what differs from the stored status: a timer tick that changes
    nothing sends no request, which is what keeps 256 resources' timers cheap for the API server."""
    for key, value in fields.items():
        if status.get(key) != _stored(value):
            patch.status[key] = value  # a None inside deletes that field (merge-patch semantics)


def _stored(value: Any) -> Any:
    """How a value reads back after a merge patch: None means absent, in nested objects too."""
    if isinstance(value, Mapping):
        return {k: _stored(v) for k, v in value.items() if v is not None}
    return value


def now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
