"""Operator-wide activities: log in with the operator's own credentials, make the peering object exist."""

from __future__ import annotations

import logging
from typing import Any

import kopf

from subnet_operator.context import OperatorConfig
from subnet_operator.handlers.common import context
from subnet_operator.kube import connection_info


def login(memo: Any, **_: Any) -> kopf.ConnectionInfo:
    """kopf talks to the API with exactly the credentials the operator's own client loaded."""
    return connection_info(context(memo).kube_config)


def ensure_peering(memo: Any, logger: logging.Logger, **_: Any) -> None:
    """Several replicas coordinate through kopf's peering object: create it if its CRD is installed."""
    ctx = context(memo)
    for namespace in ctx.config.namespaces or (None,):
        if not ctx.cluster.ensure_peering(namespace):
            logger.warning("kopf's peering CRDs are not installed: running standalone; run one replica only")


def register(registry: kopf.OperatorRegistry, config: OperatorConfig) -> None:
    kopf.on.login(registry=registry)(login)
    if not config.standalone:
        kopf.on.startup(registry=registry)(ensure_peering)
