"""The challenge every other part consumes (validator, benchmarks, training, tests)."""

from __future__ import annotations

from dataclasses import dataclass, field

from ocr_subnet.sections import Section


@dataclass(frozen=True)
class Challenge:
    id: str
    seed: int
    difficulty: int
    image: bytes  # the exact bytes a miner receives
    image_format: str  # "jpeg" or "png"
    width: int
    height: int
    sections: tuple[Section, ...]  # ground truth in pixels of `image`
    stock: frozenset[str] = field(default=frozenset())  # fixed strings its generator draws from (weighed down)
    family: str = "invoice"  # its document family (challenge.families)
