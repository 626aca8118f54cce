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


def now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
