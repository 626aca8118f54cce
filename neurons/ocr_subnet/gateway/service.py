"""The gateway's state and its one job: a document in, verified pages out.

Wires the pure rules (`rules`, `canary`, `keys`) to the network (`router`), the chain (metagraph) and
the validator's EMAs (its state file, or its `/metrics` through a `feeds.Feed`). Organic scores go to the
metrics, which the validator can read (`--organic-metrics`), and, when configured, to a file it reads.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path

import bittensor as bt
import httpx

from ocr_subnet.addresses import Network
from ocr_subnet.chain.port import ChainPort, ChainRejected, ChainUnavailable, NeuronInfo
from ocr_subnet.deadlines import DEFAULT_DEADLINE_S
from ocr_subnet.gateway.documents import Document, Limits
from ocr_subnet.gateway.exchange import validator_emas
from ocr_subnet.gateway.feeds import MAX_AGE_S, Feed
from ocr_subnet.gateway.jobs import JobStore
from ocr_subnet.gateway.keys import Access
from ocr_subnet.gateway.metrics import GatewayMetrics
from ocr_subnet.gateway.organic import OrganicScore, OrganicState, save_organic
from ocr_subnet.gateway.output import OcrAnswer, PageAnswer, page_answer
from ocr_subnet.gateway.router import Router, Verdict
from ocr_subnet.gateway.rules import RoutingConfig, organic_emas
from ocr_subnet.logs import log_event
from ocr_subnet.validator.policy import is_queryable
from ocr_subnet.validator.state import load_state

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class GatewayConfig:
    limits: Limits = field(default_factory=Limits)
    routing: RoutingConfig = field(default_factory=RoutingConfig)
    deadline_s: float = DEFAULT_DEADLINE_S  # one miner's time for one page: the validator's, so pages look alike
    difficulty: int = 1  # the validator's level: organic pages go out in its image format
    page_concurrency: int = 4  # pages of one document read at once
    canaries: bool = True
    validator_state: Path | None = None  # the validator's EMAs, for routing
    validator_metrics: str | None = None  # or its /metrics URL, read every metagraph refresh
    validator_metrics_max_age_s: float = MAX_AGE_S  # older EMAs are dropped: miners are then ranked at random
    organic_state: Path | None = None  # where organic scores are written for the validator
    metagraph_refresh_s: float = 10.0
    chain_timeout_s: float = 10.0
    allowed_axon_networks: tuple[Network, ...] = ()
    job_capacity: int = 100
    job_retention_s: float = 3600.0


class NoMiners(Exception):
    pass


class Gateway:
    def __init__(
        self,
        config: GatewayConfig,
        chain: ChainPort,
        wallet: bt.WalletLike,
        access: Access,
        router: Router | None = None,
    ) -> None:
        self.config = config
        self.chain = chain
        self.wallet = wallet
        self.hotkey = wallet.hotkey.ss58_address
        self.access = access
        self.metrics = GatewayMetrics()
        self.jobs = JobStore(config.job_capacity, config.job_retention_s)
        self.miners: list[NeuronInfo] = []
        self.organic: dict[str, float] = {}
        self.organic_pages: dict[str, int] = {}
        self.client = httpx.AsyncClient(
            trust_env=False,
            follow_redirects=False,
            limits=httpx.Limits(max_connections=256, max_keepalive_connections=0),
        )
        self.router = router or Router(
            self.client,
            wallet,
            config.routing,
            config.deadline_s,
            self.record_verdict,
            self.metrics.agreement.observe,
            canaries=config.canaries,
            difficulty=config.difficulty,
        )
        self.tasks: set[asyncio.Task[None]] = set()
        self.ema_feed = (
            Feed(
                "validator_emas (ranking without them while none is fresh)",
                (config.validator_metrics,),
                lambda text: validator_emas(text, self.hotkey),
                max_age_s=config.validator_metrics_max_age_s,
            )
            if config.validator_metrics is not None
            else None
        )
        self.fed_emas: dict[str, float] = {}

    async def refresh(self) -> bool:
        try:
            metagraph = await asyncio.wait_for(asyncio.to_thread(self.chain.metagraph), self.config.chain_timeout_s)
        except (ChainUnavailable, ChainRejected, TimeoutError) as exc:
            log_event(log, "metagraph_failed", logging.WARNING, error=f"{type(exc).__name__}: {exc}")
            return False
        self.miners = [n for n in metagraph.neurons if is_queryable(n, self.hotkey, self.config.allowed_axon_networks)]
        return True

    async def refresh_emas(self) -> None:
        """The validator's EMAs from its /metrics, when that is where they come from."""
        if self.ema_feed is not None:
            readings = await self.ema_feed.refresh()
            self.fed_emas = {hotkey: ema for reading in readings for hotkey, ema in reading.items()}

    async def refresh_forever(self) -> None:
        while True:
            await asyncio.sleep(self.config.metagraph_refresh_s)
            await asyncio.gather(self.refresh(), self.refresh_emas())

    def emas(self) -> dict[str, float]:
        if self.ema_feed is not None:
            return self.fed_emas
        if self.config.validator_state is None:
            return {}
        state, _problem = load_state(self.config.validator_state, netuid=self.chain.netuid, hotkey=self.hotkey)
        return {hotkey: score.ema for hotkey, score in state.scores.items()}

    def record_verdict(self, verdict: Verdict) -> None:
        self.metrics.verifications.labels(verdict.hotkey, "passed" if verdict.passed else "failed").inc()
        self.organic = organic_emas(self.organic, {verdict.hotkey: verdict.reward}, self.config.routing.organic_alpha)
        self.organic_pages[verdict.hotkey] = self.organic_pages.get(verdict.hotkey, 0) + 1
        self.metrics.organic_ema.labels(verdict.hotkey).set(self.organic[verdict.hotkey])
        log_event(
            log,
            "organic_verdict",
            miner_hotkey=verdict.hotkey,
            uid=verdict.uid,
            passed=verdict.passed,
            reward=round(verdict.reward, 4),
            organic_ema=round(self.organic[verdict.hotkey], 4),
        )
        if self.config.organic_state is not None:
            scores = {k: OrganicScore(ema=v, pages=self.organic_pages.get(k, 0)) for k, v in self.organic.items()}
            with suppress(OSError):
                save_organic(self.config.organic_state, OrganicState(scores=scores))

    async def read(
        self, document: Document, key: str, on_page: Callable[[int, PageAnswer], None] | None = None
    ) -> OcrAnswer:
        """Every page, at most `page_concurrency` at once; a page no miner read correctly is returned
        empty with `verified: false`, never silently dropped."""
        if not self.miners:
            await self.refresh()
        if not self.miners:
            raise NoMiners("no miner is reachable right now")
        emas = await asyncio.to_thread(self.emas)
        slots = asyncio.Semaphore(self.config.page_concurrency)
        enqueued = time.perf_counter()

        async def one(index: int) -> PageAnswer:
            async with slots:
                self.metrics.stage.labels("queue").observe(time.perf_counter() - enqueued)
                image = document.pages[index]
                result = await self.router.read_page(image, self.miners, emas)
                self.metrics.stage.labels("miners").observe(result.miners_s)
                self.metrics.stage.labels("verification").observe(result.verification_s)
                chosen = result.miner
                self.metrics.pages.labels(key, "verified" if result.verified else "failed").inc()
                answer = page_answer(
                    index + 1,
                    image,
                    result.sections,
                    chosen.reward if chosen else 0.0,
                    chosen.uid if chosen else None,
                    result.verified,
                )
                if on_page is not None:
                    on_page(index, answer)
                return answer

        pages = await asyncio.gather(*(one(i) for i in range(len(document.pages))))
        return OcrAnswer(pages=list(pages))

    async def close(self) -> None:
        for task in list(self.tasks) + list(self.router.background):
            task.cancel()
        await self.client.aclose()
