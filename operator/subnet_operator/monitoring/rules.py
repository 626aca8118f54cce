"""The subnet's alerting rules, as Prometheus rule groups (also the spec of a PrometheusRule).

Every alert carries a summary, a description with the firing values, and runbook text: what it means,
what to look at first and how to fix it, so whoever is paged does not need another document.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ocr_subnet import metric_names as names

from subnet_operator import crds
from subnet_operator.monitoring import queries as q
from subnet_operator.monitoring import scrape
from subnet_operator.schema import apply_defaults


@dataclass(frozen=True)
class Thresholds:
    """What counts as unhealthy. `from_operator_defaults` takes the operator's health defaults from its CRDs,
    so an alert fires when the operator's condition for the same thing turns False."""

    weights_stale_tempos: float
    weight_failure_rate: float
    weight_failures_window_s: int
    ema_min: float
    ema_drop_fraction: float
    ema_drop_window_s: int
    triton_queue_ms: float
    triton_scale_ms: float
    triton_window_s: int
    reconcile_window_s: int = 600
    gateway_failed_pages: float = 0.1  # share of organic pages without a verified answer
    gateway_p95_s: float = 30.0  # seconds a page may spend with miners (p95)
    gateway_window_s: int = 600

    @classmethod
    def from_operator_defaults(cls, triton_queue_factor: float = 4.0) -> Thresholds:
        """Triton's alert sits `triton_queue_factor` times above the queue time the scaler aims for."""
        weights = apply_defaults(crds.validator_spec(), {})["health"]["weights"]
        score = apply_defaults(crds.miner_spec(), {})["health"]["score"]
        triton = apply_defaults(crds.triton_spec(), {})
        return cls(
            weights_stale_tempos=weights["maxEpochsWithoutWeights"],
            weight_failure_rate=weights["maxFailureRate"],
            weight_failures_window_s=weights["windowSeconds"],
            ema_min=score["minEma"],
            ema_drop_fraction=score["maxDrop"],
            ema_drop_window_s=score["dropWindowSeconds"],
            triton_queue_ms=triton_queue_factor * triton["targetQueueTimeMs"],
            triton_scale_ms=triton["targetQueueTimeMs"] * (1 + triton["tolerance"]),
            # The scaler may look at a minute; an alert that pages someone looks at five at least.
            triton_window_s=max(5 * 60, triton["metricsWindowSeconds"]),
        )


def window(seconds: int) -> str:
    """A PromQL range in its shortest exact unit: 600 -> 10m."""
    for unit, size in (("h", 3600), ("m", 60)):
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


@dataclass(frozen=True)
class Alert:
    name: str
    expr: str
    for_: str
    severity: str
    summary: str
    description: str
    runbook: str

    def rule(self) -> dict[str, Any]:
        return {
            "alert": self.name,
            "expr": self.expr,
            "for": self.for_,
            "labels": {"severity": self.severity},
            "annotations": {"summary": self.summary, "description": self.description, "runbook": self.runbook},
        }


def validator_alerts(t: Thresholds) -> list[Alert]:
    failures = window(t.weight_failures_window_s)
    ema_window = window(t.ema_drop_window_s)
    peak = q.miner_ema_peak(ema_window)
    return [
        Alert(
            name="OcrSubnetWeightsNotSet",
            expr=f"({q.blocks_since_weight_set()}) > ({q.weight_set_block_limit(t.weights_stale_tempos)})",
            for_="5m",
            severity="critical",
            summary="Validator {{ $labels.validator_hotkey }} has not set weights for {{ $value }} blocks",
            description=(
                f"Blocks since the last successful weight set exceed {t.weights_stale_tempos:g} tempos plus the "
                "weights rate limit (namespace {{ $labels.namespace }})."
            ),
            runbook=(
                "Weights that are not refreshed decay the validator's vtrust and dividends. "
                "1) `kubectl get validators -n {{ $labels.namespace }}`: the WeightsHealthy condition says why. "
                "2) The dashboard's weight-set attempts by result: chain_error means the chain endpoint is "
                "unreachable or slow (check spec.chain, DNS, network policies); rejected means the hotkey lacks "
                "a registration, permit or stake, or the version key is too old (upgrade the image). "
                "3) No attempts at all: the validator is stuck; `kubectl logs` it, then delete its pod."
            ),
        ),
        Alert(
            name="OcrSubnetWeightSetFailing",
            expr=f"({q.weight_set_failure_rate(failures)}) > {t.weight_failure_rate:g}",
            for_="10m",
            severity="warning",
            summary="Validator {{ $labels.validator_hotkey }}: {{ $value | humanizePercentage }} of weight sets fail",
            description=f"More than {t.weight_failure_rate:.0%} of weight-set attempts failed over {failures}.",
            runbook=(
                "The validator tries to set weights and the chain refuses or cannot be reached. "
                "The dashboard's weight-set attempts by result tell which: chain_error points at the endpoint "
                "(spec.chain, DNS, network policies), rejected at registration, permit or version key, "
                "rate_limited at a validator setting weights more often than the subnet allows. "
                "OcrSubnetWeightsNotSet follows if no attempt succeeds."
            ),
        ),
        Alert(
            name="OcrSubnetMinerEmaDropped",
            expr=(f"({q.miner_ema()}) < {1 - t.ema_drop_fraction:g} * ({peak}) and ({peak}) > {t.ema_min:g}"),
            for_="5m",
            severity="warning",
            summary="Miner uid {{ $labels.uid }} lost EMA score (validator {{ $labels.validator_hotkey }})",
            description=(
                f"The EMA fell by more than {t.ema_drop_fraction:.0%} of its {ema_window} peak; now {{{{ $value }}}}."
            ),
            runbook=(
                "Validators score this miner much lower than they did recently, and its incentive will follow. "
                "1) Dashboard 'Rewards by part': a drop in time points at latency (Triton queue, CPU limits); "
                "in text, position or font at the model or its preprocessing. "
                "2) 'Miner outcomes': overloaded, backend_error or timeouts score zero. "
                "3) `kubectl describe miner` for TritonReady, ScoreHealthy and recent scaling Events. "
                "4) A new image just rolled out? Roll spec.image back."
            ),
        ),
    ]


def target_alerts() -> list[Alert]:
    jobs = "|".join(scrape.NEURON_JOBS)
    return [
        Alert(
            name="OcrSubnetTargetDown",
            expr=f'up{{job=~"{jobs}"}} == 0',
            for_="5m",
            severity="critical",
            summary="{{ $labels.job }} {{ $labels.resource }} in {{ $labels.namespace }} does not answer scrapes",
            description="Prometheus cannot scrape {{ $labels.instance }} ({{ $labels.pod }}).",
            runbook=(
                "A validator or miner pod is not serving /metrics: it crashed, hangs or is not ready. "
                "1) `kubectl get pods -n {{ $labels.namespace }} -l app.kubernetes.io/instance={{ $labels.resource }}`."
                " "
                "2) `kubectl logs --previous` for a crash; `kubectl describe pod` for probes and OOMKilled. "
                "3) A miner that cannot reach the chain or its Triton fails its startup probe: check the "
                "Miner's status conditions."
            ),
        ),
        Alert(
            name="OcrSubnetOperatorDown",
            expr=f'absent(up{{job="{scrape.OPERATOR_JOB}"}} == 1)',
            for_="10m",
            severity="critical",
            summary="The ocr-subnet operator is not running",
            description="No operator target has been scraped successfully.",
            runbook=(
                "Without the operator nothing reconciles, scales Triton or reports health. "
                "`kubectl get deploy,pods -l app.kubernetes.io/component=operator -A`, then the pod's logs. "
                "A crash at start usually means missing RBAC (helm upgrade the chart) or missing CRDs "
                "(`kubectl apply -f charts/subnet/crds/`)."
            ),
        ),
    ]


def triton_alerts(t: Thresholds) -> list[Alert]:
    by = f"namespace, {scrape.RESOURCE_LABEL}"
    triton_window = window(t.triton_window_s)
    return [
        Alert(
            name="OcrSubnetTritonQueueTimeHigh",
            expr=f"({q.triton_queue_ms(by, triton_window)}) > {t.triton_queue_ms:g}",
            for_="10m",
            severity="warning",
            summary="Triton of miner {{ $labels.resource }} queues requests for {{ $value | humanize }} ms",
            description=f"Mean queue time per request over {triton_window} is above {t.triton_queue_ms:g} ms.",
            runbook=(
                "Requests wait for a model instance, which adds to every answer's latency and costs the "
                "time reward. The operator scales Triton replicas on this signal: check the Miner's status "
                "(`kubectl describe miner {{ $labels.resource }}`) for the scaling decision and its reason. "
                "If replicas are at spec.triton.maxReplicas, raise it or add GPUs; if pods are Pending, the "
                "cluster lacks GPUs."
            ),
        ),
        Alert(
            name="OcrSubnetTritonAtMaxReplicas",
            expr=q.triton_saturated(scrape.RESOURCE_LABEL, t.triton_scale_ms, triton_window, "30m"),
            for_="15m",
            severity="warning",
            summary="Triton of miner {{ $labels.resource }} needs more replicas than it may have",
            description=(
                f"Queue time stays above the scaler's default target ({t.triton_scale_ms:g} ms) and the operator "
                "has added no replica for 30m: it is clamped at spec.triton.maxReplicas."
            ),
            runbook=(
                "The scaler would add Triton replicas but the Miner's maximum stops it, so queue time grows "
                "with load. `kubectl describe miner {{ $labels.resource }}`: status.scaling shows the desired "
                "replicas and the reason. Raise spec.triton.maxReplicas if the cluster has GPUs to spare, or "
                "lower spec.neuron.maxConcurrency so the miner sheds load with `overloaded` instead of timing "
                "out. A reason of MetricsUnavailable instead means the operator cannot read Prometheus: "
                "check the chart's operator.prometheusUrl."
            ),
        ),
    ]


def gateway_alerts(t: Thresholds) -> list[Alert]:
    gateway_window = window(t.gateway_window_s)
    latency = q.histogram_quantile(0.95, names.GATEWAY_STAGE_LATENCY, "namespace", gateway_window, 'stage="miners"')
    return [
        Alert(
            name="OcrSubnetGatewayPagesFailing",
            expr=f"({q.gateway_failed_page_ratio(gateway_window)}) > {t.gateway_failed_pages:g}",
            for_="10m",
            severity="warning",
            summary="Gateway in {{ $labels.namespace }}: {{ $value | humanizePercentage }} of pages unverified",
            description=(
                f"Over {gateway_window} more than {t.gateway_failed_pages:.0%} of organic pages got no answer that "
                "passed its canary."
            ),
            runbook=(
                "Users get pages flagged `verified: false` (or empty). Either the miners read badly or are "
                "unreachable, or they fingerprint organic pages. 1) The dashboard's Gateway row: verification "
                "pass rate per miner; one miner at zero while others pass is a cheat or a broken miner, and the "
                "organic weight takes its EMA down. 2) Every miner failing: check their reachability from the "
                "gateway (`kubectl logs deploy/<validator>-gateway`, events organic_verdict) and the Miners' "
                "status. 3) Raise `--attempts` so more miners are tried per page."
            ),
        ),
        Alert(
            name="OcrSubnetGatewaySlow",
            expr=f"({latency}) > {t.gateway_p95_s:g}",
            for_="10m",
            severity="warning",
            summary="Gateway pages in {{ $labels.namespace }} wait {{ $value | humanize }}s for miners (p95)",
            description=f"The p95 time a page spends with miners over {gateway_window} is above {t.gateway_p95_s:g}s.",
            runbook=(
                "Users wait for miners: they are overloaded or slow, or pages fall back to a third miner "
                "after failing verification. Check the miners' latency and outcomes on the dashboard, the "
                "gateway's per-document concurrency (`--page-concurrency`) against the miners' capacity, and "
                "scale miners (or their Triton) rather than the gateway."
            ),
        ),
    ]


def operator_alerts(t: Thresholds) -> list[Alert]:
    return [
        Alert(
            name="OcrSubnetOperatorReconcileErrors",
            expr=f"({q.operator_reconcile_errors(window(t.reconcile_window_s))}) > 0",
            for_="15m",
            severity="warning",
            summary="The operator fails to reconcile {{ $labels.kind }} resources",
            description=f"Reconciles ended in errors over the last {window(t.reconcile_window_s)}.",
            runbook=(
                "Some Validator or Miner does not converge. `kubectl get validators,miners -A`: "
                "resources in phase Failed or Degraded name the problem in their Ready condition, and "
                "`kubectl get events --field-selector involvedObject.kind={{ $labels.kind }}` shows each "
                "failure. Forbidden errors mean the chart's RBAC is older than the operator: helm upgrade."
            ),
        ),
    ]


def rule_groups(thresholds: Thresholds | None = None) -> dict[str, Any]:
    """The rules file / PrometheusRule spec: one group per part of the subnet."""
    t = thresholds or Thresholds.from_operator_defaults()
    groups = {
        "ocr-subnet.validator": validator_alerts(t),
        "ocr-subnet.targets": target_alerts(),
        "ocr-subnet.triton": triton_alerts(t),
        "ocr-subnet.operator": operator_alerts(t),
        "ocr-subnet.gateway": gateway_alerts(t),
    }
    return {"groups": [{"name": name, "rules": [a.rule() for a in alerts]} for name, alerts in groups.items()]}


def alert_names(thresholds: Thresholds | None = None) -> list[str]:
    return [rule["alert"] for group in rule_groups(thresholds)["groups"] for rule in group["rules"]]
