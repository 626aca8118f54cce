"""The validator's pure decisions: EMA, reconciliation, weights, sampling, timing, version key."""

from __future__ import annotations

import math
import random

import pytest
from ocr_subnet.chain.port import AxonInfo, Metagraph, NeuronInfo
from ocr_subnet.validator import policy
from ocr_subnet.validator.policy import MinerScore, Reward

SELF = "validator-hotkey"


def neuron(uid: int, hotkey: str, *, axon: AxonInfo | None = None, last_update: int = 0) -> NeuronInfo:
    served = axon if axon is not None else AxonInfo(f"1.2.3.{uid}", 9000 + uid)  # global unicast
    return NeuronInfo(
        uid=uid,
        hotkey=hotkey,
        coldkey="cold",
        stake=0.0,
        validator_permit=False,
        axon=served,
        last_update=last_update,
    )


def graph(*neurons: NeuronInfo, block: int = 100) -> Metagraph:
    return Metagraph(netuid=1, block=block, neurons=neurons)


def test_ema_update_moves_towards_reward_by_alpha() -> None:
    assert policy.ema_update(0.0, 1.0, 0.1) == pytest.approx(0.1)
    assert policy.ema_update(0.5, 0.5, 0.3) == pytest.approx(0.5)
    assert policy.ema_update(0.2, 1.0, 1.0) == pytest.approx(1.0)


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf, -3.0, 7.0])
def test_ema_update_is_nan_safe_and_bounded(bad: float) -> None:
    value = policy.ema_update(0.5, bad, 0.5)
    assert 0.0 <= value <= 1.0
    assert not math.isnan(value)
    assert 0.0 <= policy.ema_update(bad, 0.5, 0.5) <= 1.0


@pytest.mark.parametrize("alpha", [0.0, -0.1, 1.5, math.nan])
def test_ema_update_rejects_an_alpha_outside_zero_one(alpha: float) -> None:
    with pytest.raises(ValueError, match="alpha"):
        policy.ema_update(0.0, 1.0, alpha)


def test_apply_rewards_starts_new_miners_from_zero_and_counts_rounds() -> None:
    scores = policy.apply_rewards({}, [Reward(3, "a", 1.0)], alpha=0.5)
    assert scores == {"a": MinerScore(uid=3, ema=0.5, rounds=1)}
    scores = policy.apply_rewards(scores, [Reward(3, "a", 1.0), Reward(4, "b", 0.0)], alpha=0.5)
    assert scores["a"] == MinerScore(uid=3, ema=0.75, rounds=2)
    assert scores["b"] == MinerScore(uid=4, ema=0.0, rounds=1)


def test_apply_rewards_resets_a_hotkey_seen_at_another_uid() -> None:
    scores = {"a": MinerScore(uid=3, ema=0.9, rounds=10)}
    moved = policy.apply_rewards(scores, [Reward(7, "a", 0.0)], alpha=0.5)
    assert moved == {"a": MinerScore(uid=7, ema=0.0, rounds=1)}


def test_reconcile_drops_deregistered_and_replaced_hotkeys() -> None:
    scores = {
        "kept": MinerScore(uid=1, ema=0.4),
        "gone": MinerScore(uid=2, ema=0.4),
        "replaced": MinerScore(uid=3, ema=0.9),
    }
    metagraph = graph(neuron(1, "kept"), neuron(3, "newcomer"))
    assert policy.reconcile_scores(scores, metagraph) == {"kept": MinerScore(uid=1, ema=0.4)}


def test_sampling_excludes_self_and_unserved_axons() -> None:
    metagraph = graph(
        neuron(0, SELF),
        neuron(1, "m1"),
        neuron(2, "m2", axon=AxonInfo("0.0.0.0", 8000)),
        neuron(3, "m3", axon=AxonInfo("127.0.0.1", 0)),
        NeuronInfo(4, "m4", "c", 0.0, False, None, 0),
        neuron(5, "m5"),
    )
    chosen = policy.sample_miners(metagraph, SELF, k=10, rng=random.Random(1))
    assert [n.uid for n in chosen] == [1, 5]


def test_sampling_draws_k_distinct_miners_and_covers_everyone_over_time() -> None:
    metagraph = graph(*(neuron(uid, f"m{uid}") for uid in range(10)))
    rng = random.Random(7)
    seen: set[int] = set()
    for _ in range(50):
        chosen = policy.sample_miners(metagraph, SELF, k=3, rng=rng)
        assert len({n.uid for n in chosen}) == 3
        seen.update(n.uid for n in chosen)
    assert seen == set(range(10))
    assert policy.sample_miners(metagraph, SELF, k=0, rng=rng) == []


def test_weights_are_normalized_powers_of_the_emas_by_uid() -> None:
    metagraph = graph(neuron(0, SELF), neuron(1, "a"), neuron(2, "b"), neuron(3, "c"))
    scores = {"a": MinerScore(uid=1, ema=0.6), "b": MinerScore(uid=2, ema=0.2)}
    uids, weights = policy.weights_from_scores(scores, metagraph, SELF, power=1.0)
    assert uids == [1, 2, 3]
    assert weights == pytest.approx([0.75, 0.25, 0.0])
    assert math.fsum(weights) == pytest.approx(1.0)
    _, weights = policy.weights_from_scores(scores, metagraph, SELF)  # the default power, 3
    assert policy.DEFAULT_WEIGHT_POWER == 3.0
    assert weights == pytest.approx([0.6**3 / (0.6**3 + 0.2**3), 0.2**3 / (0.6**3 + 0.2**3), 0.0])


def test_miners_far_below_the_best_keep_a_vanishing_share_of_the_weight() -> None:
    """A mixed population as the subnet sees it: honest readers (our model, tesseract-class engines) and
    many no-read hotkeys at the EMA the old scorer let them reach (0.09). Linear weights left the
    no-read crowd 6-17%; the default power leaves each under 0.1% and all of them together under 1%."""
    honest = {"model": 0.9, "model-2": 0.85, "tesseract": 0.45, "tesseract-2": 0.4}
    no_read = {f"no-read-{i}": 0.09 for i in range(8)}
    emas = {**honest, **no_read}
    metagraph = graph(neuron(0, SELF), *(neuron(uid, hotkey) for uid, hotkey in enumerate(emas, start=1)))
    scores = {hotkey: MinerScore(uid=uid, ema=ema) for uid, (hotkey, ema) in enumerate(emas.items(), start=1)}
    share = dict(zip(emas, policy.weights_from_scores(scores, metagraph, SELF)[1], strict=True))
    linear = dict(zip(emas, policy.weights_from_scores(scores, metagraph, SELF, power=1.0)[1], strict=True))
    assert sum(linear[h] for h in no_read) > 0.15
    assert sum(share[h] for h in no_read) < 0.01
    assert all(share[h] < 0.001 for h in no_read)
    assert share["model"] > share["model-2"] > share["tesseract"] > share["tesseract-2"] > share["no-read-0"] > 0
    assert math.fsum(share.values()) == pytest.approx(1.0)


@pytest.mark.parametrize("power", [0.0, -1.0, math.nan, math.inf])
def test_a_weight_power_that_is_not_a_positive_number_is_refused(power: float) -> None:
    with pytest.raises(ValueError, match="power"):
        policy.weights_from_scores({}, graph(neuron(1, "a")), SELF, power=power)


def test_weights_ignore_a_score_whose_hotkey_no_longer_holds_the_uid() -> None:
    metagraph = graph(neuron(1, "a"), neuron(2, "newcomer"))
    scores = {"a": MinerScore(uid=1, ema=0.5), "old": MinerScore(uid=2, ema=0.9)}
    assert policy.weights_from_scores(scores, metagraph, SELF) == ([1, 2], [1.0, 0.0])


def test_weights_fall_back_to_uniform_when_nothing_was_earned() -> None:
    metagraph = graph(neuron(1, "a"), neuron(2, "b"))
    scores = {"a": MinerScore(uid=1, ema=0.0)}
    assert policy.weights_from_scores(scores, metagraph, SELF) == ([1, 2], [0.5, 0.5])


def test_weights_respect_the_max_weight_limit() -> None:
    metagraph = graph(neuron(1, "a"), neuron(2, "b"), neuron(3, "c"), neuron(4, "d"))
    scores = {"a": MinerScore(uid=1, ema=0.9), "b": MinerScore(uid=2, ema=0.06), "c": MinerScore(uid=3, ema=0.04)}
    uids, weights = policy.weights_from_scores(scores, metagraph, SELF, max_weight=0.5, power=1.0)
    assert uids == [1, 2, 3, 4]
    assert weights == pytest.approx([0.5, 0.3, 0.2, 0.0])


@pytest.mark.parametrize(
    ("weights", "limit", "expected"),
    [
        ([0.7, 0.2, 0.1], 1.0, [0.7, 0.2, 0.1]),
        ([0.7, 0.2, 0.1], 0.7, [0.7, 0.2, 0.1]),
        ([0.6, 0.3, 0.1, 0.0], 0.35, [0.35, 0.35, 0.3, 0.0]),  # the excess pushes a second weight over
        ([1.0, 0.0, 0.0], 0.5, [0.5, 0.25, 0.25]),  # nothing else earned: shared evenly
        ([0.9, 0.1], 0.4, [0.5, 0.5]),  # below 1/n the limit cannot hold: uniform
        ([], 0.5, []),
    ],
)
def test_cap_weights(weights: list[float], limit: float, expected: list[float]) -> None:
    capped = policy.cap_weights(weights, limit)
    assert capped == pytest.approx(expected)
    if capped:
        assert math.fsum(capped) == pytest.approx(1.0) and max(capped) <= max(limit, 1 / len(capped)) + 1e-12


def test_weights_are_empty_without_any_miner() -> None:
    assert policy.weights_from_scores({}, graph(neuron(0, SELF)), SELF) == ([], [])


def test_weights_are_nan_safe() -> None:
    metagraph = graph(neuron(1, "a"), neuron(2, "b"))
    scores = {
        "a": MinerScore.model_construct(uid=1, ema=math.nan, rounds=1),
        "b": MinerScore.model_construct(uid=2, ema=0.5, rounds=1),
    }
    uids, weights = policy.weights_from_scores(scores, metagraph, SELF)
    assert uids == [1, 2]
    assert weights == [0.0, 1.0]


@pytest.mark.parametrize(
    ("current", "last", "tempo", "rate_limit", "expected"),
    [
        (100, None, 10, 5, 0),  # never set: now
        (105, 100, 10, 5, 5),  # once per epoch even though the rate limit allows it
        (110, 100, 10, 5, 0),
        (110, 100, 10, 20, 10),  # the rate limit wins when it is longer than an epoch
        (500, 100, 10, 20, 0),
        (100, 100, 0, 0, 1),  # never twice in one block
    ],
)
def test_blocks_until_weights(current: int, last: int | None, tempo: int, rate_limit: int, expected: int) -> None:
    assert policy.blocks_until_weights(current, last, tempo, rate_limit) == expected


def test_last_set_block_prefers_the_latest_and_ignores_the_future() -> None:
    own = neuron(0, SELF, last_update=90)
    assert policy.last_set_block(own, 80, current_block=100) == 90
    assert policy.last_set_block(own, 95, current_block=100) == 95
    assert policy.last_set_block(own, 5_000, current_block=100) == 90  # chain was reset under us
    assert policy.last_set_block(None, None, current_block=100) is None


def test_retry_delay_backs_off_exponentially_up_to_a_cap() -> None:
    delays = [policy.retry_delay(n, base_s=2.0, cap_s=30.0) for n in range(7)]
    assert delays == [0.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0]


@pytest.mark.parametrize(("version", "key"), [("0.1.0", 100), ("1.2.3", 10203), ("2.0", 20000), ("1.4.0rc1", 10400)])
def test_version_key(version: str, key: int) -> None:
    assert policy.version_key(version) == key


def test_the_weights_version_key_leads_with_the_scoring_version() -> None:
    assert policy.weights_version_key("0.1.0", 2) == 2_000_100
    assert policy.weights_version_key("9.9.9", 1) < policy.weights_version_key("0.1.0", 2)


LOCAL_CLUSTER = policy.parse_networks(["10.200.0.0/24", "10.244.0.0/16,10.96.0.0/24", "172.16.0.0/12"])


@pytest.mark.parametrize(
    ("ip", "allowed", "queryable"),
    [
        ("1.2.3.4", (), True),
        ("2606:4700::1111", (), True),
        ("127.0.0.2", (), False),  # loopback only when asked for
        ("::1", (), False),
        ("10.244.3.7", (), False),  # private
        ("192.168.1.10", (), False),
        ("100.64.0.1", (), False),  # carrier-grade NAT: not global
        ("fd00::1", (), False),  # unique local
        ("::ffff:10.0.0.1", (), False),  # a private IPv4 address dressed as IPv6
        ("169.254.169.254", (), False),  # link-local: the cloud metadata service
        ("fe80::1", (), False),
        ("224.0.0.1", (), False),  # multicast
        ("ff02::1", (), False),
        ("255.255.255.255", (), False),  # broadcast
        ("0.0.0.0", (), False),  # unspecified: never served
        ("::", (), False),
        ("not-an-ip", (), False),
        ("127.0.0.2", policy.parse_networks(["127.0.0.0/8"]), True),
        ("10.244.3.7", LOCAL_CLUSTER, True),
        ("10.200.0.1", LOCAL_CLUSTER, True),  # a node IP
        ("10.96.0.10", LOCAL_CLUSTER, True),  # a service IP
        ("172.18.0.2", LOCAL_CLUSTER, True),  # a kind node
        ("::ffff:10.244.0.5", LOCAL_CLUSTER, True),
        ("10.245.0.1", LOCAL_CLUSTER, False),  # outside every allowed range
        ("192.168.1.10", LOCAL_CLUSTER, False),
        ("169.254.1.1", policy.parse_networks(["169.254.0.0/16"]), False),  # no setting opens link-local
        ("224.0.0.1", policy.parse_networks(["224.0.0.0/4"]), False),
        ("0.0.0.0", policy.parse_networks(["0.0.0.0/0"]), False),
        ("10.1.1.1", policy.parse_networks(["0.0.0.0/0"]), True),  # an explicit catch-all opens private ranges
    ],
)
def test_only_global_unicast_axons_are_queried_unless_allowed(ip: str, allowed: tuple, queryable: bool) -> None:
    miner = neuron(1, "m1", axon=AxonInfo(ip, 8091))
    assert policy.is_queryable(miner, SELF, allowed) is queryable
    metagraph = graph(neuron(0, SELF), miner)
    sampled = policy.sample_miners(metagraph, SELF, k=5, rng=random.Random(0), allowed=allowed)
    assert [n.uid for n in sampled] == ([1] if queryable else [])
    assert policy.weights_from_scores({}, metagraph, SELF, allowed=allowed)[0] == ([1] if queryable else [])


@pytest.mark.parametrize("bad", ["10.244.0.1/16", "10.244.0.0/33", "cluster", "10.0.0.0/8;rm -rf"])
def test_an_allowed_network_that_is_not_a_cidr_is_a_clear_error(bad: str) -> None:
    with pytest.raises(ValueError, match="not a network in CIDR notation") as caught:
        policy.parse_networks([bad])
    assert repr(bad.split(",")[0]) in str(caught.value)


def test_allowed_networks_split_on_commas_and_skip_blanks() -> None:
    assert [str(n) for n in policy.parse_networks(["127.0.0.0/8, ::1/128", ""])] == ["127.0.0.0/8", "::1/128"]
