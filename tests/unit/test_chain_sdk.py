"""The SDK adapter, run through the SDK's own chain seam: `bt.Subtensor(..., substrate=FakeSubstrate)`.

Everything above the `Substrate` protocol is the real bittensor code: the metagraph decoder, the
typed reads, the `SetWeights`/`ServeAxon` intents with their preflight, conforming and signing,
and the executor. The fake only stands in for the node.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from typing import Any

import bittensor as bt
import pytest
from bittensor.result import chain_error_from_dispatch
from bittensor.sp_core import verify
from ocr_subnet.chain.port import AxonInfo, ChainRejected, ChainUnavailable, WeightSetOutcome
from ocr_subnet.chain.sdk import (
    SubtensorChain,
    axon_from_endpoint,
    included_block,
    weight_outcome,
)
from ocr_subnet.wallets import local_wallet

NETUID = 7
RAO = 10**9
U16_MAX = 65535
SUBTENSOR = 7  # SubtensorModule's pallet index, for module errors the SDK decodes by catalog
NOT_REGISTERED = 4  # HotKeyNotRegisteredInSubNet
NO_VALIDATOR_PERMIT = 15  # NeuronNoValidatorPermit
MODELED_STORAGE = (
    "NetworksAdded",
    "Tempo",
    "WeightsSetRateLimit",
    "CommitRevealWeightsEnabled",
    "MaxWeightsLimit",
    "MinAllowedWeights",
    "SubnetEpochConsensus",
    "Uids",
    "Owner",
    "TotalHotkeyAlpha",
    "LastUpdate",
    "ValidatorPermit",
    "Incentive",
    "Weights",
    "Axons",
)


class FakeSubstrate:
    """An in-memory `bt.Substrate` for one subnet.

    It keeps storage as {(pallet, item): {key: value}}, answers the metagraph runtime API from
    that same storage, and applies extrinsics only after checking the signer's sr25519 signature,
    failing them with the module errors the real pallet uses. It models just the storage and calls
    the SDK makes for our adapter; anything else raises, so a new SDK dependency shows up as a
    clear test failure. Block hashes are accepted but state is always the head's.
    """

    def __init__(self, netuid: int = NETUID, block: int = 1_000) -> None:
        self.token_symbols: dict[int, str] = {}
        self.netuid = netuid
        self.block = block
        self.hotkeys: list[str] = []
        self.storage: dict[tuple[str, str], dict[tuple[Any, ...], Any]] = {
            ("SubtensorModule", item): {} for item in MODELED_STORAGE
        }
        subnet = (netuid,)
        self._put("NetworksAdded", subnet, True)
        self._put("Tempo", subnet, 360)
        self._put("WeightsSetRateLimit", subnet, 100)
        self._put("CommitRevealWeightsEnabled", subnet, False)
        self._put("MaxWeightsLimit", subnet, U16_MAX)
        self._put("MinAllowedWeights", subnet, 1)
        self._put("SubnetEpochConsensus", subnet, "Yuma")
        for vector in ("LastUpdate", "ValidatorPermit", "Incentive"):
            self._put(vector, subnet, [])

    def _put(self, item: str, key: tuple[Any, ...], value: Any) -> None:
        self.storage[("SubtensorModule", item)][key] = value

    def _get(self, item: str, key: tuple[Any, ...]) -> Any:
        return self.storage[("SubtensorModule", item)].get(key)

    def add_neuron(
        self,
        hotkey: str,
        coldkey: str,
        stake_tao: float,
        *,
        permit: bool,
        incentive: float = 0.0,
        last_update: int = 0,
    ) -> int:
        uid = len(self.hotkeys)
        self.hotkeys.append(hotkey)
        self._put("Uids", (self.netuid, hotkey), uid)
        self._put("Owner", (hotkey,), coldkey)
        self._put("TotalHotkeyAlpha", (hotkey, self.netuid), int(stake_tao * RAO))
        self._get("LastUpdate", (self.netuid,)).append(last_update)
        self._get("ValidatorPermit", (self.netuid,)).append(permit)
        self._get("Incentive", (self.netuid,)).append(round(incentive * U16_MAX))
        return uid

    # Lifecycle and chain metadata ------------------------------------------------------------

    def balance(self, rao: int, netuid: int = 0) -> bt.Balance:
        return bt.Balance.from_rao(int(rao), netuid)

    async def connect(self) -> None:
        return None

    async def close(self) -> None:
        return None

    async def block_number(self) -> int:
        return self.block

    async def block_hash(self, block: int | None = None) -> str:
        return f"0x{self.block if block is None else block:064x}"

    async def block_time(self) -> float:
        return 12.0

    # Reads -------------------------------------------------------------------------------------

    async def query(self, module: str, storage_function: str, params: list | None = None, block_hash=None) -> Any:
        return self.storage[(module, storage_function)].get(tuple(params or ()))

    async def query_map(self, module: str, storage_function: str, params: list | None = None, block_hash=None):
        if (module, storage_function) == ("SubtensorModule", "TokenSymbol"):
            return []
        raise NotImplementedError(f"FakeSubstrate does not model map {module}.{storage_function}")

    async def runtime_call(self, api: str, method: str, params: list, block_hash=None) -> Any:
        if (api, method) != ("SubnetInfoRuntimeApi", "get_metagraph"):
            raise NotImplementedError(f"FakeSubstrate does not model {api}.{method}")
        (netuid,) = params
        return self._metagraph() if netuid == self.netuid else None

    def _metagraph(self) -> dict[str, Any]:
        subnet = (self.netuid,)
        stakes = [self._get("TotalHotkeyAlpha", (hotkey, self.netuid)) for hotkey in self.hotkeys]
        return {
            "netuid": self.netuid,
            "name": list(b"ocr"),
            "symbol": list(b"o"),
            "block": self.block,
            "tempo": self._get("Tempo", subnet),
            "last_step": self.block - 10,
            "blocks_since_last_step": 10,
            "owner_hotkey": self.hotkeys[0] if self.hotkeys else "",
            "owner_coldkey": "",
            "network_registered_at": 1,
            "num_uids": len(self.hotkeys),
            "max_uids": 256,
            "hotkeys": list(self.hotkeys),
            "coldkeys": [self._get("Owner", (hotkey,)) for hotkey in self.hotkeys],
            "axons": [self._get("Axons", (self.netuid, hotkey)) for hotkey in self.hotkeys],
            "active": [True] * len(self.hotkeys),
            "validator_permit": list(self._get("ValidatorPermit", subnet)),
            "last_update": list(self._get("LastUpdate", subnet)),
            "incentives": list(self._get("Incentive", subnet)),
            "alpha_stake": stakes,
            "tao_stake": [0] * len(stakes),
            "total_stake": stakes,
        }

    # Calls and extrinsics ----------------------------------------------------------------------

    async def compose(self, call: Any) -> Any:
        return call

    async def estimate_fee(self, call: Any, keypair: Any) -> bt.Balance:
        return bt.Balance.from_rao(0)

    async def submit(self, call: Any, keypair: Any, **_: Any) -> bt.ExtrinsicResult:
        payload = repr(call).encode()
        if not verify(payload, bytes(keypair.sign(payload)), keypair.ss58_address, keypair.crypto_type):
            raise AssertionError("the extrinsic's signature does not verify")
        handler = {"set_mechanism_weights": self._set_weights, "serve_axon": self._serve_axon}[call.function]
        self.block += 1
        error = handler(keypair.ss58_address, call.params)
        if error is not None:
            failure = chain_error_from_dispatch({"Module": {"index": SUBTENSOR, "error": error}})
            return bt.ExtrinsicResult(success=False, message=failure.message, error=failure)
        return bt.ExtrinsicResult(success=True, message="Success", extrinsic_id=f"{self.block}-0001")

    def _set_weights(self, hotkey: str, params: dict[str, Any]) -> int | None:
        uid = self._get("Uids", (params["netuid"], hotkey))
        if uid is None:
            return NOT_REGISTERED
        if not self._get("ValidatorPermit", (self.netuid,))[uid]:
            return NO_VALIDATOR_PERMIT
        self._put("Weights", (self.netuid, uid), list(zip(params["dests"], params["weights"], strict=True)))
        self._get("LastUpdate", (self.netuid,))[uid] = self.block
        return None

    def _serve_axon(self, hotkey: str, params: dict[str, Any]) -> int | None:
        if self._get("Uids", (params["netuid"], hotkey)) is None:
            return NOT_REGISTERED
        axon = {key: params[key] for key in ("ip", "port", "ip_type", "protocol", "version")}
        self._put("Axons", (self.netuid, hotkey), {**axon, "block": self.block})
        return None


@pytest.fixture(autouse=True)
def _no_user_cache(tmp_path, monkeypatch):
    """Connecting caches token symbols on disk; keep that out of the user's ~/.bittensor."""
    monkeypatch.setenv("BTCLI_TOKEN_SYMBOLS_CACHE", str(tmp_path / "token_symbols.json"))


@pytest.fixture
def wallets(tmp_path):
    return {name: local_wallet(name, wallets_dir=tmp_path / "wallets") for name in ("validator", "miner", "outsider")}


@pytest.fixture
def fake(wallets) -> FakeSubstrate:
    fake = FakeSubstrate()
    fake.add_neuron(
        wallets["validator"].hotkey.ss58_address,
        wallets["validator"].coldkeypub.ss58_address,
        1_500.0,
        permit=True,
        last_update=900,
    )
    fake.add_neuron(
        wallets["miner"].hotkey.ss58_address,
        wallets["miner"].coldkeypub.ss58_address,
        0.0,
        permit=False,
        incentive=1.0,
        last_update=10,
    )
    return fake


@pytest.fixture
def chain(fake):
    adapter = SubtensorChain("ws://127.0.0.1:9944", NETUID, timeout=10.0, substrate=fake)
    yield adapter
    adapter.close()


def test_metagraph_is_mapped_from_the_sdk(chain, fake, wallets):
    graph = chain.metagraph()

    assert (graph.netuid, graph.block) == (NETUID, fake.block)
    assert [n.uid for n in graph.neurons] == [0, 1]
    validator, miner = graph.neurons
    assert validator.hotkey == wallets["validator"].hotkey.ss58_address
    assert validator.coldkey == wallets["validator"].coldkeypub.ss58_address
    assert validator.stake == pytest.approx(1_500.0)
    assert (validator.validator_permit, miner.validator_permit) == (True, False)
    assert (validator.last_update, miner.last_update) == (900, 10)
    assert (validator.incentive, miner.incentive) == (0.0, pytest.approx(1.0))
    assert validator.axon is None


def test_current_block(chain, fake):
    assert chain.current_block() == fake.block


def test_hyperparameters(chain, fake):
    fake._put("MaxWeightsLimit", (NETUID,), 32767)

    params = chain.hyperparameters()

    assert (params.tempo, params.weights_rate_limit, params.commit_reveal_enabled) == (360, 100, False)
    assert params.max_weights_limit == pytest.approx(0.5, abs=1e-4)


def test_unknown_subnet_is_rejected(fake):
    adapter = SubtensorChain("ws://127.0.0.1:9944", NETUID + 1, timeout=10.0, substrate=fake)
    try:
        with pytest.raises(ChainRejected):
            adapter.metagraph()
    finally:
        adapter.close()


def test_set_weights_succeeds_and_lands_on_chain(chain, fake, wallets):
    fake.block = 1_000  # 100 blocks after the validator's last update: the rate limit allows it

    result = chain.set_weights(wallets["validator"], [1, 0], [0.75, 0.25], version_key=3)

    assert result.outcome is WeightSetOutcome.SUCCESS
    assert result.block == 1_001 == fake.block
    assert dict(fake._get("Weights", (NETUID, 0))) == {0: 21845, 1: U16_MAX}  # the SDK max-upscales to u16
    assert chain.metagraph().neurons[0].last_update == 1_001


def test_set_weights_inside_the_rate_limit_is_rate_limited(chain, fake, wallets):
    fake.block = 950  # 50 blocks since the last update, the limit is 100

    result = chain.set_weights(wallets["validator"], [1], [1.0], version_key=0)

    assert result.outcome is WeightSetOutcome.RATE_LIMITED
    assert "50 blocks" in result.message
    assert fake._get("Weights", (NETUID, 0)) is None


def test_set_weights_refused_by_the_chain_is_rejected(chain, fake, wallets):
    """The SDK does not preflight the validator permit; the chain's module error comes back typed."""
    result = chain.set_weights(wallets["miner"], [0], [1.0], version_key=0)

    assert result.outcome is WeightSetOutcome.REJECTED
    assert "permitted validator" in result.message


def test_set_weights_from_an_unregistered_hotkey_is_rejected(chain, wallets):
    result = chain.set_weights(wallets["outsider"], [1], [1.0], version_key=0)

    assert result.outcome is WeightSetOutcome.REJECTED
    assert "not registered" in result.message


def test_all_zero_weights_are_rejected_without_signing(chain, fake, wallets):
    block = fake.block

    result = chain.set_weights(wallets["validator"], [1], [0.0], version_key=0)

    assert result.outcome is WeightSetOutcome.REJECTED
    assert fake.block == block


def test_serve_axon_publishes_once(chain, fake, wallets):
    chain.serve_axon(wallets["miner"], "10.0.0.5", 8091)
    served_at = fake.block
    chain.serve_axon(wallets["miner"], "10.0.0.5", 8091)

    assert fake.block == served_at  # the second call found the same endpoint and sent nothing
    assert chain.metagraph().neurons[1].axon == AxonInfo("10.0.0.5", 8091)
    assert fake._get("Axons", (NETUID, wallets["miner"].hotkey.ss58_address))["ip"] == int(
        ipaddress.ip_address("10.0.0.5")
    )


def test_serve_axon_of_an_unregistered_hotkey_is_rejected(chain, wallets):
    with pytest.raises(ChainRejected):
        chain.serve_axon(wallets["outsider"], "10.0.0.5", 8091)


def test_unreachable_endpoint_is_chain_unavailable(wallets):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # nothing listens here once the probe closes
    adapter = SubtensorChain(f"ws://127.0.0.1:{port}", NETUID, timeout=10.0)
    try:
        with pytest.raises(ChainUnavailable):
            adapter.current_block()
        with pytest.raises(ChainUnavailable):
            adapter.metagraph()
        with pytest.raises(ChainUnavailable):
            adapter.set_weights(wallets["validator"], [1], [1.0], version_key=0)
    finally:
        adapter.close()


class _HangingSubstrate(FakeSubstrate):
    async def block_number(self) -> int:
        await asyncio.Event().wait()
        raise AssertionError("unreachable")


def test_a_node_that_never_answers_is_chain_unavailable():
    adapter = SubtensorChain("ws://127.0.0.1:9944", NETUID, timeout=0.2, substrate=_HangingSubstrate())
    try:
        with pytest.raises(ChainUnavailable, match="no answer"):
            adapter.current_block()
    finally:
        adapter.close()


@pytest.mark.parametrize(
    ("code", "outcome"),
    [
        (bt.ErrorCode.RATE_LIMITED, WeightSetOutcome.RATE_LIMITED),
        (bt.ErrorCode.NOT_REGISTERED, WeightSetOutcome.REJECTED),
        (bt.ErrorCode.NOT_AUTHORIZED, WeightSetOutcome.REJECTED),
        (bt.ErrorCode.INVALID_ARGUMENT, WeightSetOutcome.REJECTED),
        (bt.ErrorCode.INTERNAL, WeightSetOutcome.CHAIN_ERROR),
        (bt.ErrorCode.UNKNOWN, WeightSetOutcome.CHAIN_ERROR),
    ],
)
def test_weight_outcome(code, outcome):
    assert weight_outcome(code) is outcome


def test_chain_side_rate_limit_error_maps_to_rate_limited():
    assert weight_outcome(bt.ChainError("too fast", "SettingWeightsTooFast").code) is WeightSetOutcome.RATE_LIMITED


@pytest.mark.parametrize(
    ("endpoint", "axon"),
    [
        (None, None),
        ("", None),
        ("1.2.3.4:8091", AxonInfo("1.2.3.4", 8091)),
        ("[2001:db8::1]:9000", AxonInfo("2001:db8::1", 9000)),
    ],
)
def test_axon_from_endpoint(endpoint, axon):
    assert axon_from_endpoint(endpoint) == axon


def test_ipv6_axon_url_is_bracketed():
    assert AxonInfo("2001:db8::1", 9000).url == "http://[2001:db8::1]:9000"


def test_included_block():
    assert included_block(bt.ExtrinsicResult(success=True, extrinsic_id="4321-0002")) == 4321
    assert included_block(bt.ExtrinsicResult(success=True)) is None


def test_a_closed_adapter_refuses_calls(fake):
    adapter = SubtensorChain("ws://127.0.0.1:9944", NETUID, timeout=10.0, substrate=fake)
    adapter.close()
    adapter.close()

    with pytest.raises(RuntimeError, match="closed"):
        adapter.current_block()
