"""Create, update and resume: apply what the builders make of the spec, idempotently (`drift` calls the same
apply when a child is deleted or edited by hand).

Every object is server-side applied (its state volume's claim is only ever created), so a
reconcile interrupted at any point is finished by the next one, and a spec change rolls out as a
new pod template. Owner references let the garbage collector delete it all with the resource.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Iterator, Mapping
from typing import Any

import kopf
from ocr_subnet.logs import log_event

from subnet_operator import api, conditions, validation
from subnet_operator.builders import gateway, miner, network, validator
from subnet_operator.builders.common import InvalidSpec, Owner
from subnet_operator.builders.pod import with_pull_secrets
from subnet_operator.conditions import Condition
from subnet_operator.context import Context, OperatorConfig
from subnet_operator.handlers.common import context, defaulted, now, owner_of

RETRY_BASE_S = 2.0
RETRY_CAP_S = 300.0
log = logging.getLogger(__name__)


def retry_delay(retry: int) -> float:
    """Seconds before the next attempt after `retry` failed ones: doubling from 2 s, at most 5 minutes, so a
    brief API hiccup is retried at once and a lasting refusal does not hammer the API server."""
    return min(RETRY_CAP_S, RETRY_BASE_S * 2 ** min(retry, 32))


@contextlib.contextmanager
def tracked(ctx: Context, kind: str, body: kopf.Body, patch: kopf.Patch, retry: int = 0) -> Iterator[None]:
    """Times the reconcile, counts it by result, and records the outcome in status.

    A spec that breaks a rule is permanent until the spec changes (no retries, SpecValid False and a
    Warning Event); anything else is retried by kopf, backing off exponentially (`retry`: the failed
    attempts so far).
    """
    started = time.perf_counter()
    result, error = "success", None
    try:
        yield
    except InvalidSpec as exc:
        result, error = "invalid", str(exc)
        patch.status["reconcileError"] = error
        mark_spec(body, patch, validation.spec_invalid(error))
        raise kopf.PermanentError(error) from exc
    except Exception as exc:  # the API refused or was away: kopf tries again
        result, error = "retry", str(exc)
        patch.status["reconcileError"] = error
        raise kopf.TemporaryError(error, delay=retry_delay(retry)) from exc
    else:
        patch.status["observedGeneration"] = body["metadata"].get("generation")
        patch.status["reconcileError"] = None
        mark_spec(body, patch, validation.SPEC_IS_VALID)
        if not body.get("status", {}).get("phase"):
            patch.status["phase"] = "Pending"
    finally:
        seconds = time.perf_counter() - started
        ctx.metrics.reconciles.labels(kind, result).inc()
        ctx.metrics.latency.labels(kind).observe(seconds)
        meta = body["metadata"]
        level = logging.INFO if error is None else logging.WARNING
        fields = {"kind": kind, "namespace": meta["namespace"], "name": meta["name"], "result": result}
        log_event(log, "reconciled", level, **fields, seconds=round(seconds, 4), error=error)


def mark_spec(body: kopf.Body, patch: kopf.Patch, condition: Condition) -> None:
    """SpecValid at once (the health timer keeps it current), with a Warning Event when it turns False."""
    status = body.get("status", {})
    merged, transitions = conditions.upsert(
        status.get("conditions", []), condition, now(), body["metadata"].get("generation", 0)
    )
    if transitions:
        patch.status["conditions"] = merged
    for transition in transitions:
        if transition.condition.status == conditions.FALSE:
            kopf.event(body, type="Warning", reason=condition.reason, message=condition.message)


def ensure_valid(kind: api.Kind, spec: dict[str, Any]) -> None:
    """Nothing is applied for a spec that breaks a rule: every problem is reported at once."""
    found = validation.problems(kind, spec)
    if found:
        raise InvalidSpec("; ".join(found))


def apply_policies(ctx: Context, policies: list[dict[str, Any]]) -> None:
    """Applied with --network-policies; without it, ones an earlier run made are removed."""
    for policy in policies:
        if ctx.config.network_policies:
            ctx.cluster.apply(policy)
        else:
            meta = policy["metadata"]
            ctx.cluster.delete(*network.POLICY_KIND, meta["namespace"], meta["name"])


def apply_validator(ctx: Context, owner: Owner, spec: Mapping[str, Any]) -> None:
    """Everything a Validator owns, applied; also what repairs a deleted or hand-edited child."""
    full = with_pull_secrets(defaulted(api.VALIDATOR, spec), ctx.config.image_pull_secrets)
    ensure_valid(api.VALIDATOR, full)
    claim = validator.state_claim(owner, full)
    manifests = [validator.metrics_service(owner, full), validator.validator_deployment(owner, full)]
    policies = [network.validator_policy(owner, full, ctx.config.monitoring_namespaces)]
    gateway_objects = gateway.gateway_objects(owner, full)  # built before anything is applied
    ctx.cluster.create_if_absent(claim)
    for manifest in [*manifests, *gateway_objects]:
        ctx.cluster.apply(manifest)
    wanted = {(m["apiVersion"], m["kind"], m["metadata"]["name"]) for m in gateway_objects}
    for api_version, kind, suffix in gateway.OWNED:
        name = api.object_name(owner.name, suffix)
        if (api_version, kind, name) not in wanted:  # disabled, or its Ingress turned off: it goes
            ctx.cluster.delete(api_version, kind, owner.namespace, name)
    apply_policies(ctx, policies)


def apply_miner(ctx: Context, owner: Owner, spec: Mapping[str, Any]) -> None:
    """Everything a Miner owns, applied; also what repairs a deleted or hand-edited child."""
    full = with_pull_secrets(defaulted(api.MINER, spec), ctx.config.image_pull_secrets)
    ensure_valid(api.MINER, full)
    triton_name = api.object_name(owner.name, api.TRITON_COMPONENT)
    current = ctx.cluster.get("apps/v1", "Deployment", owner.namespace, triton_name)
    triton = miner.triton_objects(owner, full, current["spec"]["replicas"] if current else None)
    axon = miner.axon_service(owner, full)  # built before anything is applied: a bad spec changes nothing
    for manifest in triton:
        ctx.cluster.apply(manifest)
    if not triton:  # the backend changed away from Triton: its servers go
        ctx.cluster.delete("apps/v1", "Deployment", owner.namespace, triton_name)
        ctx.cluster.delete("v1", "Service", owner.namespace, triton_name)
    applied = ctx.cluster.apply(axon)
    node_port = applied["spec"]["ports"][0].get("nodePort")
    ctx.cluster.apply(miner.miner_deployment(owner, full, node_port, miner.load_balancer_ip(applied)))
    policies = [network.miner_policy(owner, full)]
    if triton:
        policies.append(network.triton_policy(owner, ctx.config.monitoring_namespaces))
    else:
        ctx.cluster.delete(*network.POLICY_KIND, owner.namespace, triton_name)
    apply_policies(ctx, policies)


APPLY = {api.VALIDATOR.kind: apply_validator, api.MINER.kind: apply_miner}


def reconcile(body: kopf.Body, spec: kopf.Spec, patch: kopf.Patch, memo: Any, retry: int = 0, **_: Any) -> None:
    ctx = context(memo)
    owner = owner_of(body)
    with tracked(ctx, owner.kind, body, patch, retry):
        APPLY[owner.kind](ctx, owner, spec)


def register(registry: kopf.OperatorRegistry, config: OperatorConfig) -> None:
    for kind in api.KINDS:
        for on in (kopf.on.create, kopf.on.update, kopf.on.resume):
            on(api.GROUP, api.VERSION, kind.plural, id="reconcile", registry=registry)(reconcile)
