"""The validator's decisions as pure functions: EMA, weights, sampling, timing.

Nothing here touches the network, the chain, the clock or the disk, so every rule that
decides who earns what is unit-tested on plain values.
"""

from __future__ import annotations

import math
import random
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict, Field

from ocr_subnet.addresses import Network, is_allowed_address, parse_networks
from ocr_subnet.chain.port import Metagraph, NeuronInfo

__all__ = ["Network", "parse_networks"]  # re-exported: the validator's settings are parsed here

# Weights are EMA ** power, normalized. 3 keeps honest engines in their order while a miner at a
# tenth of the best EMA keeps 1/1000 of the best's weight (linear weights gave it 1/10).
DEFAULT_WEIGHT_POWER = 3.0


class MinerScore(BaseModel):
    """What the validator remembers about one miner hotkey between rounds."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    uid: int = Field(ge=0)
    ema: float = Field(ge=0.0, le=1.0, allow_inf_nan=False)
    rounds: int = Field(default=0, ge=0)


@dataclass(frozen=True)
class Reward:
    """One miner's reward for one round; `total` is what enters the EMA."""

    uid: int
    hotkey: str
    total: float


def unit_interval(value: float) -> float:
    """Clamp to [0, 1] and map NaN to 0, so no reward or score can poison the sums that follow."""
    if math.isnan(value):
        return 0.0
    return min(1.0, max(0.0, value))


def ema_update(previous: float, reward: float, alpha: float) -> float:
    """One EMA step; a new miner starts from 0 so one lucky round cannot buy a large weight."""
    if not 0.0 < alpha <= 1.0:
        raise ValueError(f"alpha must be in (0, 1], got {alpha}")
    return unit_interval(alpha * unit_interval(reward) + (1.0 - alpha) * unit_interval(previous))


def apply_rewards(scores: Mapping[str, MinerScore], rewards: Iterable[Reward], alpha: float) -> dict[str, MinerScore]:
    """Fold a round's rewards into the EMA table; a hotkey seen at a new uid starts over."""
    updated = dict(scores)
    for reward in rewards:
        previous = updated.get(reward.hotkey)
        if previous is None or previous.uid != reward.uid:
            previous = MinerScore(uid=reward.uid, ema=0.0)
        updated[reward.hotkey] = MinerScore(
            uid=reward.uid,
            ema=ema_update(previous.ema, reward.total, alpha),
            rounds=previous.rounds + 1,
        )
    return updated


def reconcile_scores(scores: Mapping[str, MinerScore], metagraph: Metagraph) -> dict[str, MinerScore]:
    """Forget a hotkey that deregistered or no longer holds its uid: a uid's new owner starts from zero."""
    kept: dict[str, MinerScore] = {}
    for hotkey, score in scores.items():
        neuron = metagraph.by_uid(score.uid)
        if neuron is not None and neuron.hotkey == hotkey:
            kept[hotkey] = score
    return kept


def is_queryable(neuron: NeuronInfo, self_hotkey: str, allowed: Sequence[Network] = ()) -> bool:
    """A miner can be challenged when it served an axon at an address the validator may dial
    (see `is_allowed_address`); the validator never queries itself."""
    return (
        neuron.hotkey != self_hotkey
        and neuron.axon is not None
        and 0 < neuron.axon.port < 65536
        and is_allowed_address(neuron.axon.ip, allowed)
    )


def sample_miners(
    metagraph: Metagraph, self_hotkey: str, k: int, rng: random.Random, allowed: Sequence[Network] = ()
) -> list[NeuronInfo]:
    """Up to k distinct queryable miners, drawn uniformly so no miner can predict when it is tested."""
    candidates = [n for n in metagraph.neurons if is_queryable(n, self_hotkey, allowed)]
    chosen = rng.sample(candidates, min(max(k, 0), len(candidates)))
    return sorted(chosen, key=lambda n: n.uid)


def weights_from_scores(
    scores: Mapping[str, MinerScore],
    metagraph: Metagraph,
    self_hotkey: str,
    max_weight: float = 1.0,
    allowed: Sequence[Network] = (),
    power: float = DEFAULT_WEIGHT_POWER,
) -> tuple[list[int], list[float]]:
    """Normalized weights over the queryable miners, by uid, none above `max_weight` (the subnet's
    max_weight_limit: the chain refuses a weight vector that exceeds it).

    A miner's raw weight is its EMA raised to `power` when its hotkey still holds its uid, else
    zero: share_i = ema_i ** power / sum_j ema_j ** power. A power above 1 makes the share of a
    miner far below the best vanish (at a tenth of the best EMA, 10 ** -power of the best's
    weight), so a crowd of hotkeys that read little cannot add up to much. When nothing
    has earned anything yet the weights are uniform: the validator stays active on chain
    without favouring anyone. No queryable miner at all gives empty lists (nothing to set).
    """
    if not math.isfinite(power) or power <= 0.0:
        raise ValueError(f"power must be a positive number, got {power}")
    miners = sorted((n for n in metagraph.neurons if is_queryable(n, self_hotkey, allowed)), key=lambda n: n.uid)
    raw: list[float] = []
    for neuron in miners:
        score = scores.get(neuron.hotkey)
        raw.append(unit_interval(score.ema) ** power if score is not None and score.uid == neuron.uid else 0.0)
    total = math.fsum(raw)
    if not miners:
        return [], []
    if total <= 0.0:
        return [n.uid for n in miners], [1.0 / len(miners)] * len(miners)
    return [n.uid for n in miners], cap_weights([value / total for value in raw], max_weight)


def cap_weights(weights: Sequence[float], limit: float) -> list[float]:
    """Weights summing to one with none above `limit`: capped weights give their excess to the others in
    proportion to theirs (evenly among zeros when nothing else is left), repeated until none exceeds
    it. Uniform when `limit` is below 1/n and cannot be met at all."""
    n = len(weights)
    if n == 0 or limit >= 1.0 or max(weights) <= limit:
        return list(weights)
    if limit * n <= 1.0:
        return [1.0 / n] * n
    capped = [False] * n
    while True:
        free = math.fsum(w for w, c in zip(weights, capped, strict=True) if not c)
        budget = 1.0 - limit * sum(capped)
        uncapped = n - sum(capped)
        result = [
            limit if c else (w * budget / free if free > 0 else budget / uncapped)
            for w, c in zip(weights, capped, strict=True)
        ]
        over = [i for i, value in enumerate(result) if not capped[i] and value > limit]
        if not over:
            return result
        for i in over:
            capped[i] = True


def blocks_until_weights(current_block: int, last_set_block: int | None, tempo: int, rate_limit: int) -> int:
    """Blocks to wait before setting weights again: once per epoch, never inside the rate limit."""
    if last_set_block is None:
        return 0
    interval = max(tempo, rate_limit, 1)
    return max(0, last_set_block + interval - current_block)


def retry_delay(failures: int, base_s: float, cap_s: float) -> float:
    """Exponential backoff after consecutive failures, so a sick chain is not hammered."""
    if failures <= 0:
        return 0.0
    return min(cap_s, base_s * 2.0 ** (failures - 1))


def version_key(version: str) -> int:
    """`major.minor.patch` -> major*10000 + minor*100 + patch, the integer the chain stores with weights."""
    numbers = [int(n) for n in re.findall(r"\d+", version)[:3]]
    major, minor, patch = [*numbers, 0, 0, 0][:3]
    return major * 10_000 + minor * 100 + patch


def weights_version_key(version: str, scoring_version: int) -> int:
    """The version key sent with weights: scoring_version * 1_000_000 + `version_key(version)`.

    The scoring version leads, so a subnet owner can raise the chain's `weights_version` to
    scoring_version * 1_000_000 once validators run the new reward, and weights from a validator
    still paying by an older formula are refused.
    """
    return scoring_version * 1_000_000 + version_key(version)


def last_set_block(own: NeuronInfo | None, remembered: int | None, current_block: int) -> int | None:
    """The later of the chain's record of our last update and our own, ignoring blocks from the future.

    The chain's `last_update` is what its rate limit checks; a remembered block past the current
    one means the chain was reset under us, so it no longer says anything.
    """
    candidates = (remembered, own.last_update if own is not None else None)
    known: Sequence[int] = [b for b in candidates if b is not None and 0 <= b <= current_block]
    return max(known) if known else None
