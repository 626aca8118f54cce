"""The miner's Prometheus series, on a registry of its own so several miners can share a process."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from ocr_subnet import metric_names
from ocr_subnet.miner.gate import PriorityGate
from ocr_subnet.miner.policy import Outcome

# OCR of one page takes a few tenths of a second on CPU; validators give up after ~12 s.
LATENCY_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 30.0)


class MinerMetrics:
    def __init__(self, hotkey: str, backend: str, gate: PriorityGate) -> None:
        self.registry = CollectorRegistry()
        self._requests = Counter(
            metric_names.MINER_REQUESTS,
            "OCR requests answered, by outcome.",
            ["miner_hotkey", "outcome"],
            registry=self.registry,
        )
        for outcome in Outcome:  # every series exists from the start, so rates never miss a first hit
            self._requests.labels(hotkey, outcome.value)
        self._request_latency = Histogram(
            metric_names.MINER_REQUEST_LATENCY,
            "Time from request arrival to answer, all outcomes.",
            ["miner_hotkey"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        ).labels(hotkey)
        self._backend_latency = Histogram(
            metric_names.MINER_BACKEND_LATENCY,
            "Time the OCR backend spent on one image, until it returned or failed.",
            ["miner_hotkey", "backend"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        ).labels(hotkey, backend)
        Gauge(
            metric_names.MINER_IN_FLIGHT,
            "Backend slots in use, including work abandoned after its deadline that still runs.",
            ["miner_hotkey"],
            registry=self.registry,
        ).labels(hotkey).set_function(lambda: gate.in_use)
        Gauge(
            metric_names.MINER_QUEUED,
            "Requests waiting for a backend slot.",
            ["miner_hotkey"],
            registry=self.registry,
        ).labels(hotkey).set_function(lambda: gate.waiting)
        self._hotkey = hotkey

    def request_done(self, outcome: Outcome, seconds: float) -> None:
        self._requests.labels(self._hotkey, outcome.value).inc()
        self._request_latency.observe(seconds)

    def backend_done(self, seconds: float) -> None:
        self._backend_latency.observe(seconds)

    def exposition(self) -> bytes:
        return generate_latest(self.registry)
