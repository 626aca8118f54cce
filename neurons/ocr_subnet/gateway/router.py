"""Sends one organic page (with its canary) to miners: hedged, verified, with fallback.

The first `hedge` miners are asked at once; the first answer whose canary passes is the user's. A
failed answer starts the next miner in the ranked list, up to `attempts`. When no answer passed, the page
goes out again under a fresh canary (up to `canary_rounds` in all): honest miners that read alike fail a
hard band together, and miners busy with a burst (every query timed out or was refused) are free again a
moment later; neither must lose the user's page. Answers that arrive after the winner are still verified
(organic EMA) and compared with it (agreement), off the user's path.
"""

from __future__ import annotations

import asyncio
import random
import secrets
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

import bittensor as bt
import httpx
from PIL import Image

from ocr_subnet.chain.port import NeuronInfo
from ocr_subnet.gateway.canary import Canary, encode_like_challenge, make_canary, split_answer, stitch
from ocr_subnet.gateway.rules import RoutingConfig, agreement, canary_reward, passes, rank_miners
from ocr_subnet.protocol import OcrRequest, encode_image
from ocr_subnet.sections import Section
from ocr_subnet.validator.query import Outcome, QueryResult, query_miner

# (client, wallet, miner, body, deadline_s) -> result; `query_miner` in production
Ask = Callable[[httpx.AsyncClient, bt.WalletLike, NeuronInfo, bytes, float], Awaitable[QueryResult]]


@dataclass(frozen=True)
class Verdict:
    hotkey: str
    uid: int
    reward: float  # the canary's total reward, 0 for a failed query
    passed: bool
    latency_s: float
    user_sections: tuple[Section, ...]
    answered: bool = True  # False: the query itself failed (timeout, error, invalid answer)


@dataclass(frozen=True)
class PageResult:
    sections: tuple[Section, ...]
    miner: Verdict | None  # the winner; when none passed, the best-scoring answer (None: no answer at all)
    verified: bool
    verdicts: tuple[Verdict, ...]  # every answer verified on the user's path
    miners_s: float
    verification_s: float


class Router:
    def __init__(
        self,
        client: httpx.AsyncClient,
        wallet: bt.WalletLike,
        config: RoutingConfig,
        deadline_s: float,
        on_verdict: Callable[[Verdict], None],
        on_agreement: Callable[[float], None],
        ask: Ask = query_miner,
        canaries: bool = True,
        difficulty: int = 1,
        rng: random.Random | None = None,
    ) -> None:
        self.client = client
        self.wallet = wallet
        self.config = config
        self.deadline_s = deadline_s
        self.on_verdict = on_verdict
        self.on_agreement = on_agreement
        self.ask = ask
        self.canaries = canaries
        self.difficulty = difficulty
        self.rng = rng or random.SystemRandom()
        self.background: set[asyncio.Task[None]] = set()

    def prepare(self, page: Image.Image) -> tuple[Canary | None, bytes]:
        """CPU work for one page (canary drawing, stitching, encoding): run it in a thread."""
        canary = make_canary(self.rng.getrandbits(63), page.width) if self.canaries else None
        image = stitch(canary, page) if canary is not None else page
        request = OcrRequest(
            image=encode_image(encode_like_challenge(image, self.difficulty)),
            challenge_id=secrets.token_hex(8),
            deadline_s=self.deadline_s,
        )
        return canary, request.model_dump_json().encode()

    def verify(self, canary: Canary | None, result: QueryResult) -> Verdict:
        if result.outcome != Outcome.OK:
            return Verdict(result.hotkey, result.uid, 0.0, False, result.latency_s, (), answered=False)
        if canary is None:
            return Verdict(result.hotkey, result.uid, 1.0, True, result.latency_s, result.sections)
        band, user = split_answer(canary, result.sections)
        reward = canary_reward(canary.sections, band, result.latency_s, self.deadline_s)
        return Verdict(
            result.hotkey, result.uid, reward.total, passes(reward, self.config), result.latency_s, tuple(user)
        )

    async def read_page(self, page: Image.Image, miners: Sequence[NeuronInfo], emas: dict[str, float]) -> PageResult:
        started = time.perf_counter()
        verdicts: list[Verdict] = []
        verifying = preparing = 0.0
        winner: Verdict | None = None
        last_round = 0
        for round_ in range(max(1, self.config.canary_rounds)):
            if round_ and not any(v.answered for v in verdicts[last_round:]):
                await asyncio.sleep(self.config.busy_backoff_s)  # every miner busy or down: let the burst drain
            last_round = len(verdicts)
            mark = time.perf_counter()
            canary, body = await asyncio.to_thread(self.prepare, page)
            preparing += time.perf_counter() - mark
            winner, spent = await self._one_canary(canary, body, miners, emas, verdicts)
            verifying += spent
            if winner is not None:
                break
        miners_s = time.perf_counter() - started - verifying - preparing
        chosen = winner or max((v for v in verdicts if v.answered), key=lambda v: v.reward, default=None)
        sections = chosen.user_sections if chosen else ()
        return PageResult(sections, chosen, winner is not None, tuple(verdicts), miners_s, verifying)

    async def _one_canary(
        self,
        canary: Canary | None,
        body: bytes,
        miners: Sequence[NeuronInfo],
        emas: dict[str, float],
        verdicts: list[Verdict],
    ) -> tuple[Verdict | None, float]:
        """The page's request under one canary, hedged with fallback; appends every verdict on the user's path and
        returns (the winner or None, seconds spent verifying)."""
        ranked = rank_miners(miners, emas, self.config, self.rng)[: self.config.attempts]
        pending: dict[asyncio.Task[QueryResult], NeuronInfo] = {}
        queue = list(ranked)
        verifying = 0.0

        def launch() -> None:
            miner = queue.pop(0)
            task = asyncio.ensure_future(self.ask(self.client, self.wallet, miner, body, self.deadline_s))
            pending[task] = miner

        for _ in range(min(self.config.hedge, len(queue))):
            launch()
        winner: Verdict | None = None
        while pending and winner is None:
            done, _ = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                pending.pop(task)
                mark = time.perf_counter()
                verdict = await asyncio.to_thread(self.verify, canary, task.result())
                verifying += time.perf_counter() - mark
                verdicts.append(verdict)
                self.on_verdict(verdict)
                if verdict.passed and winner is None:
                    winner = verdict
                elif not verdict.passed and queue:
                    launch()  # fallback: the next miner in the ranking
        if pending and winner is not None:
            self._follow(canary, list(pending), winner)
        return winner, verifying

    def _follow(self, canary: Canary | None, tasks: list[asyncio.Task[QueryResult]], winner: Verdict) -> None:
        """Late answers still count: their canary feeds the organic EMA, their text the agreement."""

        async def follow() -> None:
            for task in asyncio.as_completed(tasks):
                verdict = await asyncio.to_thread(self.verify, canary, await task)
                self.on_verdict(verdict)
                if verdict.passed:
                    self.on_agreement(await asyncio.to_thread(agreement, winner.user_sections, verdict.user_sections))

        job = asyncio.ensure_future(follow())
        self.background.add(job)
        job.add_done_callback(self.background.discard)
