"""The miner's pure decisions: blacklist, auth failure mapping, priority, budgets, addresses, config."""

from __future__ import annotations

import pytest
from bittensor.http_auth import BadSignature, MalformedAuth, ReplayedRequest, StaleRequest, WrongReceiver
from ocr_subnet import metric_names
from ocr_subnet.chain.port import Metagraph, NeuronInfo
from ocr_subnet.miner.config import MinerConfig
from ocr_subnet.miner.policy import (
    Denial,
    Outcome,
    advertised_address,
    auth_failure,
    blacklist_reason,
    priority_key,
    remaining_budget,
)


def neuron(uid: int, hotkey: str, stake: float, permit: bool) -> NeuronInfo:
    return NeuronInfo(
        uid=uid,
        hotkey=hotkey,
        coldkey=f"cold-{uid}",
        stake=stake,
        validator_permit=permit,
        axon=None,
        last_update=0,
    )


METAGRAPH = Metagraph(
    netuid=1,
    block=100,
    neurons=(
        neuron(0, "validator", stake=500.0, permit=True),
        neuron(1, "no-permit", stake=500.0, permit=False),
        neuron(2, "poor-validator", stake=5.0, permit=True),
    ),
)


def test_registered_validator_with_enough_stake_is_allowed() -> None:
    assert blacklist_reason("validator", METAGRAPH, min_stake=100.0) is None


def test_unregistered_hotkey_is_denied() -> None:
    assert blacklist_reason("stranger", METAGRAPH, min_stake=0.0) is Denial.UNREGISTERED


def test_hotkey_without_validator_permit_is_denied() -> None:
    assert blacklist_reason("no-permit", METAGRAPH, min_stake=0.0) is Denial.NO_VALIDATOR_PERMIT


def test_hotkey_without_permit_is_allowed_when_permits_are_not_required() -> None:
    assert blacklist_reason("no-permit", METAGRAPH, min_stake=0.0, require_validator_permit=False) is None


def test_stake_below_minimum_is_denied() -> None:
    assert blacklist_reason("poor-validator", METAGRAPH, min_stake=100.0) is Denial.STAKE_BELOW_MINIMUM


def test_stake_equal_to_minimum_is_allowed() -> None:
    assert blacklist_reason("poor-validator", METAGRAPH, min_stake=5.0) is None


@pytest.mark.parametrize("error_type", [MalformedAuth, BadSignature, StaleRequest, ReplayedRequest])
def test_auth_failures_are_unauthenticated(error_type: type[Exception]) -> None:
    answer = auth_failure(error_type("why"))
    assert (answer.outcome, answer.status) == (Outcome.UNAUTHORIZED, 401)
    assert error_type.__name__ in answer.detail


def test_request_for_another_receiver_is_forbidden() -> None:
    answer = auth_failure(WrongReceiver("not for us"))
    assert (answer.outcome, answer.status) == (Outcome.UNAUTHORIZED, 403)


def test_outcomes_are_the_shared_metric_label_values() -> None:
    assert tuple(outcome.value for outcome in Outcome) == metric_names.MINER_OUTCOMES


def test_priority_puts_higher_stake_first_then_arrival_order() -> None:
    waiting = [("low", 10.0, 0), ("high", 900.0, 1), ("mid", 50.0, 2), ("high-later", 900.0, 3)]
    order = sorted(waiting, key=lambda item: priority_key(item[1], item[2]))
    assert [name for name, _, _ in order] == ["high", "high-later", "mid", "low"]


def test_remaining_budget_keeps_a_margin_for_the_answer() -> None:
    assert remaining_budget(deadline_s=12.0, elapsed_s=2.0, margin_s=0.5) == pytest.approx(9.5)


def test_remaining_budget_is_never_negative() -> None:
    assert remaining_budget(deadline_s=1.0, elapsed_s=3.0, margin_s=0.2) == 0.0


def test_advertised_address_defaults_to_the_bound_one() -> None:
    assert advertised_address("127.0.0.1", 8091, None, None) == ("127.0.0.1", 8091)


def test_advertised_address_prefers_external_ip_and_port() -> None:
    assert advertised_address("0.0.0.0", 8091, "127.0.0.1", 30091) == ("127.0.0.1", 30091)


@pytest.mark.parametrize("wildcard", ["0.0.0.0", "::"])
def test_wildcard_bind_without_external_ip_cannot_be_advertised(wildcard: str) -> None:
    with pytest.raises(ValueError, match="external ip"):
        advertised_address(wildcard, 8091, None, None)


def test_config_refuses_a_wildcard_bind_it_would_have_to_serve_on_chain() -> None:
    with pytest.raises(ValueError, match="external ip"):
        MinerConfig(host="0.0.0.0")


def test_config_accepts_a_wildcard_bind_when_not_serving_the_axon() -> None:
    assert MinerConfig(host="0.0.0.0", serve_axon=False).host == "0.0.0.0"


def test_config_refuses_zero_concurrency() -> None:
    with pytest.raises(ValueError, match="max_concurrency"):
        MinerConfig(max_concurrency=0)


def test_config_refuses_negative_min_stake() -> None:
    with pytest.raises(ValueError, match="min_stake"):
        MinerConfig(min_stake=-1.0)
