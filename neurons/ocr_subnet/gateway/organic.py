"""The organic scores the gateway hands to the validator: a JSON file written atomically.

The gateway writes it after verified pages; the validator (`--organic-state`, `--organic-weight`) reads
it each round and blends it into the reward that enters its EMA (see `rules.blended_reward`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ocr_subnet.validator.state import write_atomically


class OrganicScore(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    ema: float = Field(ge=0.0, le=1.0, allow_inf_nan=False)
    pages: int = Field(ge=0)


class OrganicState(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    format: Literal["ocr-subnet-organic"] = "ocr-subnet-organic"
    scores: dict[str, OrganicScore] = Field(default_factory=dict)  # by miner hotkey


def save_organic(path: Path, state: OrganicState) -> None:
    write_atomically(path, state.model_dump_json(indent=2).encode())


def load_organic(path: Path) -> OrganicState | None:
    """None when the file is missing or unreadable: the validator then scores on synthetic rounds alone."""
    try:
        return OrganicState.model_validate_json(path.read_bytes())
    except (OSError, ValidationError, ValueError):
        return None


def blended_reward(synthetic: float, organic: OrganicScore | None, weight: float) -> float:
    """What enters the validator's EMA: (1 - w) * synthetic + w * organic, or the synthetic reward alone
    for a miner the gateway has not scored yet."""
    if organic is None:
        return synthetic
    return (1.0 - weight) * synthetic + weight * organic.ema
