"""Health rules as pure functions: Deployment rollout -> Ready/TritonReady, validator metrics ->
WeightsHealthy, validators' EMAs of a miner -> ScoreHealthy.

Inputs are plain samples the handlers read from the index of Deployments and from Prometheus;
None means "not known", which always yields Unknown with a reason, never a guess.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ocr_subnet import metric_names as names

from subnet_operator import api
from subnet_operator.conditions import Condition


@dataclass(frozen=True)
class Rollout:
    """A Deployment's spec and status, as the operator's index keeps them."""

    name: str
    replicas: int  # wanted (spec)
    pods: int  # existing, of any template (status)
    updated: int  # existing, of the current template
    ready: int
    available: int

    @classmethod
    def from_body(cls, name: str, spec: Mapping[str, Any], status: Mapping[str, Any]) -> Rollout:
        return cls(
            name=name,
            replicas=spec.get("replicas", 1),
            pods=status.get("replicas", 0),
            updated=status.get("updatedReplicas", 0),
            ready=status.get("readyReplicas", 0),
            available=status.get("availableReplicas", 0),
        )


def rollout_condition(type: str, name: str, rollout: Rollout | None) -> Condition:
    """True once no pod of an older template is left and at least one replica is available.

    Scaling is not a rollout: new pods of the current template keep `updated == pods`, so a Miner stays
    Ready while its Triton servers scale.
    """
    if rollout is None:
        return Condition.of(type, False, "Missing", f"Deployment {name} does not exist yet")
    if rollout.updated < rollout.pods:
        message = f"Deployment {name}: {rollout.updated}/{rollout.pods} pods run the current template"
        return Condition.of(type, False, "RollingOut", message)
    if rollout.available < 1:
        return Condition.of(type, False, "Unavailable", f"Deployment {name}: no replica available yet")
    return Condition.of(
        type, True, "Available", f"Deployment {name}: {rollout.available}/{rollout.replicas} replicas available"
    )


def ready_condition(parts: list[Condition], reconciled: bool, reconcile_error: str | None) -> Condition:
    """Ready: the latest spec is applied and every part is up; the first thing missing is the reason."""
    if reconcile_error:
        return Condition.of(api.READY, False, "ReconcileFailed", reconcile_error)
    if not reconciled:
        return Condition.of(api.READY, False, "Reconciling", "the latest spec is not applied yet")
    for part in parts:
        if part.status != "True":
            return Condition.of(api.READY, False, part.reason, part.message)
    return Condition.of(api.READY, True, "Available", "; ".join(p.message for p in parts))


@dataclass(frozen=True)
class WeightsSample:
    """A validator's own gauges (latest values) and weight-set attempts over the window, by result."""

    hotkey: str | None
    gauges: Mapping[str, float]  # metric name -> value
    attempts: Mapping[str, float] = field(default_factory=dict)


def read_only(read: bool, fields: dict[str, Any]) -> dict[str, Any]:
    """`fields` from a pass that read them; none from one that did not, so status keeps the last ones."""
    return fields if read else {}


@dataclass(frozen=True)
class WeightsReport:
    """`read` is False when this pass could not read the numbers: status keeps the last ones read."""

    condition: Condition
    hotkey: str | None = None
    current_block: int | None = None
    last_set_block: int | None = None
    blocks_since: int | None = None
    block_limit: int | None = None
    failure_rate: float | None = None
    read: bool = True

    def status_fields(self) -> dict[str, Any]:
        """The Validator's status fields; none when unread, so a failed scrape does not blank the last ones."""
        return read_only(
            self.read,
            {
                "hotkey": self.hotkey,
                "currentBlock": self.current_block,
                "lastWeightSetBlock": self.last_set_block,
                "blocksSinceWeightSet": self.blocks_since,
                "weightSetBlockLimit": self.block_limit,
                "weightSetFailureRate": self.failure_rate,
            },
        )


def weights_health(sample: WeightsSample, thresholds: Mapping[str, Any]) -> WeightsReport:
    """WeightsHealthy from blocks since the last successful set against `maxEpochs * tempo + rate limit`
    (the wait a validator that sets once per epoch may see, plus one rate-limited retry), and from the
    share of failed attempts in the window."""
    kind = api.WEIGHTS_HEALTHY
    gauges = sample.gauges
    current = gauges.get(names.VALIDATOR_CURRENT_BLOCK)
    tempo = gauges.get(names.VALIDATOR_TEMPO)
    rate_limit = gauges.get(names.VALIDATOR_WEIGHTS_RATE_LIMIT)
    if current is None or tempo is None or rate_limit is None:
        return WeightsReport(
            Condition.unknown(kind, "NoChainData", "the validator reports no block, tempo or rate limit yet"),
            sample.hotkey,
        )
    limit = math.ceil(thresholds["maxEpochsWithoutWeights"] * tempo + rate_limit)
    total = sum(sample.attempts.values())
    failed = total - sample.attempts.get("success", 0.0)
    failure_rate = failed / total if total > 0 else None
    last = gauges.get(names.VALIDATOR_LAST_WEIGHT_SET_BLOCK)
    since = int(current - last) if last is not None else None
    report = {
        "hotkey": sample.hotkey,
        "current_block": int(current),
        "last_set_block": int(last) if last is not None else None,
        "blocks_since": since,
        "block_limit": limit,
        "failure_rate": failure_rate,
    }
    rate_text = "no attempts" if failure_rate is None else f"{failed:.0f}/{total:.0f} attempts failed"
    window = f"in the last {thresholds['windowSeconds']}s"
    if failure_rate is not None and failure_rate > thresholds["maxFailureRate"]:
        failures = ", ".join(f"{r}={n:.0f}" for r, n in sorted(sample.attempts.items()) if r != "success" and n > 0)
        message = f"{rate_text} {window} ({failures}); limit {thresholds['maxFailureRate']:g}"
        return WeightsReport(Condition.of(kind, False, "WeightSetFailing", message), **report)
    if since is None:
        return WeightsReport(
            Condition.unknown(kind, "NoWeightSetYet", f"no successful weight set yet; {rate_text} {window}"), **report
        )
    if since > limit:
        message = f"{since} blocks since the last weight set, limit {limit}; {rate_text} {window}"
        return WeightsReport(Condition.of(kind, False, "WeightsStale", message), **report)
    message = f"weights set {since} blocks ago, limit {limit}; {rate_text} {window}"
    return WeightsReport(Condition.of(kind, True, "WeightsSet", message), **report)


@dataclass(frozen=True)
class ScoreSample:
    """The validators' view of one miner hotkey, and of every miner for the rank."""

    hotkey: str | None
    uid: int | None = None
    per_validator: Mapping[str, float] = field(default_factory=dict)  # validator hotkey -> EMA
    peaks: Mapping[str, float] = field(default_factory=dict)  # validator hotkey -> highest EMA in the window
    all_means: Mapping[str, float] = field(default_factory=dict)  # miner hotkey -> mean EMA


@dataclass(frozen=True)
class ScoreReport:
    """`read` is False when this pass could not read the numbers: status keeps the last ones read."""

    condition: Condition
    hotkey: str | None = None
    uid: int | None = None
    mean: float | None = None
    rank: int | None = None
    per_validator: Mapping[str, float] = field(default_factory=dict)
    read: bool = True

    def status_fields(self) -> dict[str, Any]:
        """The Miner's score fields; none when unread, so a failed scrape does not blank the last ones."""
        return read_only(
            self.read,
            {
                "hotkey": self.hotkey,
                "uid": self.uid,
                "ema": self.mean,
                "rank": self.rank,
                "validators": [{"hotkey": hotkey, "ema": ema} for hotkey, ema in sorted(self.per_validator.items())],
            },
        )


def score_health(sample: ScoreSample, thresholds: Mapping[str, Any]) -> ScoreReport:
    """ScoreHealthy: False when the mean EMA over validators is below `minEma`, or has fallen more than
    `maxDrop` of the window's peak (the mean of each validator's highest EMA in `dropWindowSeconds`)."""
    kind = api.SCORE_HEALTHY
    if sample.hotkey is None:
        return ScoreReport(
            Condition.unknown(kind, "NoMetrics", "the miner's own metrics (its hotkey) are not in Prometheus"),
            read=False,
        )
    if not sample.per_validator:
        return ScoreReport(
            Condition.unknown(kind, "NotScored", f"no validator reports an EMA for {sample.hotkey} yet"), sample.hotkey
        )
    mean = sum(sample.per_validator.values()) / len(sample.per_validator)
    rank = 1 + sum(1 for hotkey, other in sample.all_means.items() if hotkey != sample.hotkey and other > mean)
    report = {
        "hotkey": sample.hotkey,
        "uid": sample.uid,
        "mean": mean,
        "rank": rank,
        "per_validator": sample.per_validator,
    }
    summary = f"mean EMA {mean:.3f} over {len(sample.per_validator)} validator(s), rank {rank}"
    if mean < thresholds["minEma"]:
        return ScoreReport(
            Condition.of(kind, False, "LowScore", f"{summary}; minimum {thresholds['minEma']:g}"), **report
        )
    peaks = [sample.peaks.get(v, ema) for v, ema in sample.per_validator.items()]
    peak = max(sum(peaks) / len(peaks), mean)
    drop = (peak - mean) / peak if peak > 0 else 0.0
    if drop > thresholds["maxDrop"]:
        message = f"{summary}; fell {drop:.0%} from {peak:.3f} within {thresholds['dropWindowSeconds']}s"
        return ScoreReport(Condition.of(kind, False, "ScoreDropping", message), **report)
    return ScoreReport(Condition.of(kind, True, "Scored", summary), **report)
