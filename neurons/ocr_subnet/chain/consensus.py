"""Yuma-style consensus for the local chain: validators' weights in, miners' incentive out.

What it keeps from Yuma: a weight only counts up to what validators holding a `kappa` share of
the stake (half, by default) agreed on, so one validator cannot inflate its favourite miner;
incentive is then the stake-weighted sum of the clipped weights, normalized to 1.

What it drops: bonds and dividends (validators earn nothing here), emission amounts, the
sigmoid trust/consensus smoothing, u16 fixed-point arithmetic, liquid-alpha and activity cutoff.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

DEFAULT_KAPPA = 0.5
_EPSILON = 1e-12


def validator_permits(stakes: Mapping[int, float], max_validators: int) -> frozenset[int]:
    """The `max_validators` uids with the most stake (ties to the lower uid); zero stake never qualifies."""
    staked = sorted((uid for uid, stake in stakes.items() if stake > 0), key=lambda uid: (-stakes[uid], uid))
    return frozenset(staked[:max_validators])


def normalize(row: Mapping[int, float]) -> dict[int, float]:
    """Scale to sum 1, dropping zeros; an all-zero row becomes empty."""
    total = sum(value for value in row.values() if value > 0)
    if total <= 0:
        return {}
    return {uid: value / total for uid, value in row.items() if value > 0}


def consensus_weight(votes: Sequence[tuple[float, float]], kappa: float = DEFAULT_KAPPA) -> float:
    """The largest weight that validators holding at least `kappa` of the stake gave (or exceeded).

    `votes` are (weight, stake) pairs, one per validator; with kappa = 0.5 this is the
    stake-weighted median from above.
    """
    total = sum(stake for _, stake in votes)
    if total <= 0:
        return 0.0
    needed = kappa * total - _EPSILON
    accumulated = 0.0
    for weight, stake in sorted(votes, key=lambda vote: -vote[0]):
        accumulated += stake
        if accumulated >= needed:
            return weight
    return 0.0


def incentive(
    weights: Mapping[int, Mapping[int, float]],
    stakes: Mapping[int, float],
    kappa: float = DEFAULT_KAPPA,
) -> dict[int, float]:
    """Incentive per uid, summing to 1 (empty when nobody with stake weighted anything).

    `weights` maps a validator uid to its row {uid: weight}; rows are normalized here. Only
    validators with a non-empty row and positive stake vote; a uid nobody weighted gets 0.
    """
    rows = {uid: normalize(row) for uid, row in weights.items() if stakes.get(uid, 0.0) > 0}
    rows = {uid: row for uid, row in rows.items() if row}
    total_stake = sum(stakes[uid] for uid in rows)
    if total_stake <= 0:
        return {}
    share = {uid: stakes[uid] / total_stake for uid in rows}
    targets = sorted({target for row in rows.values() for target in row})
    ranks: dict[int, float] = {}
    for target in targets:
        votes = [(row.get(target, 0.0), share[uid]) for uid, row in rows.items()]
        clip = consensus_weight(votes, kappa)
        ranks[target] = sum(min(weight, clip) * stake for weight, stake in votes)
    total_rank = sum(ranks.values())
    if total_rank <= 0:
        return {}
    return {target: rank / total_rank for target, rank in ranks.items()}
