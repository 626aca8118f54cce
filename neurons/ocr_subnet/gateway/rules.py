"""The gateway's decisions as pure functions: which miners read a page, whether an answer passes,
how far two answers agree, and how organic rewards move a miner's organic EMA."""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from ocr_subnet.chain.port import NeuronInfo
from ocr_subnet.scoring.reward import Reward, score
from ocr_subnet.sections import Section
from ocr_subnet.validator.policy import ema_update


@dataclass(frozen=True)
class RoutingConfig:
    top_k: int = 3  # the best miners by EMA that pages go to
    explore: float = 0.2  # chance that a page's second miner is drawn from outside the top k
    hedge: int = 2  # miners asked at once for each page
    attempts: int = 4  # miners tried in all before a page fails
    canary_rounds: int = 2  # rounds a page goes out in, each under a fresh canary, while no answer passed
    busy_backoff_s: float = 1.0  # pause before the next round when no miner answered the last one
    pass_threshold: float = 0.3  # the canary's prediction reward an answer needs to be used
    organic_alpha: float = 0.1  # weight of one page's canary reward in a miner's organic EMA


def rank_miners(
    miners: Sequence[NeuronInfo], emas: Mapping[str, float], config: RoutingConfig, rng: random.Random
) -> list[NeuronInfo]:
    """Every miner once, in the order to try them: `hedge` picks first (the top k by EMA, one of them
    swapped, with probability `explore`, for a miner outside it), then the rest by EMA."""
    ordered = sorted(miners, key=lambda n: (-emas.get(n.hotkey, 0.0), rng.random()))
    top, rest = ordered[: config.top_k], ordered[config.top_k :]
    first = rng.sample(top, min(config.hedge, len(top)))
    if rest and first and rng.random() < config.explore:
        first[-1] = rng.choice(rest)
    return first + [n for n in ordered if n not in first]


def canary_reward(known: Sequence[Section], answer: Sequence[Section], latency_s: float, deadline_s: float) -> Reward:
    """The band scored exactly like a challenge."""
    return score(known, answer, latency_s, deadline_s)


def passes(reward: Reward, config: RoutingConfig) -> bool:
    return reward.prediction >= config.pass_threshold


def agreement(first: Sequence[Section], second: Sequence[Section]) -> float:
    """How far two miners' readings of the same page agree: the scorer's text-and-position F1 with one
    answer taken as the labels (1.0 for two empty answers)."""
    return score(first, second, 0.0, 1.0).prediction


def organic_emas(previous: Mapping[str, float], rewards: Mapping[str, float], alpha: float) -> dict[str, float]:
    """Fold one page's canary rewards (hotkey -> prediction reward) into the organic EMAs."""
    updated = dict(previous)
    for hotkey, reward in rewards.items():
        updated[hotkey] = ema_update(updated.get(hotkey, 0.0), reward, alpha)
    return updated
