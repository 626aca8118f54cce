"""The scaling timer: Triton queue time from Prometheus -> `scaling.decide` -> the Deployment's replicas.

The decision and its reason go into status (with the recommendation history the stabilization
windows need and the time every replica turned ready, so a restarted operator keeps them), written
only when something changed; an Event is posted when the replica count changes, and when scaling
stops or resumes for lack of metrics. In external mode the timer only says so in status.
"""

from __future__ import annotations

import time
from typing import Any

import kopf

from subnet_operator import api, promql, scaling
from subnet_operator.builders import triton
from subnet_operator.builders.common import InvalidSpec
from subnet_operator.context import Context, OperatorConfig
from subnet_operator.handlers.common import context, defaulted, now, rollout, write_changes
from subnet_operator.handlers.health import NOT_CONFIGURED
from subnet_operator.prometheus import PrometheusUnavailable

BLIND_REASONS = frozenset({"MetricsUnavailable", "Stalled"})  # decisions that hold because nothing can be judged
EXTERNAL = {
    "reason": "External",
    "message": "spec.triton.scaling.mode is external: an HPA, a KEDA ScaledObject or the scale subresource sets "
    "the replica count",
    **dict.fromkeys(("queueTimeMs", "pendingRequests", "desiredReplicas", "readySince", "recommendations")),
}


def observe(ctx: Context, namespace: str, deployment: str, window_s: int) -> tuple[scaling.Observation | None, str]:
    """The observation, or None with why it is missing."""
    if ctx.prometheus is None:
        return None, NOT_CONFIGURED
    try:
        samples = ctx.prometheus.query(promql.triton_query(promql.pods_of(namespace, deployment), window_s))
    except PrometheusUnavailable as exc:
        return None, str(exc)
    observation = promql.triton_observation(samples)
    return observation, f"no Triton series for the pods of {deployment} in Prometheus over {window_s}s"


def scale_triton(
    body: kopf.Body,
    spec: kopf.Spec,
    name: str,
    namespace: str,
    status: kopf.Status,
    patch: kopf.Patch,
    memo: Any,
    deployments: kopf.Index,
    **_: Any,
) -> None:
    ctx = context(memo)
    full = defaulted(api.MINER, spec)
    if full["backend"] != "triton":
        return
    try:
        policy = scaling.Policy.from_spec(triton.triton_spec(full))
    except InvalidSpec:
        return  # the reconcile reports it in status
    if triton.external(full["triton"]):
        write_changes(patch, status, {"scaling": EXTERNAL})
        return
    deployment = api.object_name(name, api.TRITON_COMPONENT)
    state = rollout(deployments, namespace, deployment)
    if state is None:
        return  # not created yet
    observation, missing = observe(ctx, namespace, deployment, full["triton"]["metricsWindowSeconds"])
    previous = status.get("scaling", {})
    history = [scaling.Recommendation(r["at"], r["replicas"]) for r in previous.get("recommendations", [])]
    replicas = scaling.Replicas(state.replicas, state.ready, previous.get("readySince"))
    decision = scaling.decide(replicas, observation, policy, history, time.time(), missing)
    direction = scaling.direction(state.replicas, decision.replicas)
    if direction != "hold":
        ctx.cluster.scale_deployment(namespace, deployment, decision.replicas)
        message = f"Triton replicas {state.replicas} -> {decision.replicas}: {decision.message}"
        kopf.event(body, type="Normal", reason="TritonScaled", message=message)
    elif decision.reason != previous.get("reason") and BLIND_REASONS & {decision.reason, previous.get("reason")}:
        event_type = "Warning" if decision.reason in BLIND_REASONS else "Normal"
        kopf.event(body, type=event_type, reason=decision.reason, message=decision.message)
    ctx.metrics.scaling.labels(direction).inc()
    ctx.metrics.triton_replicas.labels(namespace, name).set(decision.replicas)
    scaled = {
        "queueTimeMs": observation.queue_ms if observation else None,
        "pendingRequests": observation.pending if observation else None,
        "desiredReplicas": decision.desired,
        "reason": decision.reason,
        "message": decision.message,
        "lastScaleTime": now() if direction != "hold" else previous.get("lastScaleTime"),
        "readySince": decision.ready_since,
        "recommendations": [{"at": round(r.at, 3), "replicas": r.replicas} for r in decision.history],
    }
    write_changes(patch, status, {"scaling": scaled})


def register(registry: kopf.OperatorRegistry, config: OperatorConfig) -> None:
    kopf.timer(
        api.GROUP, api.VERSION, api.MINER.plural, id="scale", interval=config.scale_interval_s, registry=registry
    )(scale_triton)
