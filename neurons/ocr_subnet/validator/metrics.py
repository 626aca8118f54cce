"""The validator's Prometheus series; names come only from `metric_names`.

The operator and the alert rules read these (EMA per miner, weight-setting health), so every
series carries the validator's hotkey and the label sets stay exactly as documented there.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest, start_http_server

from ocr_subnet import metric_names as names
from ocr_subnet.chain.port import Hyperparameters, WeightSetResult
from ocr_subnet.validator.policy import MinerScore
from ocr_subnet.validator.query import QueryResult

LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 12.0, 20.0, 30.0, 60.0)
ROUND_BUCKETS = (0.5, 1.0, 2.0, 4.0, 8.0, 15.0, 30.0, 60.0, 120.0)


class ValidatorMetrics:
    def __init__(self, validator_hotkey: str, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        self.hotkey = validator_hotkey
        vk = ["validator_hotkey"]
        miner = [*vk, "uid", "miner_hotkey"]
        r = self.registry
        self.ema = Gauge(names.VALIDATOR_MINER_EMA, "EMA of each miner's reward", miner, registry=r)
        self.reward_part = Gauge(
            names.VALIDATOR_REWARD_PART, "Each part of a miner's latest reward", [*miner, "part"], registry=r
        )
        self.latency = Histogram(
            names.VALIDATOR_QUERY_LATENCY,
            "Validator-measured time from request to a miner's complete answer",
            vk,
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.responses = Counter(
            names.VALIDATOR_RESPONSES,
            "Miner answers by outcome",
            [*vk, "outcome"],
            registry=r,
        )
        self.rounds = Counter(names.VALIDATOR_ROUNDS, "Challenge rounds completed", vk, registry=r)
        self.round_duration = Histogram(
            names.VALIDATOR_ROUND_DURATION,
            "Challenge generation, concurrent queries and scoring of one round",
            vk,
            buckets=ROUND_BUCKETS,
            registry=r,
        )
        self.weight_sets = Counter(
            names.VALIDATOR_WEIGHT_SET_ATTEMPTS, "Weight-set attempts by result", [*vk, "result"], registry=r
        )
        self.last_weight_block = Gauge(
            names.VALIDATOR_LAST_WEIGHT_SET_BLOCK, "Block of the last successful weight set", vk, registry=r
        )
        self.current_block = Gauge(names.VALIDATOR_CURRENT_BLOCK, "Latest block seen", vk, registry=r)
        self._latest_block: int | None = None
        self.rate_limit = Gauge(
            names.VALIDATOR_WEIGHTS_RATE_LIMIT, "Subnet weights rate limit in blocks", vk, registry=r
        )
        self.tempo = Gauge(names.VALIDATOR_TEMPO, "Subnet tempo in blocks", vk, registry=r)
        self.state_saves = Counter(
            names.VALIDATOR_STATE_SAVES, "State file writes by result", [*vk, "result"], registry=r
        )
        # Every labelled counter starts at zero so `rate()` and absence alerts work from the first scrape.
        for outcome in names.VALIDATOR_RESPONSE_OUTCOMES:
            self.responses.labels(self.hotkey, outcome)
        for result in names.WEIGHT_SET_RESULTS:
            self.weight_sets.labels(self.hotkey, result)
        for result in names.STATE_SAVE_RESULTS:
            self.state_saves.labels(self.hotkey, result)
        self.rounds.labels(self.hotkey)

    def observe_round(self, results: Sequence[QueryResult], duration_s: float) -> None:
        for result in results:
            self.responses.labels(self.hotkey, result.outcome.value).inc()
            if result.status is not None:  # timeouts and refused connections have no latency to speak of
                self.latency.labels(self.hotkey).observe(result.latency_s)
        self.rounds.labels(self.hotkey).inc()
        self.round_duration.labels(self.hotkey).observe(duration_s)

    def set_miners(self, scores: Mapping[str, MinerScore], last_parts: Mapping[str, Mapping[str, float]]) -> None:
        """Rebuild the per-miner series wholesale, so a deregistered miner's series go with it."""
        self.ema.clear()
        self.reward_part.clear()
        for hotkey, score in scores.items():
            self.ema.labels(self.hotkey, str(score.uid), hotkey).set(score.ema)
            for part, value in last_parts.get(hotkey, {}).items():
                self.reward_part.labels(self.hotkey, str(score.uid), hotkey, part).set(value)

    def observe_chain(self, block: int, hyperparameters: Hyperparameters) -> None:
        self._observe_block(block)
        self.rate_limit.labels(self.hotkey).set(hyperparameters.weights_rate_limit)
        self.tempo.labels(self.hotkey).set(hyperparameters.tempo)

    def observe_block(self, block: int) -> None:
        """A block read on its own, between metagraph syncs."""
        self._observe_block(block)

    def observe_weight_set(self, result: WeightSetResult) -> None:
        self.weight_sets.labels(self.hotkey, result.outcome.value).inc()

    def observe_last_weight_block(self, block: int) -> None:
        self.last_weight_block.labels(self.hotkey).set(block)

    def observe_weights_landed(self, block: int) -> None:
        """The inclusion block is newer than the last metagraph sync; the latest block seen moves with it, so
        current minus last never reads negative between a set and the next sync."""
        self.observe_last_weight_block(block)
        if self._latest_block is None or block > self._latest_block:
            self._observe_block(block)

    def _observe_block(self, block: int) -> None:
        self._latest_block = block
        self.current_block.labels(self.hotkey).set(block)

    def observe_state_save(self, ok: bool) -> None:
        self.state_saves.labels(self.hotkey, "success" if ok else "error").inc()

    def render(self) -> bytes:
        return generate_latest(self.registry)

    def serve(self, port: int, host: str = "127.0.0.1") -> int:
        """Expose `/metrics` on a background thread; returns the bound port (useful with port 0)."""
        server, _thread = start_http_server(port, addr=host, registry=self.registry)
        return server.server_address[1]
