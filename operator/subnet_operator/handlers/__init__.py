"""kopf handlers: thin glue between cluster events, the pure builders and rules, and the API.

Each module registers its handlers on a registry it is given (`register(registry, config)`), so an
operator run, a test or a benchmark builds its own registry with its own intervals.
"""

from __future__ import annotations

import kopf

from subnet_operator.context import OperatorConfig
from subnet_operator.handlers import admission, drift, health, index, lifecycle, reconcile, scale


def build_registry(config: OperatorConfig) -> kopf.OperatorRegistry:
    registry = kopf.OperatorRegistry()
    for module in (lifecycle, index, reconcile, drift, health, scale, admission):
        module.register(registry, config)
    return registry
