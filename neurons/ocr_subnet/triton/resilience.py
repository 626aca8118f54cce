"""How the miner's Triton client fails: a circuit breaker and a bounded retry policy, as pure functions.

When Triton is down every request would otherwise spend its whole deadline on connection attempts
and hold a miner slot meanwhile; the breaker turns that into an immediate 503 after a few failures,
lets one probe through after a cooldown, and closes again as soon as a probe succeeds. Time is an
argument (`now`, monotonic seconds), never read here, so every transition is unit-tested on values.
"""

from __future__ import annotations

import enum
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace


class BreakerState(enum.StrEnum):
    CLOSED = "closed"  # requests flow; consecutive failures are counted
    OPEN = "open"  # requests fail at once until the cooldown has passed
    HALF_OPEN = "half_open"  # one probe is in flight; its outcome closes or reopens the breaker


@dataclass(frozen=True)
class BreakerPolicy:
    failure_threshold: int = 3  # consecutive failures that open the breaker
    cooldown_s: float = 2.0  # how long it stays open before letting a probe through

    def __post_init__(self) -> None:
        if self.failure_threshold < 1 or self.cooldown_s <= 0:
            raise ValueError("failure_threshold must be >= 1 and cooldown_s > 0")


@dataclass(frozen=True)
class Breaker:
    state: BreakerState = BreakerState.CLOSED
    failures: int = 0  # consecutive, while closed
    since: float = 0.0  # when it last opened or let its probe through


def admit(breaker: Breaker, policy: BreakerPolicy, now: float) -> tuple[bool, Breaker]:
    """May a request go to Triton now, and the breaker afterwards.

    A probe that never reported back (its thread was abandoned) does not wedge the breaker: after
    another cooldown in half-open the next request becomes the probe.
    """
    if breaker.state is BreakerState.CLOSED:
        return True, breaker
    if now - breaker.since >= policy.cooldown_s:
        return True, replace(breaker, state=BreakerState.HALF_OPEN, since=now)
    return False, breaker


def record_failure(breaker: Breaker, policy: BreakerPolicy, now: float) -> Breaker:
    """A failed probe reopens at once; while closed, the threshold-th consecutive failure opens."""
    if breaker.state is BreakerState.HALF_OPEN:
        return Breaker(BreakerState.OPEN, 0, now)
    if breaker.state is BreakerState.OPEN:  # a request admitted before it opened: the cooldown stands
        return breaker
    failures = breaker.failures + 1
    if failures >= policy.failure_threshold:
        return Breaker(BreakerState.OPEN, 0, now)
    return replace(breaker, failures=failures)


class CircuitBreaker:
    """The pure breaker behind a lock, for the miner's concurrent backend threads."""

    def __init__(self, policy: BreakerPolicy, clock: Callable[[], float] = time.monotonic) -> None:
        self.policy = policy
        self._clock = clock
        self._lock = threading.Lock()
        self._breaker = Breaker()

    @property
    def state(self) -> BreakerState:
        return self._breaker.state

    def admit(self) -> bool:
        with self._lock:
            allowed, self._breaker = admit(self._breaker, self.policy, self._clock())
            return allowed

    def succeeded(self) -> None:
        """Any answer from Triton proves it is back: closed, failures forgotten."""
        with self._lock:
            self._breaker = Breaker()

    def failed(self) -> None:
        with self._lock:
            self._breaker = record_failure(self._breaker, self.policy, self._clock())


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 3  # attempts per page, the first included
    base_delay_s: float = 0.1  # with the doubling, three attempts span ~0.3 s: a reconnect backoff's worth
    max_delay_s: float = 0.4
    min_attempt_s: float = 0.2  # an attempt with less time left than this is not worth starting

    def __post_init__(self) -> None:
        if self.max_attempts < 1 or self.base_delay_s < 0 or self.max_delay_s < self.base_delay_s:
            raise ValueError("max_attempts must be >= 1 and 0 <= base_delay_s <= max_delay_s")


def retry_delay(policy: RetryPolicy, attempts_made: int, retryable: bool, remaining_s: float) -> float | None:
    """Seconds to wait before the next attempt, or None to give up: attempts are bounded, backoff
    doubles up to a cap, and no attempt starts that could not finish within the caller's budget."""
    if not retryable or attempts_made >= policy.max_attempts:
        return None
    delay = min(policy.max_delay_s, policy.base_delay_s * 2 ** (attempts_made - 1))
    if remaining_s - delay < policy.min_attempt_s:
        return None
    return delay


# gRPC status codes worth another attempt: the server was unreachable or shed the request. A
# DEADLINE_EXCEEDED is not retried: a slow Triton would only take the rest of the caller's budget.
RETRYABLE_STATUSES = frozenset({"StatusCode.UNAVAILABLE", "StatusCode.RESOURCE_EXHAUSTED", "StatusCode.ABORTED"})


def is_retryable(status: str | None) -> bool:
    return status in RETRYABLE_STATUSES
