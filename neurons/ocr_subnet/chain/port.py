"""What the neurons need from a chain, and nothing more.

Two adapters implement `ChainPort`: the bittensor 11 SDK (finney, test, a local subtensor or
any ws:// endpoint) and the embedded local chain served on loopback. Neurons never import
either adapter directly; they receive a port.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import bittensor as bt


class ChainUnavailable(RuntimeError):
    """The chain could not be reached or did not answer in time; callers retry later."""


class ChainRejected(RuntimeError):
    """The chain answered and refused (unknown subnet, unregistered hotkey, bad signature, full
    subnet); retrying the same request fails the same way."""


@dataclass(frozen=True)
class AxonInfo:
    ip: str
    port: int

    @property
    def url(self) -> str:
        host = f"[{self.ip}]" if ":" in self.ip else self.ip
        return f"http://{host}:{self.port}"


@dataclass(frozen=True)
class NeuronInfo:
    uid: int
    hotkey: str
    coldkey: str
    stake: float
    validator_permit: bool
    axon: AxonInfo | None
    last_update: int
    incentive: float = 0.0


@dataclass(frozen=True)
class Metagraph:
    netuid: int
    block: int
    neurons: tuple[NeuronInfo, ...]

    def by_hotkey(self, hotkey: str) -> NeuronInfo | None:
        return next((n for n in self.neurons if n.hotkey == hotkey), None)

    def by_uid(self, uid: int) -> NeuronInfo | None:
        return next((n for n in self.neurons if n.uid == uid), None)


@dataclass(frozen=True)
class Hyperparameters:
    tempo: int
    weights_rate_limit: int
    commit_reveal_enabled: bool
    max_weights_limit: float = 1.0


class WeightSetOutcome(enum.StrEnum):
    """Label values match `metric_names.WEIGHT_SET_RESULTS`."""

    SUCCESS = "success"
    RATE_LIMITED = "rate_limited"
    CHAIN_ERROR = "chain_error"
    REJECTED = "rejected"


@dataclass(frozen=True)
class WeightSetResult:
    outcome: WeightSetOutcome
    block: int | None = None
    message: str = ""


@runtime_checkable
class ChainPort(Protocol):
    """Every method may raise `ChainUnavailable`; `metagraph`, `hyperparameters` and `serve_axon`
    raise `ChainRejected` when the chain refuses. `set_weights` reports refusals in its result."""

    netuid: int

    def current_block(self) -> int: ...

    def metagraph(self) -> Metagraph: ...

    def hyperparameters(self) -> Hyperparameters: ...

    def serve_axon(self, wallet: bt.Wallet, ip: str, port: int) -> None: ...

    def set_weights(
        self, wallet: bt.Wallet, uids: Sequence[int], weights: Sequence[float], version_key: int
    ) -> WeightSetResult: ...
