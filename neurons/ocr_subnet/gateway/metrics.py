"""The gateway's Prometheus series; names come only from `metric_names`."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from ocr_subnet import metric_names as names

STAGE_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 15.0, 30.0, 60.0)


class GatewayMetrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        r = self.registry
        self.requests = Counter(
            names.GATEWAY_REQUESTS, "Organic requests by API key and outcome", ["key", "outcome"], registry=r
        )
        self.pages = Counter(
            names.GATEWAY_PAGES, "Organic pages by API key and outcome", ["key", "outcome"], registry=r
        )
        self.stage = Histogram(
            names.GATEWAY_STAGE_LATENCY, "Seconds per page in each stage", ["stage"], buckets=STAGE_BUCKETS, registry=r
        )
        self.verifications = Counter(
            names.GATEWAY_VERIFICATIONS, "Canary verifications per miner", ["miner_hotkey", "result"], registry=r
        )
        self.agreement = Histogram(
            names.GATEWAY_AGREEMENT,
            "Agreement of two miners reading the same organic page",
            buckets=(0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 1.0),
            registry=r,
        )
        self.organic_ema = Gauge(names.GATEWAY_ORGANIC_EMA, "Organic EMA of each miner", ["miner_hotkey"], registry=r)
        self.jobs = Gauge(names.GATEWAY_JOBS, "Asynchronous jobs held in the store", registry=r)

    def exposition(self) -> bytes:
        return generate_latest(self.registry)
