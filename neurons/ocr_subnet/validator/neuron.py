"""The validator loop: sync, challenge, score, remember, set weights; survive everything.

Decisions live in `policy`, persistence in `state`, the network in `query`; this module wires
them to a chain port, a clock and a challenge source. The chain is treated as unreliable: every
chain call runs off the event loop with a timeout, and while the chain is away the validator
keeps querying known miners, scoring and saving, and retries the chain later with backoff.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import secrets
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import pairwise
from pathlib import Path
from typing import TypeVar

import bittensor as bt
import httpx

from ocr_subnet import __version__
from ocr_subnet.chain.port import (
    ChainPort,
    ChainRejected,
    ChainUnavailable,
    Hyperparameters,
    Metagraph,
    NeuronInfo,
    WeightSetOutcome,
    WeightSetResult,
)
from ocr_subnet.challenge.api import Challenge
from ocr_subnet.gateway.exchange import combine, organic_scores
from ocr_subnet.gateway.feeds import MAX_AGE_S, Feed
from ocr_subnet.gateway.organic import OrganicScore, blended_reward, load_organic
from ocr_subnet.logs import log_event
from ocr_subnet.metric_names import REWARD_PARTS
from ocr_subnet.protocol import OcrRequest, encode_image
from ocr_subnet.scoring.reward import SCORING_VERSION
from ocr_subnet.scoring.reward import score as score_answer
from ocr_subnet.sections import Section
from ocr_subnet.validator import policy
from ocr_subnet.validator.metrics import ValidatorMetrics
from ocr_subnet.validator.query import Outcome, QueryResult, new_client, query_miners
from ocr_subnet.validator.state import ValidatorState, load_state, save_state

log = logging.getLogger(__name__)

T = TypeVar("T")
ChallengeSource = Callable[[int, int], Challenge]  # (seed, difficulty) -> challenge
# (client, wallet, miners, bodies, deadline_s) -> one result per miner, bodies[i] for miners[i];
# `query_miners` asks all at once
QueryStrategy = Callable[
    [httpx.AsyncClient, bt.WalletLike, Sequence[NeuronInfo], Sequence[bytes], float], Awaitable[list[QueryResult]]
]
Scorer = Callable[[Challenge, Sequence[Section], float, float], Mapping[str, float]]
ZERO_PARTS: Mapping[str, float] = dict.fromkeys(REWARD_PARTS, 0.0)
PHASES = ("sync", "challenge", "query", "score")
WEIGHTS_POLL_S = 1.0  # how often weights are looked at before the chain's block rate is known
MIN_PAUSE_S = 0.1  # the shortest pause between two looks at the chain's block


def reward_parts(
    challenge: Challenge, predictions: Sequence[Section], latency_s: float, deadline_s: float
) -> dict[str, float]:
    """The subnet's reward (see `scoring.reward`) as the parts the validator records and exports."""
    return score_answer(challenge.sections, predictions, latency_s, deadline_s, stock=challenge.stock).parts()


@dataclass(frozen=True)
class ValidatorConfig:
    state_path: Path
    sample_size: int = 8
    round_interval_s: float = 12.0
    deadline_s: float = 12.0
    ema_alpha: float = 0.1
    weight_power: float = policy.DEFAULT_WEIGHT_POWER  # weights ~ EMA ** power (see policy.weights_from_scores)
    difficulty: int = 1
    chain_timeout_s: float = 30.0
    retry_base_s: float = 1.0
    retry_cap_s: float = 30.0  # while the chain is away, probes are also never further apart than a quarter tempo
    allowed_axon_networks: tuple[policy.Network, ...] = ()  # besides global unicast; e.g. 127.0.0.0/8 on loopback
    organic_state: Path | None = None  # the gateway's organic scores (see `gateway.organic`)
    organic_metrics: tuple[str, ...] = ()  # or the /metrics of its replicas, combined (see `gateway.exchange`)
    organic_max_age_s: float = MAX_AGE_S  # a replica's scores last read longer ago than this no longer count
    organic_weight: float = 0.0  # share of the organic EMA in each reward that enters the EMA


@dataclass(frozen=True)
class RoundReport:
    request_ids: Mapping[int, str]  # uid -> the id its request carried
    results: tuple[QueryResult, ...]
    parts: Mapping[int, Mapping[str, float]]  # uid -> reward parts, zeros for failed answers
    duration_s: float
    phases: Mapping[str, float]  # seconds spent in sync, challenge, query and score


@dataclass
class _ChainView:
    """The last answers the chain gave; used as is while it is unreachable."""

    metagraph: Metagraph | None = None
    hyperparameters: Hyperparameters | None = None


@dataclass
class _WeightSchedule:
    failures: int = 0
    not_before: float = 0.0  # monotonic seconds; backoff after a failed attempt
    chain_away: bool = False  # the chain did not answer: any answer from it ends the backoff


@dataclass
class _BlockClock:
    """The newest block the chain reported and the fastest block rate observed, to time the next look.

    The fastest rate is kept because an outage only ever makes blocks look slower: sleeping by it
    wakes the validator on time or early, never late.
    """

    latest: int | None = None
    mark: tuple[float, int] | None = None  # (monotonic seconds, block) of the last block change
    seconds_per_block: float | None = None

    def saw(self, block: int, now: float) -> None:
        self.latest = block
        if self.mark is None or block < self.mark[1]:  # first sight, or a chain reset under us
            self.mark = (now, block)
            return
        then, previous = self.mark
        if block > previous:
            if now > then:
                rate = (now - then) / (block - previous)
                self.seconds_per_block = rate if self.seconds_per_block is None else min(self.seconds_per_block, rate)
            self.mark = (now, block)

    def landed(self, block: int) -> None:
        """Our own extrinsic's block: newer than any read so far, so it moves `latest` but not the rate."""
        if self.latest is None or block > self.latest:
            self.latest = block


@dataclass
class Validator:
    chain: ChainPort
    wallet: bt.WalletLike
    hotkey: str
    config: ValidatorConfig
    make_challenge: ChallengeSource
    score: Scorer
    metrics: ValidatorMetrics
    rng: random.Random = field(default_factory=random.SystemRandom)
    clock: Callable[[], float] = time.monotonic  # schedules rounds and backoff; phases use perf_counter
    query: QueryStrategy = query_miners
    state: ValidatorState = field(init=False)
    last_parts: dict[str, Mapping[str, float]] = field(init=False, default_factory=dict)
    _view: _ChainView = field(init=False, default_factory=_ChainView)
    _weights: _WeightSchedule = field(init=False, default_factory=_WeightSchedule)
    _blocks: _BlockClock = field(init=False, default_factory=_BlockClock)
    _setting: asyncio.Lock = field(init=False, default_factory=asyncio.Lock)
    _organic: Feed[OrganicScore] | None = field(init=False, default=None)

    def __post_init__(self) -> None:
        if self.config.organic_metrics:
            self._organic = Feed(
                "organic_scores (rewards without them while none is fresh)",
                self.config.organic_metrics,
                organic_scores,
                max_age_s=self.config.organic_max_age_s,
                clock=self.clock,
            )
        self.state, problem = load_state(self.config.state_path, netuid=self.chain.netuid, hotkey=self.hotkey)
        if problem is not None:
            log_event(log, "state_fresh", logging.WARNING, reason=problem)
        else:
            log_event(log, "state_loaded", miners=len(self.state.scores), rounds=self.state.rounds)
        self._publish()

    async def _chain_call(self, fn: Callable[..., T], *args: object) -> T:
        """Run a blocking chain call in a thread; too slow counts as unavailable, not as a hang."""
        try:
            answer = await asyncio.wait_for(asyncio.to_thread(fn, *args), self.config.chain_timeout_s)
        except TimeoutError as exc:
            raise ChainUnavailable(f"no answer within {self.config.chain_timeout_s:g}s") from exc
        except ChainRejected:
            self._chain_answered()  # a refusal is an answer: the chain is back
            raise
        self._chain_answered()
        return answer

    def _chain_answered(self) -> None:
        """Any answer from the chain ends an outage's backoff, so weights follow as soon as they are due."""
        if self._weights.chain_away:
            self._weights = _WeightSchedule()

    def _outage_cap_s(self) -> float:
        """The longest pause between two looks at a chain that is away: the configured cap, and never
        more than a quarter tempo once the block rate is known, so weights come back within a tempo."""
        hyper, rate = self._view.hyperparameters, self._blocks.seconds_per_block
        if hyper is None or rate is None:
            return self.config.retry_cap_s
        return max(MIN_PAUSE_S, min(self.config.retry_cap_s, hyper.tempo * rate / 4))

    def _back_off(self, chain_away: bool) -> None:
        failures = self._weights.failures + 1
        cap = self._outage_cap_s() if chain_away else self.config.retry_cap_s
        delay = policy.retry_delay(failures, self.config.retry_base_s, cap)
        self._weights = _WeightSchedule(failures, self.clock() + delay, chain_away)

    async def sync(self) -> Metagraph | None:
        """Refresh the metagraph and hyperparameters; keep the last known ones if the chain is away."""
        try:
            metagraph = await self._chain_call(self.chain.metagraph)
            hyperparameters = await self._chain_call(self.chain.hyperparameters)
        except (ChainUnavailable, ChainRejected) as exc:
            log_event(log, "chain_unavailable", logging.WARNING, during="sync", error=str(exc))
            return self._view.metagraph
        self._view = _ChainView(metagraph, hyperparameters)
        self._blocks.saw(metagraph.block, self.clock())
        self.metrics.observe_chain(metagraph.block, hyperparameters)
        self.state = self.state.model_copy(update={"scores": policy.reconcile_scores(self.state.scores, metagraph)})
        self.last_parts = {k: v for k, v in self.last_parts.items() if k in self.state.scores}
        return metagraph

    async def run_round(self) -> RoundReport | None:
        """Up to k miners at once, each with its own challenge (its own seed, the same difficulty), scored
        and folded into the EMAs, then saved.

        One page per miner: an operator of K hotkeys must read K pages, and no hotkey can relay its
        page to the best reader and pass the answer off as its own.
        """
        marks = [time.perf_counter()]
        metagraph = await self.sync()
        marks.append(time.perf_counter())
        if metagraph is None:
            log_event(log, "round_skipped", logging.WARNING, reason="no metagraph yet")
            return None
        miners = policy.sample_miners(
            metagraph, self.hotkey, self.config.sample_size, self.rng, self.config.allowed_axon_networks
        )
        if not miners:
            log_event(log, "round_skipped", reason="no queryable miners", block=metagraph.block)
            return None
        seeds = {m.uid: self.rng.getrandbits(63) for m in miners}
        challenges = await asyncio.to_thread(
            lambda: {uid: self.make_challenge(seed, self.config.difficulty) for uid, seed in seeds.items()}
        )
        marks.append(time.perf_counter())
        request_ids = {m.uid: secrets.token_hex(8) for m in miners}  # never the seed: it regenerates the labels
        bodies = [self._request_body(challenges[m.uid], request_ids[m.uid]) for m in miners]
        async with new_client(len(miners)) as client:  # the gateways are read while miners answer
            results, organic = await asyncio.gather(
                self.query(client, self.wallet, miners, bodies, self.config.deadline_s), self._organic_scores()
            )
        marks.append(time.perf_counter())
        parts = await asyncio.to_thread(self._score_all, challenges, results)
        marks.append(time.perf_counter())
        phases = {name: end - start for name, (start, end) in zip(PHASES, pairwise(marks), strict=True)}
        duration = marks[-1] - marks[0]
        rewards = [
            policy.Reward(
                r.uid,
                r.hotkey,
                blended_reward(parts[r.uid].get("total", 0.0), organic.get(r.hotkey), self.config.organic_weight),
            )
            for r in results
        ]
        self.state = self.state.model_copy(
            update={
                "scores": policy.apply_rewards(self.state.scores, rewards, self.config.ema_alpha),
                "rounds": self.state.rounds + 1,
            }
        )
        self.last_parts.update({r.hotkey: parts[r.uid] for r in results})
        self.metrics.observe_round(results, duration)
        self._publish()
        for result in results:
            log_event(
                log,
                "miner_answer",
                uid=result.uid,
                request_id=request_ids[result.uid],
                family=challenges[result.uid].family,
                outcome=result.outcome.value,
                latency_s=round(result.latency_s, 4),
                sections=len(result.sections),
                total=round(parts[result.uid].get("total", 0.0), 4),
                ema=round(self.state.scores[result.hotkey].ema, 4),
                detail=result.detail,
            )
        self.save()
        seconds = {f"{name}_s": round(value, 3) for name, value in phases.items()}
        log_event(log, "round_done", miners=len(results), **seconds)
        return RoundReport(request_ids, tuple(results), parts, duration, phases)

    async def _organic_scores(self) -> Mapping[str, OrganicScore]:
        """The gateway's organic scores by miner hotkey: from its file, or its replicas' /metrics combined."""
        if self._organic is not None:
            return combine(await self._organic.refresh())
        organic = load_organic(self.config.organic_state) if self.config.organic_state else None
        return organic.scores if organic is not None else {}

    def _request_body(self, challenge: Challenge, request_id: str) -> bytes:
        deadline = self.config.deadline_s
        request = OcrRequest(image=encode_image(challenge.image), challenge_id=request_id, deadline_s=deadline)
        return request.model_dump_json().encode()

    def _score_all(
        self, challenges: Mapping[int, Challenge], results: Sequence[QueryResult]
    ) -> dict[int, Mapping[str, float]]:
        """Each answer against its own miner's challenge; CPU-bound (edit distances, Hungarian
        matching), hence run in a worker thread."""
        return {
            r.uid: (
                dict(self.score(challenges[r.uid], r.sections, r.latency_s, self.config.deadline_s))
                if r.outcome is Outcome.OK
                else ZERO_PARTS
            )
            for r in results
        }

    async def maybe_set_weights(self) -> WeightSetResult | None:
        """Set weights when an epoch has passed since our last set; None when it was not time.

        One at a time: the weights loop and a caller never both pass the epoch check for one set.
        """
        async with self._setting:
            return await self._maybe_set_weights()

    def _blocks_until_weights(self) -> int | None:
        """Blocks before weights are due by what we know (None: too little known to say)."""
        view = self._view
        if view.metagraph is None or view.hyperparameters is None:
            return None
        metagraph, hyper = view.metagraph, view.hyperparameters
        own = metagraph.by_hotkey(self.hotkey)
        if own is None:
            return None
        # The newest block seen, not the view's: our own weight set may have landed after the last
        # successful sync, and a block we remember from that set is not "from the future".
        current = max(metagraph.block, self._blocks.latest or 0)
        last = policy.last_set_block(own, self.state.last_weight_block, current)
        return policy.blocks_until_weights(current, last, hyper.tempo, hyper.weights_rate_limit)

    async def _maybe_set_weights(self) -> WeightSetResult | None:
        view = self._view
        if view.metagraph is None or view.hyperparameters is None or self.clock() < self._weights.not_before:
            return None
        metagraph, hyper = view.metagraph, view.hyperparameters
        if metagraph.by_hotkey(self.hotkey) is None:
            log_event(log, "weights_skipped", logging.WARNING, reason="validator hotkey not registered")
            return None
        if self._blocks_until_weights() != 0:
            return None
        uids, weights = policy.weights_from_scores(
            self.state.scores,
            metagraph,
            self.hotkey,
            hyper.max_weights_limit,
            self.config.allowed_axon_networks,
            self.config.weight_power,
        )
        if not uids:
            return None
        version = policy.weights_version_key(__version__, SCORING_VERSION)
        chain_away = False
        try:
            result = await self._chain_call(self.chain.set_weights, self.wallet, uids, weights, version)
        except ChainUnavailable as exc:
            result = WeightSetResult(WeightSetOutcome.CHAIN_ERROR, message=str(exc))
            chain_away = True
        self.metrics.observe_weight_set(result)
        if result.outcome is WeightSetOutcome.SUCCESS:
            block = result.block if result.block is not None else metagraph.block
            self._weights = _WeightSchedule()
            self._blocks.landed(block)
            self.state = self.state.model_copy(update={"last_weight_block": block})
            self.metrics.observe_weights_landed(block)
            self.save()
        else:
            self._back_off(chain_away)
        log_event(
            log,
            "weights_set" if result.outcome is WeightSetOutcome.SUCCESS else "weights_failed",
            logging.INFO if result.outcome is WeightSetOutcome.SUCCESS else logging.WARNING,
            outcome=result.outcome.value,
            block=result.block,
            uids=uids,
            weights=[round(w, 4) for w in weights],
            message=result.message,
            retry_in_s=round(max(0.0, self._weights.not_before - self.clock()), 1),
        )
        return result

    async def weights_tick(self) -> float:
        """One look at the chain's block, setting weights when they are due; returns seconds to the next look.

        Runs beside the rounds, so weights never wait for a round's queries, and a chain that comes back
        from an outage is noticed within a quarter tempo (`_outage_cap_s`), not after a long backoff.
        """
        now = self.clock()
        if now < self._weights.not_before:
            return self._weights.not_before - now
        try:
            block = await self._chain_call(self.chain.current_block)
        except (ChainUnavailable, ChainRejected) as exc:
            self._back_off(chain_away=True)
            log_event(log, "chain_unavailable", logging.WARNING, during="block", error=str(exc))
            return max(0.0, self._weights.not_before - self.clock())
        self._blocks.saw(block, self.clock())
        self.metrics.observe_block(block)
        if self._view.metagraph is None:  # before the first round's sync
            await self.sync()
        due_in = self._blocks_until_weights()
        if due_in == 0:
            await self.sync()  # weights from the newest metagraph: who is registered, at which axon
            await self.maybe_set_weights()
            due_in = self._blocks_until_weights()
        if self.clock() < self._weights.not_before:
            return self._weights.not_before - self.clock()
        return self._pause_for(due_in)

    def _pause_for(self, blocks: int | None) -> float:
        """Seconds to sleep before the next look: until the block weights are due (by the fastest block
        rate seen, so never late), at least a block, at most the retry cap."""
        rate = self._blocks.seconds_per_block
        if rate is None:
            return min(self.config.retry_cap_s, WEIGHTS_POLL_S)
        if blocks is None:  # not registered, or no hyperparameters yet: look again in a while
            tempo = self._view.hyperparameters.tempo if self._view.hyperparameters is not None else 1
            return min(self.config.retry_cap_s, max(WEIGHTS_POLL_S, tempo * rate))
        return min(self.config.retry_cap_s, max(MIN_PAUSE_S, rate, blocks * rate))

    def save(self) -> bool:
        try:
            save_state(self.config.state_path, self.state)
        except OSError as exc:
            self.metrics.observe_state_save(False)
            log_event(log, "state_save_failed", logging.ERROR, path=str(self.config.state_path), error=str(exc))
            return False
        self.metrics.observe_state_save(True)
        return True

    def _publish(self) -> None:
        self.metrics.set_miners(self.state.scores, self.last_parts)
        if self.state.last_weight_block is not None:
            self.metrics.observe_last_weight_block(self.state.last_weight_block)

    async def step(self) -> None:
        """One round; a bug in one round is logged, never fatal to the validator."""
        try:
            await self.run_round()
        except Exception as exc:
            log.exception("round failed; continuing with the next one", extra={"fields": {"error": str(exc)}})

    async def weights_loop(self, stop: asyncio.Event) -> None:
        """Look at the chain's block and set weights when due, until `stop`; never raises."""
        while not stop.is_set():
            try:
                pause = await self.weights_tick()
            except Exception as exc:
                log.exception("weight check failed; trying again", extra={"fields": {"error": str(exc)}})
                pause = self.config.retry_base_s
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), max(pause, 0.05))

    async def run(self, stop: asyncio.Event, max_rounds: int | None = None) -> None:
        """Rounds every `round_interval_s` until `stop` is set (or `max_rounds` ran), weights beside them
        (`weights_loop`); saves on the way out.

        A stop cancels the round in flight rather than waiting out its deadline: nothing is
        lost, because a round changes the state only after its last await.
        """
        done = 0
        weights = asyncio.create_task(self.weights_loop(stop))
        try:
            while not stop.is_set() and (max_rounds is None or done < max_rounds):
                started = self.clock()
                if not await _unless_stopped(self.step(), stop):
                    break
                done += 1
                if max_rounds is not None and done >= max_rounds:
                    break
                pause = max(0.0, self.config.round_interval_s - (self.clock() - started))
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), pause)
        finally:
            weights.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await weights
        self.save()


async def _unless_stopped(work: Awaitable[None], stop: asyncio.Event) -> bool:
    """Run `work` to the end, or cancel it when `stop` is set first; True when it finished."""
    task = asyncio.ensure_future(work)
    stopper = asyncio.ensure_future(stop.wait())
    await asyncio.wait({task, stopper}, return_when=asyncio.FIRST_COMPLETED)
    stopper.cancel()
    if task.done():
        return True
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    return False
