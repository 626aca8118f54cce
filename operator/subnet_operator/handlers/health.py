"""The health timer: conditions, phase and health fields in status, and an Event on every transition.

Rollouts come from the Deployment index; weights and scores from Prometheus. When Prometheus is
away the health conditions turn Unknown with the reason, and everything else carries on.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypeVar

import kopf

from subnet_operator import api, conditions, promql
from subnet_operator.builders import triton as triton_builders
from subnet_operator.conditions import Condition
from subnet_operator.context import Context, OperatorConfig
from subnet_operator.handlers.common import context, defaulted, now, owner_of, rollout, write_changes
from subnet_operator.health import (
    Rollout,
    ScoreReport,
    ScoreSample,
    WeightsReport,
    ready_condition,
    rollout_condition,
    score_health,
    weights_health,
)
from subnet_operator.prometheus import Prometheus, PrometheusUnavailable
from subnet_operator.validation import spec_condition

NOT_CONFIGURED = "no Prometheus URL is configured (--prometheus-url)"
T = TypeVar("T")


def _ask_prometheus(
    ctx: Context, condition_type: str, evaluate: Callable[[Prometheus], T], unknown: Callable[[Condition], T]
) -> T:
    """`evaluate(prometheus)`, or `unknown(<Unknown condition with the reason>)` when Prometheus cannot answer:
    an unread report, whose numbers status keeps from the last pass that read them."""
    if ctx.prometheus is None:
        return unknown(Condition.unknown(condition_type, "PrometheusNotConfigured", NOT_CONFIGURED))
    try:
        return evaluate(ctx.prometheus)
    except PrometheusUnavailable as exc:
        return unknown(Condition.unknown(condition_type, "PrometheusUnavailable", str(exc)))


def validator_weights(ctx: Context, namespace: str, name: str, thresholds: Mapping[str, Any]) -> WeightsReport:
    def evaluate(prometheus: Prometheus) -> WeightsReport:
        deployment = api.object_name(name, api.VALIDATOR_COMPONENT)
        matchers = promql.pods_of(namespace, deployment)
        sample = promql.weights_sample(prometheus.query(promql.validator_query(matchers, thresholds["windowSeconds"])))
        if sample is None:
            message = f"no validator series for the pods of {deployment} in Prometheus"
            return WeightsReport(Condition.unknown(api.WEIGHTS_HEALTHY, "NoMetrics", message), read=False)
        return weights_health(sample, thresholds)

    return _ask_prometheus(ctx, api.WEIGHTS_HEALTHY, evaluate, lambda unknown: WeightsReport(unknown, read=False))


def miner_score(ctx: Context, namespace: str, name: str, thresholds: Mapping[str, Any]) -> ScoreReport:
    def evaluate(prometheus: Prometheus) -> ScoreReport:
        matchers = promql.pods_of(namespace, api.object_name(name, api.MINER_COMPONENT))
        hotkey = promql.miner_hotkey(prometheus.query(promql.miner_hotkey_query(matchers)))
        if hotkey is None:
            return score_health(ScoreSample(None), thresholds)
        samples = prometheus.query(promql.score_query(hotkey, thresholds["dropWindowSeconds"]))
        return score_health(promql.score_sample(hotkey, samples), thresholds)

    return _ask_prometheus(ctx, api.SCORE_HEALTHY, evaluate, lambda unknown: ScoreReport(unknown, read=False))


def publish(
    ctx: Context,
    body: kopf.Body,
    patch: kopf.Patch,
    ready: Condition,
    health: list[Condition],
    fields: Mapping[str, Any],
) -> None:
    """Merge conditions, derive the phase, post an Event per transition, export the states."""
    meta, status = body["metadata"], body.get("status", {})
    fresh = [ready, *health]
    merged, transitions = conditions.merge(status.get("conditions", []), fresh, now(), meta.get("generation", 0))
    failed = ready.reason == "ReconcileFailed"
    write_changes(patch, status, {**fields, "conditions": merged, "phase": conditions.phase(fresh, api.READY, failed)})
    for transition in transitions:
        kopf.event(body, type=transition.event_type, reason=transition.condition.reason, message=transition.message)
    for condition in fresh:
        ctx.metrics.set_health(body["kind"], meta["namespace"], meta["name"], condition.type, condition.status)


def _ready(body: kopf.Body, parts: list[Condition]) -> Condition:
    status = body.get("status", {})
    reconciled = status.get("observedGeneration") == body["metadata"].get("generation")
    return ready_condition(parts, reconciled, status.get("reconcileError"))


def validator_health(
    body: kopf.Body,
    spec: kopf.Spec,
    name: str,
    namespace: str,
    patch: kopf.Patch,
    memo: Any,
    deployments: kopf.Index,
    **_: Any,
) -> None:
    ctx = context(memo)
    full = defaulted(api.VALIDATOR, spec)
    deployment = api.object_name(name, api.VALIDATOR_COMPONENT)
    ready = _ready(body, [rollout_condition(api.READY, deployment, rollout(deployments, namespace, deployment))])
    weights = validator_weights(ctx, namespace, name, full["health"]["weights"])
    fields = weights.status_fields()
    publish(ctx, body, patch, ready, [weights.condition, spec_condition(api.VALIDATOR, full)], fields)


def triton_condition(
    full: Mapping[str, Any], name: str, namespace: str, deployments: kopf.Index
) -> tuple[Condition, Rollout | None]:
    if full["backend"] != "triton":
        return Condition.of(
            api.TRITON_READY, True, "NotUsed", f"the {full['backend']} backend runs without Triton"
        ), None
    deployment = api.object_name(name, api.TRITON_COMPONENT)
    state = rollout(deployments, namespace, deployment)
    return rollout_condition(api.TRITON_READY, deployment, state), state


def miner_health(
    body: kopf.Body,
    spec: kopf.Spec,
    name: str,
    namespace: str,
    patch: kopf.Patch,
    memo: Any,
    deployments: kopf.Index,
    **_: Any,
) -> None:
    ctx = context(memo)
    full = defaulted(api.MINER, spec)
    deployment = api.object_name(name, api.MINER_COMPONENT)
    triton, triton_state = triton_condition(full, name, namespace, deployments)
    miner_part = rollout_condition(api.READY, deployment, rollout(deployments, namespace, deployment))
    ready = _ready(body, [miner_part, triton])
    score = miner_score(ctx, namespace, name, full["health"]["score"])
    fields = {
        **score.status_fields(),
        # The scale subresource reads these: what the Deployment asks for and which pods are its.
        "tritonReplicas": triton_state.replicas if triton_state else None,
        "tritonReadyReplicas": triton_state.ready if triton_state else None,
        "tritonSelector": triton_builders.pod_selector(owner_of(body)) if full["backend"] == "triton" else None,
    }
    publish(ctx, body, patch, ready, [triton, score.condition, spec_condition(api.MINER, full)], fields)


def forget(body: kopf.Body, memo: Any, **_: Any) -> None:
    """A deleted resource's health series go with it."""
    meta = body["metadata"]
    types = (api.READY, api.TRITON_READY, api.WEIGHTS_HEALTHY, api.SCORE_HEALTHY, api.SPEC_VALID)
    context(memo).metrics.forget(body["kind"], meta["namespace"], meta["name"], types)


def register(registry: kopf.OperatorRegistry, config: OperatorConfig) -> None:
    for kind, handler in ((api.VALIDATOR, validator_health), (api.MINER, miner_health)):
        kopf.timer(
            api.GROUP, api.VERSION, kind.plural, id="health", interval=config.health_interval_s, registry=registry
        )(handler)
        kopf.on.delete(api.GROUP, api.VERSION, kind.plural, id="forget", optional=True, registry=registry)(forget)
