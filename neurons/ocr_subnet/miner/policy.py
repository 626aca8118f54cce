"""The miner's decisions as pure functions: who may ask, who goes first, what each failure answers.

Kept free of I/O so every rule is unit-tested on plain values; the HTTP layer only applies them.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from bittensor.http_auth import AuthError, WrongReceiver

from ocr_subnet.chain.port import Metagraph


class Outcome(enum.StrEnum):
    """How a request ended; the values are `metric_names.MINER_OUTCOMES`."""

    OK = "ok"
    UNAUTHORIZED = "unauthorized"
    BLACKLISTED = "blacklisted"
    BAD_REQUEST = "bad_request"
    TOO_LARGE = "too_large"
    OVERLOADED = "overloaded"
    BACKEND_ERROR = "backend_error"


class Denial(enum.StrEnum):
    """Why a caller is blacklisted."""

    UNREGISTERED = "unregistered"
    NO_VALIDATOR_PERMIT = "no_validator_permit"
    STAKE_BELOW_MINIMUM = "stake_below_minimum"


@dataclass(frozen=True)
class Answer:
    """How a request ends: the outcome we count, the HTTP status, the detail the caller reads."""

    outcome: Outcome
    status: int
    detail: str


def blacklist_reason(
    hotkey: str, metagraph: Metagraph, min_stake: float, require_validator_permit: bool = True
) -> Denial | None:
    """Only registered validators with enough stake may spend our OCR time; None means allowed."""
    neuron = metagraph.by_hotkey(hotkey)
    if neuron is None:
        return Denial.UNREGISTERED
    if require_validator_permit and not neuron.validator_permit:
        return Denial.NO_VALIDATOR_PERMIT
    if neuron.stake < min_stake:
        return Denial.STAKE_BELOW_MINIMUM
    return None


def blacklisted(denial: Denial) -> Answer:
    return Answer(Outcome.BLACKLISTED, 403, f"caller is blacklisted: {denial.value}")


def auth_failure(error: AuthError) -> Answer:
    """A request for another miner is forbidden (403); any other auth failure is unauthenticated (401).

    AuthError messages never echo secrets, so they are safe to return.
    """
    status = 403 if isinstance(error, WrongReceiver) else 401
    return Answer(Outcome.UNAUTHORIZED, status, f"{type(error).__name__}: {error}")


def too_large(limit: int) -> Answer:
    return Answer(Outcome.TOO_LARGE, 413, f"request body is over the {limit} byte limit")


def bad_request(detail: str) -> Answer:
    return Answer(Outcome.BAD_REQUEST, 400, detail)


def body_too_slow(timeout_s: float) -> Answer:
    """408: the body did not arrive within the signature's freshness window; it would be stale."""
    return Answer(Outcome.BAD_REQUEST, 408, f"request body not received within {timeout_s:g}s")


def image_over_budget(width: int, height: int, budget: int) -> Answer:
    """413: this image alone needs more decoded pixels than the miner ever holds at once."""
    return Answer(Outcome.TOO_LARGE, 413, f"image is {width}x{height}, over this miner's {budget} decoded-pixel budget")


def overloaded(detail: str) -> Answer:
    """503, not 429: the whole miner is saturated, not this caller over a personal rate."""
    return Answer(Outcome.OVERLOADED, 503, f"overloaded: {detail}")


def backend_failed(detail: str) -> Answer:
    return Answer(Outcome.BACKEND_ERROR, 503, f"backend error: {detail}")


def priority_key(stake: float, arrival: int) -> tuple[float, int]:
    """Sort key for waiting requests: highest stake first, then first come first served."""
    return (-stake, arrival)


def remaining_budget(deadline_s: float, elapsed_s: float, margin_s: float) -> float:
    """Seconds still worth spending on a request: the caller stops waiting at its deadline, and the
    answer needs `margin_s` to travel back. Never negative."""
    return max(0.0, deadline_s - elapsed_s - margin_s)


UNSPECIFIED_ADDRESSES = ("0.0.0.0", "::", "")


def advertised_address(host: str, port: int, external_ip: str | None, external_port: int | None) -> tuple[str, int]:
    """The ip/port published on chain: the external ones when given, else what we bind.

    A wildcard bind address cannot be dialled, so it requires an explicit external ip.
    """
    ip = external_ip or host
    if ip in UNSPECIFIED_ADDRESSES:
        raise ValueError(f"binding {host!r} needs an explicit external ip to serve on chain")
    return ip, external_port or port
