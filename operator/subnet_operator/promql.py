"""The PromQL the operator asks, and the parsing of the answers into the samples its pure rules take.

A resource's pods are found by the `namespace` and `pod` labels every Kubernetes scrape config
attaches (kubernetes_sd relabeling, ServiceMonitor/PodMonitor): pod names are `<deployment>-<hash>-<id>`.
Several expressions go out as one query, each tagged with a `q` label, to keep requests per tick low.
Expressions shared with the alerts and the dashboard come from `subnet_operator.monitoring.queries`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from ocr_subnet import metric_names as names

from subnet_operator.health import ScoreSample, WeightsSample
from subnet_operator.monitoring import queries
from subnet_operator.prometheus import Sample
from subnet_operator.scaling import Observation

TAG = "q"
VALIDATOR_GAUGES = (
    names.VALIDATOR_CURRENT_BLOCK,
    names.VALIDATOR_LAST_WEIGHT_SET_BLOCK,
    names.VALIDATOR_TEMPO,
    names.VALIDATOR_WEIGHTS_RATE_LIMIT,
)


def pods_of(namespace: str, deployment: str) -> str:
    """Matchers for the pods of one Deployment (names are DNS labels: nothing to escape)."""
    return f'namespace="{namespace}", pod=~"{deployment}-[a-z0-9]+-[a-z0-9]+"'


def tagged(expressions: Mapping[str, str]) -> str:
    """One query answering several expressions; each answer carries `q="<key>"`."""
    return " or ".join(f'label_replace({expr}, "{TAG}", "{key}", "", "")' for key, expr in expressions.items())


def by_tag(samples: Sequence[Sample]) -> dict[str, list[Sample]]:
    grouped: dict[str, list[Sample]] = {}
    for sample in samples:
        grouped.setdefault(sample.labels.get(TAG, ""), []).append(sample)
    return grouped


def triton_query(matchers: str, window_s: int) -> str:
    window = f"{window_s}s"
    return tagged(
        {
            "requests": f"sum(rate({queries.series(names.TRITON_REQUEST_SUCCESS, matchers)}[{window}]))",
            "queue": f"sum(rate({queries.series(names.TRITON_QUEUE_DURATION_US, matchers)}[{window}]))",
            "pending": f"sum({queries.series(names.TRITON_PENDING_REQUEST_COUNT, matchers)})",
        }
    )


def triton_queue_ms(matchers: str, window_s: int) -> str:
    """Mean queue milliseconds per request, as one number: what an HPA (through prometheus-adapter) or a KEDA
    ScaledObject scales on in external mode. The operator's own scaler asks `triton_query` for its two
    rates instead, and divides them the same way (`Observation.queue_ms`), to tell idle from stalled."""
    return queries.triton_queue_ms("namespace", f"{window_s}s", matchers)


def triton_observation(samples: Sequence[Sample]) -> Observation | None:
    """None unless both rates are there: a Triton pod scraped fewer than twice in the window says nothing yet."""
    grouped = by_tag(samples)
    if "requests" not in grouped or "queue" not in grouped:
        return None
    pending = grouped.get("pending", [])
    return Observation(
        requests_per_s=grouped["requests"][0].value,
        queue_us_per_s=grouped["queue"][0].value,
        pending=pending[0].value if pending else 0.0,
    )


def validator_query(matchers: str, window_s: int) -> str:
    gauges = {name: f"max by (validator_hotkey) ({queries.series(name, matchers)})" for name in VALIDATOR_GAUGES}
    return tagged({**gauges, "attempts": queries.weight_set_attempts(f"{window_s}s", matchers)})


def weights_sample(samples: Sequence[Sample]) -> WeightsSample | None:
    """None when the validator's pods have no series at all."""
    if not samples:
        return None
    grouped = by_tag(samples)
    gauges = {name: grouped[name][0].value for name in VALIDATOR_GAUGES if name in grouped}
    attempts: dict[str, float] = {}
    for sample in grouped.get("attempts", []):
        result = sample.labels.get("result", "")
        attempts[result] = attempts.get(result, 0.0) + sample.value
    hotkey = next((s.labels["validator_hotkey"] for s in samples if "validator_hotkey" in s.labels), None)
    return WeightsSample(hotkey, gauges, attempts)


def miner_hotkey_query(matchers: str) -> str:
    return f"max by (miner_hotkey) ({queries.series(names.MINER_IN_FLIGHT, matchers)})"


def miner_hotkey(samples: Sequence[Sample]) -> str | None:
    return next((s.labels["miner_hotkey"] for s in samples if s.labels.get("miner_hotkey")), None)


def score_query(hotkey: str, window_s: int) -> str:
    """This miner's EMA from each validator, each validator's peak in the window, and every miner's mean."""
    own = f'miner_hotkey="{hotkey}"'
    return tagged(
        {
            "ema": queries.miner_ema(own),
            "peak": queries.miner_ema_peak(f"{window_s}s", own),
            "mean": f"avg by (miner_hotkey) ({queries.series(names.VALIDATOR_MINER_EMA)})",
        }
    )


def score_sample(hotkey: str, samples: Sequence[Sample]) -> ScoreSample:
    grouped = by_tag(samples)
    emas = grouped.get("ema", [])
    uid = next((int(s.labels["uid"]) for s in emas if s.labels.get("uid", "").isdigit()), None)
    return ScoreSample(
        hotkey=hotkey,
        uid=uid,
        per_validator={s.labels["validator_hotkey"]: s.value for s in emas},
        peaks={s.labels["validator_hotkey"]: s.value for s in grouped.get("peak", [])},
        all_means={s.labels["miner_hotkey"]: s.value for s in grouped.get("mean", [])},
    )
