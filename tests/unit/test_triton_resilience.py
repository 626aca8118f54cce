"""The Triton client's circuit breaker and retry policy, as pure transitions on plain values."""

from __future__ import annotations

import pytest
from ocr_subnet.triton.resilience import (
    Breaker,
    BreakerPolicy,
    BreakerState,
    CircuitBreaker,
    RetryPolicy,
    admit,
    is_retryable,
    record_failure,
    retry_delay,
)

POLICY = BreakerPolicy(failure_threshold=3, cooldown_s=5.0)


def fail(breaker: Breaker, times: int, now: float = 0.0) -> Breaker:
    for _ in range(times):
        breaker = record_failure(breaker, POLICY, now)
    return breaker


def test_a_closed_breaker_admits_and_counts_consecutive_failures() -> None:
    allowed, breaker = admit(Breaker(), POLICY, now=0.0)
    assert allowed
    breaker = fail(breaker, 2)
    assert breaker.state is BreakerState.CLOSED
    assert breaker.failures == 2


def test_the_threshold_th_failure_opens_it_and_requests_fail_fast_during_the_cooldown() -> None:
    breaker = fail(Breaker(), 3, now=10.0)
    assert breaker == Breaker(BreakerState.OPEN, 0, 10.0)
    allowed, still = admit(breaker, POLICY, now=14.9)
    assert not allowed
    assert still == breaker


def test_after_the_cooldown_one_probe_goes_through_half_open_and_others_wait() -> None:
    opened = fail(Breaker(), 3, now=10.0)
    allowed, probing = admit(opened, POLICY, now=15.0)
    assert allowed
    assert probing == Breaker(BreakerState.HALF_OPEN, 0, 15.0)
    second, _ = admit(probing, POLICY, now=15.1)
    assert not second


def test_a_failed_probe_reopens_for_a_full_cooldown() -> None:
    _, probing = admit(fail(Breaker(), 3, now=10.0), POLICY, now=15.0)
    reopened = record_failure(probing, POLICY, now=16.0)
    assert reopened == Breaker(BreakerState.OPEN, 0, 16.0)
    assert not admit(reopened, POLICY, now=20.9)[0]


def test_a_probe_that_never_reports_back_is_replaced_after_another_cooldown() -> None:
    _, probing = admit(fail(Breaker(), 3, now=10.0), POLICY, now=15.0)
    allowed, again = admit(probing, POLICY, now=20.0)
    assert allowed
    assert again == Breaker(BreakerState.HALF_OPEN, 0, 20.0)


def test_late_failures_of_requests_admitted_before_it_opened_do_not_extend_the_cooldown() -> None:
    opened = fail(Breaker(), 3, now=10.0)
    assert record_failure(opened, POLICY, now=12.0) == opened


def test_the_threadsafe_breaker_closes_on_success_and_forgets_failures() -> None:
    now = [0.0]
    breaker = CircuitBreaker(POLICY, clock=lambda: now[0])
    for _ in range(3):
        assert breaker.admit()
        breaker.failed()
    assert breaker.state is BreakerState.OPEN
    assert not breaker.admit()
    now[0] = 5.0
    assert breaker.admit()
    assert breaker.state is BreakerState.HALF_OPEN
    breaker.succeeded()
    assert breaker.state is BreakerState.CLOSED
    breaker.failed()
    breaker.failed()
    assert breaker.state is BreakerState.CLOSED  # two, not five: the success reset the count


def test_breaker_policy_refuses_nonsense() -> None:
    with pytest.raises(ValueError):
        BreakerPolicy(failure_threshold=0)
    with pytest.raises(ValueError):
        BreakerPolicy(cooldown_s=0)


RETRY = RetryPolicy(max_attempts=3, base_delay_s=0.1, max_delay_s=0.15, min_attempt_s=0.2)


def test_retry_backs_off_exponentially_up_to_the_cap_and_stops_after_max_attempts() -> None:
    assert retry_delay(RETRY, attempts_made=1, retryable=True, remaining_s=10.0) == pytest.approx(0.1)
    assert retry_delay(RETRY, attempts_made=2, retryable=True, remaining_s=10.0) == pytest.approx(0.15)
    assert retry_delay(RETRY, attempts_made=3, retryable=True, remaining_s=10.0) is None


def test_no_retry_for_permanent_errors_or_when_the_budget_cannot_hold_another_attempt() -> None:
    assert retry_delay(RETRY, attempts_made=1, retryable=False, remaining_s=10.0) is None
    assert retry_delay(RETRY, attempts_made=1, retryable=True, remaining_s=0.29) is None
    assert retry_delay(RETRY, attempts_made=1, retryable=True, remaining_s=0.31) == pytest.approx(0.1)


def test_only_transient_grpc_statuses_are_retryable() -> None:
    assert is_retryable("StatusCode.UNAVAILABLE")
    assert not is_retryable("StatusCode.DEADLINE_EXCEEDED")  # a slow Triton: retrying only burns the deadline
    assert not is_retryable("StatusCode.INVALID_ARGUMENT")
    assert not is_retryable(None)


def test_retry_policy_refuses_nonsense() -> None:
    with pytest.raises(ValueError):
        RetryPolicy(max_attempts=0)
    with pytest.raises(ValueError):
        RetryPolicy(base_delay_s=1.0, max_delay_s=0.5)
