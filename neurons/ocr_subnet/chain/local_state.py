"""The local chain's rules: registration, uids, permits, axons, weights, blocks and epochs.

Everything here is decided on plain values so it is unit-tested without processes; the HTTP
server (`local_server`) owns the clock, the network and the file. The state file is the
`ChainState` model as JSON, written atomically. A file that cannot be used stops the start with a
`ChainStateError` saying how to recover: silently starting a new chain would discard every
registration, stake and weight. Starting over is explicit (`discard_corrupt`), and keeps the old
file under a name no later start overwrites.
"""

from __future__ import annotations

import enum
import logging
import math
import os
import tempfile
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from ocr_subnet.addresses import axon_address, unservable_reason
from ocr_subnet.chain.consensus import DEFAULT_KAPPA, incentive, validator_permits
from ocr_subnet.chain.port import AxonInfo, Hyperparameters, Metagraph, NeuronInfo
from ocr_subnet.logs import log_event

logger = logging.getLogger(__name__)


class Rejection(enum.StrEnum):
    NOT_REGISTERED = "not_registered"
    RATE_LIMITED = "rate_limited"
    NO_VALIDATOR_PERMIT = "no_validator_permit"
    INVALID_WEIGHTS = "invalid_weights"
    OUTDATED_VERSION = "outdated_version"
    SUBNET_FULL = "subnet_full"
    COLDKEY_MISMATCH = "coldkey_mismatch"
    INVALID_AXON = "invalid_axon"


class LocalChainError(Exception):
    """The local chain refuses a request; `rejection` says why in a word the client can branch on."""

    def __init__(self, rejection: Rejection, message: str, retry_in_blocks: int = 0) -> None:
        super().__init__(message)
        self.rejection = rejection
        self.retry_in_blocks = retry_in_blocks


@dataclass(frozen=True)
class ChainParams:
    """The subnet's hyperparameters; set on the command line, not stored with the state."""

    netuid: int = 1
    tempo: int = 20
    weights_rate_limit: int = 10
    max_uids: int = 64
    max_validators: int = 8
    immunity_period: int = 100
    weights_version: int = 0
    kappa: float = DEFAULT_KAPPA

    def __post_init__(self) -> None:
        if self.tempo < 1 or self.max_uids < 1 or self.max_validators < 1:
            raise ValueError("tempo, max_uids and max_validators must be at least 1")
        if self.weights_rate_limit < 0 or self.immunity_period < 0 or self.weights_version < 0:
            raise ValueError("weights_rate_limit, immunity_period and weights_version must be >= 0")
        if not 0.0 < self.kappa <= 1.0:
            raise ValueError("kappa must be in (0, 1]")


class NeuronState(BaseModel):
    model_config = ConfigDict(extra="forbid")

    uid: int = Field(ge=0)
    hotkey: str = Field(min_length=1)
    coldkey: str = Field(min_length=1)
    stake: float = Field(ge=0, allow_inf_nan=False)
    registered_at: int = Field(ge=0)
    axon: tuple[str, int] | None = None
    weights: dict[int, float] = Field(default_factory=dict)
    weights_set_at: int | None = None
    incentive: float = Field(default=0.0, ge=0, le=1)

    @property
    def last_update(self) -> int:
        """What the metagraph reports: the last weight-set block, else the registration block."""
        return self.registered_at if self.weights_set_at is None else self.weights_set_at


class ChainState(BaseModel):
    """Everything the local chain remembers across restarts."""

    model_config = ConfigDict(extra="forbid")

    version: Literal[1] = 1
    identity: str = Field(min_length=1, description="ss58 address that signed requests are bound to")
    block: int = Field(default=0, ge=0)
    last_epoch: int = Field(default=0, ge=0)
    neurons: dict[int, NeuronState] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _consistent(self) -> ChainState:
        if any(uid != neuron.uid for uid, neuron in self.neurons.items()):
            raise ValueError("a neuron is filed under another uid")
        if len({n.hotkey for n in self.neurons.values()}) != len(self.neurons):
            raise ValueError("a hotkey is registered twice")
        return self


def axon_problem(ip: str, port: int) -> str | None:
    """Why `ip:port` cannot be served as an axon (nobody could reach a miner there), or None."""
    address = axon_address(ip)
    if address is None:
        return f"axon {ip!r} is not an IP address"
    reason = unservable_reason(address)
    if reason is not None:
        return f"axon {ip}:{port} is a {reason} address; publish an address validators can reach"
    if not 1 <= port <= 65535:
        return f"axon port {port} is outside 1..65535"
    return None


def rate_limit_remaining(last_set: int | None, block: int, limit: int) -> int:
    """Blocks left before weights may be set again; 0 when allowed (first set is always allowed)."""
    if last_set is None:
        return 0
    return max(0, limit - (block - last_set))


def validated_row(uids: Sequence[int], weights: Sequence[float], registered: Collection[int]) -> dict[int, float]:
    """The weights as {uid: share} summing to 1, or `INVALID_WEIGHTS` saying what is wrong."""

    def invalid(message: str) -> LocalChainError:
        return LocalChainError(Rejection.INVALID_WEIGHTS, message)

    if len(uids) != len(weights):
        raise invalid(f"{len(uids)} uids but {len(weights)} weights")
    if len(set(uids)) != len(uids):
        raise invalid("duplicate uids")
    unknown = sorted(set(uids) - set(registered))
    if unknown:
        raise invalid(f"uids not registered: {unknown}")
    if any(not math.isfinite(w) or w < 0 for w in weights):
        raise invalid("weights must be finite and non-negative")
    total = sum(weights)
    if total <= 0:
        raise invalid("all weights are zero")
    return {uid: weight / total for uid, weight in zip(uids, weights, strict=True) if weight > 0}


def prune_candidate(
    neurons: Collection[NeuronState], permits: Collection[int], block: int, immunity_period: int
) -> int | None:
    """The uid a new registration replaces in a full subnet: the lowest incentive, oldest first,
    among neurons past their immunity period and without a validator permit."""
    candidates = [n for n in neurons if n.uid not in permits and block - n.registered_at >= immunity_period]
    if not candidates:
        return None
    return min(candidates, key=lambda n: (n.incentive, n.registered_at, n.uid)).uid


class LocalChain:
    """One subnet's state plus the rules that change it; the caller decides when blocks pass."""

    def __init__(self, params: ChainParams, state: ChainState) -> None:
        self.params = params
        self.state = state

    @property
    def block(self) -> int:
        return self.state.block

    @property
    def identity(self) -> str:
        return self.state.identity

    def permits(self) -> frozenset[int]:
        """Recomputed from stake on every read, so a newly staked validator may act at once
        (the real chain refreshes permits each epoch)."""
        stakes = {uid: n.stake for uid, n in self.state.neurons.items()}
        return validator_permits(stakes, self.params.max_validators)

    def advance(self) -> bool:
        """One block passes; returns True when it closed an epoch."""
        self.state.block += 1
        if self.state.block - self.state.last_epoch < self.params.tempo:
            return False
        self.run_epoch()
        return True

    def run_epoch(self) -> None:
        """Turn the current weights into incentive for every neuron."""
        stakes = {uid: n.stake for uid, n in self.state.neurons.items()}
        shares = incentive(self.effective_weights(), stakes, self.params.kappa)
        for uid, neuron in self.state.neurons.items():
            neuron.incentive = shares.get(uid, 0.0)
        self.state.last_epoch = self.state.block

    def effective_weights(self) -> dict[int, dict[int, float]]:
        """Weights that count: from permit holders, never to themselves, and only to neurons that
        were already registered when the weights were set (a recycled uid starts clean)."""
        rows: dict[int, dict[int, float]] = {}
        neurons = self.state.neurons
        for uid in self.permits():
            validator = neurons[uid]
            if validator.weights_set_at is None:
                continue
            rows[uid] = {
                target: weight
                for target, weight in validator.weights.items()
                if target != uid and target in neurons and neurons[target].registered_at <= validator.weights_set_at
            }
        return rows

    def neuron(self, hotkey: str) -> NeuronState:
        found = next((n for n in self.state.neurons.values() if n.hotkey == hotkey), None)
        if found is None:
            raise LocalChainError(Rejection.NOT_REGISTERED, f"hotkey {hotkey} is not registered")
        return found

    def register(self, hotkey: str, coldkey: str, stake: float) -> int:
        """The hotkey's uid, registering it if needed; registering again updates its stake."""
        existing = next((n for n in self.state.neurons.values() if n.hotkey == hotkey), None)
        if existing is not None:
            if existing.coldkey != coldkey:
                raise LocalChainError(Rejection.COLDKEY_MISMATCH, f"hotkey {hotkey} belongs to another coldkey")
            existing.stake = stake
            return existing.uid
        uid = self._free_uid()
        self.state.neurons[uid] = NeuronState(
            uid=uid, hotkey=hotkey, coldkey=coldkey, stake=stake, registered_at=self.state.block
        )
        return uid

    def _free_uid(self) -> int:
        taken = self.state.neurons.keys()
        free = next((uid for uid in range(self.params.max_uids) if uid not in taken), None)
        if free is not None:
            return free
        pruned = prune_candidate(
            self.state.neurons.values(), self.permits(), self.state.block, self.params.immunity_period
        )
        if pruned is None:
            raise LocalChainError(
                Rejection.SUBNET_FULL,
                f"all {self.params.max_uids} uids are immune or hold a validator permit",
            )
        return pruned

    def serve_axon(self, hotkey: str, ip: str, port: int) -> None:
        neuron = self.neuron(hotkey)
        problem = axon_problem(ip, port)
        if problem is not None:
            raise LocalChainError(Rejection.INVALID_AXON, problem)
        neuron.axon = (ip, port)

    def set_weights(self, hotkey: str, uids: Sequence[int], weights: Sequence[float], version_key: int) -> int:
        """Store the hotkey's weights and return the block they were set at."""
        validator = self.neuron(hotkey)
        if validator.uid not in self.permits():
            raise LocalChainError(Rejection.NO_VALIDATOR_PERMIT, f"uid {validator.uid} has no validator permit")
        if version_key < self.params.weights_version:
            raise LocalChainError(
                Rejection.OUTDATED_VERSION,
                f"version_key {version_key} is below the required {self.params.weights_version}",
            )
        remaining = rate_limit_remaining(validator.weights_set_at, self.state.block, self.params.weights_rate_limit)
        if remaining:
            raise LocalChainError(
                Rejection.RATE_LIMITED,
                f"weights were set at block {validator.weights_set_at}; retry in {remaining} blocks",
                retry_in_blocks=remaining,
            )
        validator.weights = validated_row(uids, weights, self.state.neurons.keys())
        validator.weights_set_at = self.state.block
        return self.state.block

    def metagraph(self) -> Metagraph:
        permits = self.permits()
        neurons = tuple(
            NeuronInfo(
                uid=n.uid,
                hotkey=n.hotkey,
                coldkey=n.coldkey,
                stake=n.stake,
                validator_permit=n.uid in permits,
                axon=AxonInfo(ip=n.axon[0], port=n.axon[1]) if n.axon else None,
                last_update=n.last_update,
                incentive=n.incentive,
            )
            for n in sorted(self.state.neurons.values(), key=lambda n: n.uid)
        )
        return Metagraph(netuid=self.params.netuid, block=self.state.block, neurons=neurons)

    def hyperparameters(self) -> Hyperparameters:
        return Hyperparameters(
            tempo=self.params.tempo,
            weights_rate_limit=self.params.weights_rate_limit,
            commit_reveal_enabled=False,
        )


TEMP_SUFFIX = ".tmp"


class ChainStateError(RuntimeError):
    """The state file cannot be used; the message names the file and how to recover."""


def temp_prefix(path: Path) -> str:
    return f".{path.name}."


def remove_stale_temp_files(path: Path) -> list[Path]:
    """Delete the temp files a killed writer left beside `path` (only ours: `.<name>.*.tmp`)."""
    removed: list[Path] = []
    try:
        candidates = list(path.parent.glob(f"{temp_prefix(path)}*{TEMP_SUFFIX}"))
    except OSError:
        return removed
    for candidate in candidates:
        if candidate.is_file() and not candidate.is_symlink():
            candidate.unlink(missing_ok=True)
            removed.append(candidate)
    return removed


def keep_aside(path: Path) -> Path:
    """Move `path` to `<name>.corrupt-<UTC time>[-N]`, never over an existing file; returns where it went."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S.%fZ")
    for attempt in range(1000):
        aside = path.with_name(f"{path.name}.corrupt-{stamp}" + (f"-{attempt}" if attempt else ""))
        try:
            os.link(path, aside)  # fails rather than replaces when the name is taken
        except FileExistsError:
            continue
        path.unlink()
        return aside
    raise ChainStateError(f"no free name to keep {path} aside under")


def save_state(path: Path, state: ChainState) -> None:
    """Write atomically (temp file, fsync, rename) so a crash leaves the old state or the new one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=temp_prefix(path), suffix=TEMP_SUFFIX, dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(state.model_dump_json())
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def load_state(path: Path, new_identity: Callable[[], str], *, discard_corrupt: bool = False) -> ChainState:
    """The saved state, or a new chain's when there is no file yet.

    Stale temp files beside it are removed first. A file that is not a regular file, cannot be
    read or does not parse raises `ChainStateError` and is left exactly as it was, unless
    `discard_corrupt` asks for a new chain: then an unparseable file is kept aside (`keep_aside`).
    """
    for stale in remove_stale_temp_files(path):
        log_event(logger, "chain_state_temp_removed", logging.WARNING, path=str(stale))
    recover = f"ocr-subnet chain serve --state {path} --discard-corrupt-state"
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return ChainState(identity=new_identity())
    except IsADirectoryError:
        raise ChainStateError(
            f"chain state {path} is a directory, not a state file; pass --state a file path "
            "(it is created when missing)"
        ) from None
    except OSError as exc:
        raise ChainStateError(f"chain state {path} cannot be read: {exc.strerror or exc}") from None
    try:
        return ChainState.model_validate_json(raw)
    except ValidationError as exc:
        problem = f"{exc.error_count()} error(s), first: {exc.errors()[0]['msg']}"[:300]
    if not discard_corrupt:
        raise ChainStateError(
            f"chain state {path} is corrupt or truncated ({len(raw)} bytes; {problem}); it was left untouched. "
            f"Restore it from a backup, or start a new chain (no neurons, new identity) with: {recover}"
            " -- the file is then kept beside it as *.corrupt-<time>"
        )
    aside = keep_aside(path)
    log_event(logger, "chain_state_corrupt", logging.WARNING, path=str(path), moved_to=str(aside), error=problem)
    return ChainState(identity=new_identity())
