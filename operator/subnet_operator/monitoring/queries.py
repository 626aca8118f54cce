"""PromQL shared by the alert rules and the dashboard, so a panel shows exactly what an alert fires on.

Every function takes label matchers (the dashboard narrows by namespace; alerts see everything) and
returns an expression built only from `metric_names` constants.
"""

from __future__ import annotations

from ocr_subnet import metric_names as names

VALIDATOR_KEYS = "namespace, validator_hotkey"
MINER_KEYS = "namespace, validator_hotkey, uid, miner_hotkey"


def series(name: str, matchers: str = "") -> str:
    """`name{matchers}`, or the bare name when there is nothing to match."""
    return f"{name}{{{matchers}}}" if matchers else name


def and_matchers(*matchers: str) -> str:
    return ", ".join(m for m in matchers if m)


def histogram_quantile(quantile: float, histogram: str, by: str, window: str, matchers: str = "") -> str:
    """A quantile of a prometheus_client histogram, whose buckets are exposed as `<name>_bucket`."""
    buckets = series(histogram + "_bucket", matchers)
    return f"histogram_quantile({quantile}, sum by ({by}, le) (rate({buckets}[{window}])))"


def blocks_since_weight_set(matchers: str = "") -> str:
    """Blocks since a validator's last successful weight set, as the validator itself reports them."""
    current = series(names.VALIDATOR_CURRENT_BLOCK, matchers)
    last = series(names.VALIDATOR_LAST_WEIGHT_SET_BLOCK, matchers)
    return f"max by ({VALIDATOR_KEYS}) ({current}) - max by ({VALIDATOR_KEYS}) ({last})"


def weight_set_block_limit(stale_tempos: float, matchers: str = "") -> str:
    """How many blocks may pass without weights: a few epochs plus the rate limit a retry must wait."""
    tempo = series(names.VALIDATOR_TEMPO, matchers)
    rate_limit = series(names.VALIDATOR_WEIGHTS_RATE_LIMIT, matchers)
    return f"max by ({VALIDATOR_KEYS}) ({stale_tempos} * {tempo} + {rate_limit})"


def weight_set_attempts(window: str, matchers: str = "") -> str:
    attempts = series(names.VALIDATOR_WEIGHT_SET_ATTEMPTS, matchers)
    return f"sum by ({VALIDATOR_KEYS}, result) (increase({attempts}[{window}]))"


def weight_set_failure_rate(window: str, matchers: str = "") -> str:
    """Share of weight-set attempts over `window` that did not succeed (NaN, so never firing, without attempts)."""
    failed = series(names.VALIDATOR_WEIGHT_SET_ATTEMPTS, and_matchers('result!="success"', matchers))
    every = series(names.VALIDATOR_WEIGHT_SET_ATTEMPTS, matchers)
    return (
        f"sum by ({VALIDATOR_KEYS}) (increase({failed}[{window}]))"
        f" / sum by ({VALIDATOR_KEYS}) (increase({every}[{window}]))"
    )


def miner_ema(matchers: str = "") -> str:
    return f"max by ({MINER_KEYS}) ({series(names.VALIDATOR_MINER_EMA, matchers)})"


def miner_ema_peak(window: str, matchers: str = "") -> str:
    """The highest EMA each validator gave each miner over `window`: the reference a drop is measured from."""
    return f"max by ({MINER_KEYS}) (max_over_time({series(names.VALIDATOR_MINER_EMA, matchers)}[{window}]))"


def reward_part(part: str, matchers: str = "") -> str:
    """One part of each miner's latest reward (`metric_names.REWARD_PARTS`), averaged over validators."""
    selected = series(names.VALIDATOR_REWARD_PART, and_matchers(f'part="{part}"', matchers))
    return f"avg by (namespace, miner_hotkey, part) ({selected})"


def validator_responses(window: str, matchers: str = "") -> str:
    responses = series(names.VALIDATOR_RESPONSES, matchers)
    return f"sum by ({VALIDATOR_KEYS}, outcome) (rate({responses}[{window}]))"


def miner_requests(window: str, matchers: str = "") -> str:
    requests = series(names.MINER_REQUESTS, matchers)
    return f"sum by (namespace, miner_hotkey, outcome) (rate({requests}[{window}]))"


def triton_per_request_ms(duration_us: str, by: str, window: str, matchers: str = "") -> str:
    """Mean milliseconds per successful request of a cumulative Triton microsecond counter."""
    total = series(duration_us, matchers)
    success = series(names.TRITON_REQUEST_SUCCESS, matchers)
    return f"sum by ({by}) (rate({total}[{window}])) / sum by ({by}) (rate({success}[{window}])) / 1000"


def triton_queue_ms(by: str, window: str, matchers: str = "") -> str:
    return triton_per_request_ms(names.TRITON_QUEUE_DURATION_US, by, window, matchers)


def triton_compute_ms(by: str, window: str, matchers: str = "") -> str:
    return triton_per_request_ms(names.TRITON_COMPUTE_INFER_DURATION_US, by, window, matchers)


def operator_reconciles(window: str, matchers: str = "") -> str:
    reconciles = series(names.OPERATOR_RECONCILES, matchers)
    return f"sum by (kind, result) (rate({reconciles}[{window}]))"


def operator_scaling_decisions(window: str) -> str:
    return f"sum by (direction) (rate({names.OPERATOR_SCALING_DECISIONS}[{window}]))"


def operator_reconcile_errors(window: str, matchers: str = "") -> str:
    """Reconciles that did not succeed: `retry` (the API refused or was away) and `invalid` (a refused spec)."""
    failed = series(names.OPERATOR_RECONCILES, and_matchers('result!="success"', matchers))
    return f"sum by (kind, result) (increase({failed}[{window}]))"


def operator_health(matchers: str = "") -> str:
    """Each resource's conditions as the operator evaluates them: 1 True, 0 False, -1 Unknown."""
    return f"max by (kind, namespace, name, condition) ({series(names.OPERATOR_HEALTH, matchers)})"


def triton_replicas(matchers: str = "") -> str:
    """Triton replicas the operator's scaler set, per Miner (`name`)."""
    return f"max by (namespace, name) ({series(names.OPERATOR_TRITON_REPLICAS, matchers)})"


def triton_saturated(resource_label: str, queue_ms: float, window: str, hold_window: str) -> str:
    """Miners whose Triton queue time stays above `queue_ms` while the scaler has not added a replica for
    `hold_window`: the scaler is clamped at spec.triton.maxReplicas (its scale-up is otherwise immediate).

    The operator labels its gauge with the Miner's `name`; the scrape labels Triton's series with
    `resource_label`; `label_replace` joins the two.
    """
    by = f"namespace, {resource_label}"
    held = f"changes({names.OPERATOR_TRITON_REPLICAS}[{hold_window}]) == 0"
    return (
        f"({triton_queue_ms(by, window)}) > {queue_ms:g}"
        f' and on ({by}) label_replace({held}, "{resource_label}", "$1", "name", "(.*)")'
    )


def targets_up(job: str, by: str, matchers: str = "") -> str:
    """How many of a job's targets Prometheus scrapes successfully, per `by` (absent when none)."""
    up = series("up", and_matchers(f'job="{job}"', matchers))
    return f"count by ({by}) ({up} == 1)"


def gateway_requests(window: str, matchers: str = "") -> str:
    requests = series(names.GATEWAY_REQUESTS, matchers)
    return f"sum by (namespace, key, outcome) (rate({requests}[{window}]))"


def gateway_failed_page_ratio(window: str, matchers: str = "") -> str:
    """Share of organic pages no miner's answer passed verification for."""
    failed = series(names.GATEWAY_PAGES, and_matchers(matchers, 'outcome="failed"'))
    pages = series(names.GATEWAY_PAGES, matchers)
    return f"sum by (namespace) (rate({failed}[{window}])) / sum by (namespace) (rate({pages}[{window}]))"


def gateway_pass_rate(window: str, matchers: str = "") -> str:
    """Share of each miner's organic answers that passed their canary."""
    passed = series(names.GATEWAY_VERIFICATIONS, and_matchers(matchers, 'result="passed"'))
    every = series(names.GATEWAY_VERIFICATIONS, matchers)
    return (
        f"sum by (namespace, miner_hotkey) (rate({passed}[{window}]))"
        f" / sum by (namespace, miner_hotkey) (rate({every}[{window}]))"
    )
