"""What the gateway and its validator tell each other through their `/metrics`, as pure rules.

In a cluster they share no volume: the gateway ranks miners by the validator's EMA gauge
(`VALIDATOR_MINER_EMA`), and the validator blends in each gateway replica's organic EMA gauge
(`GATEWAY_ORGANIC_EMA`), weighted by the pages behind it (the replica's canary verifications of that
miner, `GATEWAY_VERIFICATIONS`, one per organic verdict). The exposition is parsed by prometheus_client;
a body it refuses is refused whole, a sample without its labels or with a value out of range is left out
and named.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

from ocr_subnet import metric_names as names
from ocr_subnet.gateway.organic import OrganicScore

EMA_LABELS = ("validator_hotkey", "uid", "miner_hotkey")
T = TypeVar("T")


class FeedError(Exception):
    """A source that gave nothing usable (unreachable, refused, too big, not an exposition), with why."""


@dataclass(frozen=True)
class Reading(Generic[T]):
    values: dict[str, T]  # by miner hotkey
    skipped: tuple[str, ...] = field(default=())  # why each unusable sample was left out


def read_samples(text: str, wanted: Collection[str]) -> list[Sample]:
    """The samples named in `wanted`; the whole body is parsed first, so a malformed line anywhere
    refuses it all rather than yielding what happened to come before it."""
    try:
        families = list(text_string_to_metric_families(text))
    except (ValueError, IndexError) as exc:
        raise FeedError(f"not a Prometheus text exposition: {exc}") from exc
    return [sample for family in families for sample in family.samples if sample.name in wanted]


def _missing(sample: Sample, labels: Iterable[str]) -> str | None:
    absent = [label for label in labels if not sample.labels.get(label)]
    return f"{sample.name} sample without {', '.join(absent)}" if absent else None


def _unit_interval(sample: Sample) -> str | None:
    if not 0.0 <= sample.value <= 1.0:  # NaN fails both comparisons
        return f"{sample.name}{{miner_hotkey={sample.labels['miner_hotkey']!r}}} = {sample.value} is not in [0, 1]"
    return None


def validator_emas(text: str, validator_hotkey: str) -> Reading[float]:
    """The validator's EMA of each miner, from its series for `validator_hotkey` (the gateway signs with
    the validator's hotkey, so it is its own); series of other hotkeys are not ours and are ignored."""
    emas: dict[str, float] = {}
    skipped: list[str] = []
    for sample in read_samples(text, {names.VALIDATOR_MINER_EMA}):
        problem = _missing(sample, EMA_LABELS)
        if problem is None and sample.labels["validator_hotkey"] != validator_hotkey:
            continue
        problem = problem or _unit_interval(sample)
        if problem is not None:
            skipped.append(problem)
            continue
        emas[sample.labels["miner_hotkey"]] = sample.value
    return Reading(emas, tuple(skipped))


def organic_scores(text: str) -> Reading[OrganicScore]:
    """One gateway replica's organic EMA of each miner with the pages behind it. A miner needs both: an
    EMA without verifications to weigh it by is left out."""
    pages: dict[str, float] = {}
    emas: dict[str, float] = {}
    skipped: list[str] = []
    for sample in read_samples(text, {names.GATEWAY_ORGANIC_EMA, names.GATEWAY_VERIFICATIONS}):
        problem = _missing(sample, ("miner_hotkey",))
        if problem is None and sample.name == names.GATEWAY_ORGANIC_EMA:
            problem = _unit_interval(sample)
        elif problem is None and not 0.0 <= sample.value < math.inf:
            problem = f"{sample.name}{{miner_hotkey={sample.labels['miner_hotkey']!r}}} = {sample.value} is no count"
        if problem is not None:
            skipped.append(problem)
            continue
        hotkey = sample.labels["miner_hotkey"]
        if sample.name == names.GATEWAY_ORGANIC_EMA:
            emas[hotkey] = sample.value
        else:  # one sample per result (passed, failed): together, every page scored
            pages[hotkey] = pages.get(hotkey, 0.0) + sample.value
    scores: dict[str, OrganicScore] = {}
    for hotkey, ema in emas.items():
        counted = int(pages.get(hotkey, 0.0))
        if counted == 0:
            skipped.append(f"{names.GATEWAY_ORGANIC_EMA}{{miner_hotkey={hotkey!r}}} has no verified pages to weigh it")
            continue
        scores[hotkey] = OrganicScore(ema=ema, pages=counted)
    return Reading(scores, tuple(skipped))


def combine(replicas: Iterable[Mapping[str, OrganicScore]]) -> dict[str, OrganicScore]:
    """Every replica's organic EMA of a miner, averaged weighted by the pages behind each: a replica
    that read 90 of a miner's pages counts nine times one that read 10."""
    weighted: dict[str, tuple[float, int]] = {}
    for scores in replicas:
        for hotkey, score in scores.items():
            total, pages = weighted.get(hotkey, (0.0, 0))
            weighted[hotkey] = (total + score.ema * score.pages, pages + score.pages)
    return {
        hotkey: OrganicScore(ema=min(1.0, total / pages), pages=pages)
        for hotkey, (total, pages) in weighted.items()
        if pages > 0
    }
