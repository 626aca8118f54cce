"""The local chain's rules and its state file, without a server."""

from __future__ import annotations

import json
import logging

import pytest
from ocr_subnet.chain.local_state import (
    ChainParams,
    ChainState,
    ChainStateError,
    LocalChain,
    LocalChainError,
    NeuronState,
    Rejection,
    load_state,
    prune_candidate,
    rate_limit_remaining,
    save_state,
    validated_row,
)
from ocr_subnet.chain.port import AxonInfo

IDENTITY = "5EAieEuLsGT4k43zaqW3jL72sRBx3QM5MXQP3BZ6DVVMnTYv"


def make_chain(**params) -> LocalChain:
    defaults = {
        "tempo": 5,
        "weights_rate_limit": 3,
        "max_uids": 8,
        "max_validators": 2,
        "immunity_period": 10,
    }
    return LocalChain(ChainParams(**{**defaults, **params}), ChainState(identity=IDENTITY))


def advance(chain: LocalChain, blocks: int) -> None:
    for _ in range(blocks):
        chain.advance()


def rejection(call) -> LocalChainError:
    with pytest.raises(LocalChainError) as caught:
        call()
    return caught.value


@pytest.fixture
def chain() -> LocalChain:
    """Validators v0 (stake 60) and v1 (stake 40), miners m2 and m3 without stake."""
    chain = make_chain()
    for hotkey, stake in (("v0", 60.0), ("v1", 40.0), ("m2", 0.0), ("m3", 0.0)):
        chain.register(hotkey, f"cold-{hotkey}", stake)
    return chain


# Rate limit -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("last_set", "block", "limit", "remaining"),
    [(None, 5, 10, 0), (10, 12, 10, 8), (10, 19, 10, 1), (10, 20, 10, 0), (10, 25, 10, 0), (10, 10, 0, 0)],
)
def test_rate_limit_remaining(last_set, block, limit, remaining):
    assert rate_limit_remaining(last_set, block, limit) == remaining


def test_weights_inside_the_rate_limit_are_refused_until_it_passes(chain):
    chain.set_weights("v0", [2], [1.0], version_key=0)
    advance(chain, 2)

    refused = rejection(lambda: chain.set_weights("v0", [3], [1.0], version_key=0))
    assert refused.rejection is Rejection.RATE_LIMITED
    assert refused.retry_in_blocks == 1

    advance(chain, 1)
    assert chain.set_weights("v0", [3], [1.0], version_key=0) == chain.block


def test_the_rate_limit_is_per_hotkey(chain):
    chain.set_weights("v0", [2], [1.0], version_key=0)

    assert chain.set_weights("v1", [2], [1.0], version_key=0) == chain.block


# Registration and uids ----------------------------------------------------------------------


def test_uids_are_assigned_in_order_and_registration_is_idempotent(chain):
    assert [n.uid for n in chain.metagraph().neurons] == [0, 1, 2, 3]
    assert chain.register("m3", "cold-m3", 5.0) == 3
    assert chain.metagraph().by_hotkey("m3").stake == 5.0
    assert len(chain.state.neurons) == 4


def test_a_hotkey_cannot_be_claimed_by_another_coldkey(chain):
    assert rejection(lambda: chain.register("m2", "cold-intruder", 0.0)).rejection is Rejection.COLDKEY_MISMATCH


def test_a_full_subnet_replaces_the_weakest_neuron_past_immunity():
    chain = make_chain(max_uids=3, max_validators=1, immunity_period=4)
    chain.register("v0", "c", 10.0)
    chain.register("m1", "c", 0.0)
    chain.register("m2", "c", 0.0)
    chain.state.neurons[1].incentive = 0.9
    chain.state.neurons[2].incentive = 0.1

    assert rejection(lambda: chain.register("m3", "c", 0.0)).rejection is Rejection.SUBNET_FULL
    advance(chain, 4)
    chain.state.neurons[1].incentive = 0.9
    chain.state.neurons[2].incentive = 0.1

    assert chain.register("m3", "c", 0.0) == 2
    assert chain.metagraph().by_uid(2).hotkey == "m3"
    assert chain.metagraph().by_hotkey("m2") is None


def test_prune_candidate_spares_permit_holders_and_immune_neurons():
    neurons = [
        NeuronState(uid=0, hotkey="v", coldkey="c", stake=9, registered_at=0, incentive=0.0),
        NeuronState(uid=1, hotkey="old", coldkey="c", stake=0, registered_at=0, incentive=0.3),
        NeuronState(uid=2, hotkey="new", coldkey="c", stake=0, registered_at=95, incentive=0.0),
        NeuronState(uid=3, hotkey="older", coldkey="c", stake=0, registered_at=0, incentive=0.3),
    ]

    assert prune_candidate(neurons, permits={0}, block=100, immunity_period=10) == 1
    assert prune_candidate(neurons[:1], permits={0}, block=100, immunity_period=10) is None


# Permits and weights --------------------------------------------------------------------------


def test_the_top_stakes_hold_permits(chain):
    chain.register("m3", "cold-m3", 50.0)

    permits = {n.uid for n in chain.metagraph().neurons if n.validator_permit}

    assert permits == {0, 3}  # max_validators = 2: v0 (60) and m3 (50) beat v1 (40)


def test_weights_need_registration_a_permit_and_a_current_version():
    chain = make_chain(weights_version=2)
    chain.register("v0", "c", 1.0)
    chain.register("m1", "c", 0.0)

    assert rejection(lambda: chain.set_weights("nobody", [1], [1.0], 2)).rejection is Rejection.NOT_REGISTERED
    assert rejection(lambda: chain.set_weights("m1", [0], [1.0], 2)).rejection is Rejection.NO_VALIDATOR_PERMIT
    assert rejection(lambda: chain.set_weights("v0", [1], [1.0], 1)).rejection is Rejection.OUTDATED_VERSION
    assert chain.set_weights("v0", [1], [1.0], 2) == chain.block


@pytest.mark.parametrize(
    ("uids", "weights", "message"),
    [
        ([1, 2], [1.0], "2 uids but 1 weights"),
        ([1, 1], [1.0, 1.0], "duplicate"),
        ([1, 9], [1.0, 1.0], "not registered: [9]"),
        ([1], [float("nan")], "finite"),
        ([1], [-1.0], "non-negative"),
        ([1, 2], [0.0, 0.0], "all weights are zero"),
    ],
)
def test_invalid_weights_are_refused(uids, weights, message):
    refused = rejection(lambda: validated_row(uids, weights, registered={0, 1, 2}))

    assert refused.rejection is Rejection.INVALID_WEIGHTS
    assert message in str(refused)


def test_weights_are_stored_normalized(chain):
    chain.set_weights("v0", [2, 3, 1], [1.0, 3.0, 0.0], version_key=0)

    assert chain.state.neurons[0].weights == {2: 0.25, 3: 0.75}


# Blocks, epochs and incentive -----------------------------------------------------------------


def test_incentive_follows_weights_at_each_epoch(chain):
    chain.set_weights("v0", [2, 3], [1.0, 3.0], version_key=0)
    chain.set_weights("v1", [2, 3], [1.0, 3.0], version_key=0)
    assert [n.incentive for n in chain.metagraph().neurons] == [0, 0, 0, 0]

    closed = [chain.advance() for _ in range(5)]

    assert closed == [False, False, False, False, True]
    assert [n.incentive for n in chain.metagraph().neurons] == pytest.approx([0, 0, 0.25, 0.75])

    advance(chain, 3)
    chain.set_weights("v0", [2], [1.0], version_key=0)
    chain.set_weights("v1", [2], [1.0], version_key=0)
    advance(chain, 2)
    assert [n.incentive for n in chain.metagraph().neurons] == pytest.approx([0, 0, 1.0, 0])


def test_self_weights_and_weights_from_non_validators_do_not_count(chain):
    chain.register("m2", "cold-m2", 0.0)
    chain.set_weights("v0", [0, 2], [1.0, 1.0], version_key=0)

    assert chain.effective_weights() == {0: {2: 0.5}}


def test_a_recycled_uid_does_not_inherit_weights():
    chain = make_chain(max_uids=2, max_validators=1, immunity_period=0)
    chain.register("v0", "c", 10.0)
    chain.register("m1", "c", 0.0)
    chain.set_weights("v0", [1], [1.0], version_key=0)
    chain.advance()
    chain.register("m2", "c", 0.0)  # replaces m1 at uid 1

    assert chain.effective_weights() == {0: {}}
    advance(chain, 4)
    assert chain.metagraph().by_uid(1).incentive == 0.0


def test_metagraph_reports_axons_and_last_update(chain):
    advance(chain, 2)
    chain.serve_axon("m2", "127.0.0.1", 8091)
    chain.set_weights("v0", [2], [1.0], version_key=0)

    graph = chain.metagraph()

    assert graph.block == 2
    assert graph.by_hotkey("m2").axon == AxonInfo("127.0.0.1", 8091)
    assert graph.by_hotkey("m3").axon is None
    assert graph.by_hotkey("v0").last_update == 2
    assert graph.by_hotkey("v1").last_update == 0  # never set weights: the registration block
    assert rejection(lambda: chain.serve_axon("nobody", "127.0.0.1", 1)).rejection is Rejection.NOT_REGISTERED


def test_hyperparameters_come_from_the_params():
    params = make_chain(tempo=7, weights_rate_limit=4).hyperparameters()

    assert (params.tempo, params.weights_rate_limit, params.commit_reveal_enabled) == (7, 4, False)


def test_params_are_checked():
    with pytest.raises(ValueError):
        ChainParams(tempo=0)
    with pytest.raises(ValueError):
        ChainParams(kappa=0.0)


# State file -----------------------------------------------------------------------------------


def test_state_round_trips_through_the_file(chain, tmp_path):
    chain.serve_axon("m2", "10.1.2.3", 9000)
    chain.set_weights("v0", [2, 3], [1.0, 1.0], version_key=0)
    advance(chain, 5)
    path = tmp_path / "chain" / "state.json"

    save_state(path, chain.state)
    loaded = load_state(path, new_identity=lambda: pytest.fail("a saved state keeps its identity"))

    assert loaded == chain.state
    assert LocalChain(chain.params, loaded).metagraph() == chain.metagraph()
    assert [p.name for p in path.parent.iterdir()] == ["state.json"]  # no temp file left behind


def test_a_missing_state_file_starts_a_fresh_chain(tmp_path):
    state = load_state(tmp_path / "absent.json", new_identity=lambda: IDENTITY)

    assert state == ChainState(identity=IDENTITY)


CORRUPT = [
    b"{not json",
    b'{"version": 1, "identity": "5F',  # truncated mid-write
]


@pytest.mark.parametrize(
    "content",
    [
        b"{not json",
        b"\xff\xfe",
        json.dumps({"version": 1, "identity": IDENTITY, "block": -3}).encode(),
        json.dumps(
            {
                "version": 1,
                "identity": IDENTITY,
                "neurons": {"0": {"uid": 5, "hotkey": "h", "coldkey": "c", "stake": 0, "registered_at": 0}},
            }
        ).encode(),
    ],
)
def test_a_corrupt_state_file_stops_the_start_and_is_left_untouched(tmp_path, content):
    path = tmp_path / "state.json"
    path.write_bytes(content)

    with pytest.raises(ChainStateError) as refused:
        load_state(path, new_identity=lambda: pytest.fail("no new chain over a corrupt one"))

    message = str(refused.value)
    assert str(path) in message and "corrupt" in message
    assert f"ocr-subnet chain serve --state {path} --discard-corrupt-state" in message
    assert path.read_bytes() == content
    assert [p.name for p in tmp_path.iterdir()] == ["state.json"]


@pytest.mark.parametrize("content", CORRUPT)
def test_discarding_a_corrupt_state_keeps_every_corrupt_file_aside(tmp_path, caplog, content):
    path = tmp_path / "state.json"
    kept = []
    for n in range(3):  # three corruptions in a row: no backup ever overwrites another
        path.write_bytes(content + str(n).encode())
        with caplog.at_level(logging.WARNING):
            assert load_state(path, new_identity=lambda: IDENTITY, discard_corrupt=True) == ChainState(
                identity=IDENTITY
            )
        assert not path.exists()
        kept.append(content + str(n).encode())
    backups = sorted(tmp_path.glob("state.json.corrupt-*"))
    assert sorted(b.read_bytes() for b in backups) == sorted(kept)
    assert any(record.getMessage() == "chain_state_corrupt" for record in caplog.records)


def test_a_state_path_that_is_a_directory_is_a_clear_error(tmp_path):
    with pytest.raises(ChainStateError, match="is a directory"):
        load_state(tmp_path, new_identity=lambda: IDENTITY)


def test_stale_temp_files_are_removed_at_start_and_only_ours(tmp_path, chain):
    path = tmp_path / "state.json"
    save_state(path, chain.state)
    stale = tmp_path / ".state.json.k2j3h4.tmp"  # what a kill -9 during a save leaves
    stale.write_text('{"version": 1')
    other = tmp_path / ".other.json.abc.tmp"
    other.write_text("not ours")

    assert load_state(path, new_identity=lambda: IDENTITY) == chain.state
    assert not stale.exists() and other.exists()


@pytest.mark.parametrize(
    ("ip", "reason"),
    [
        ("0.0.0.0", "unspecified"),
        ("::", "unspecified"),
        ("224.0.0.251", "multicast"),
        ("ff02::1", "multicast"),
        ("255.255.255.255", "broadcast"),
        ("169.254.169.254", "link-local"),
        ("fe80::1", "link-local"),
        ("not-an-ip", "not an IP address"),
    ],
)
def test_an_axon_nobody_could_reach_is_refused(chain, ip, reason):
    before = chain.neuron("m2").axon
    refused = rejection(lambda: chain.serve_axon("m2", ip, 8091))
    assert refused.rejection is Rejection.INVALID_AXON
    assert reason in str(refused)
    assert chain.neuron("m2").axon == before  # nothing lost


@pytest.mark.parametrize("ip", ["127.0.0.1", "10.244.1.5", "203.0.113.7", "2001:db8::5"])
def test_loopback_private_and_public_axons_are_served(chain, ip):
    chain.serve_axon("m2", ip, 8091)
    assert chain.neuron("m2").axon == (ip, 8091)
