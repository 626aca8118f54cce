"""The validator's round and weight logic against fakes: a fake chain and fake miners on loopback.

The fake miners are raw HTTP/1.1 servers in the test's own event loop, so a test controls every
byte a hostile miner sends (a 50 MB body, junk JSON, silence) while the validator's real client,
real signatures, real scorer and real state file are exercised.
"""

from __future__ import annotations

import asyncio
import gzip
import io
import ipaddress
import json
import random
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import bittensor as bt
import pytest
from bittensor.keyfiles import Keypair
from ocr_subnet import metric_names as names
from ocr_subnet.chain.port import (
    AxonInfo,
    ChainUnavailable,
    Hyperparameters,
    Metagraph,
    NeuronInfo,
    WeightSetOutcome,
    WeightSetResult,
)
from ocr_subnet.challenge.api import Challenge
from ocr_subnet.challenge.generate import generate_challenge
from ocr_subnet.gateway.metrics import GatewayMetrics
from ocr_subnet.gateway.organic import OrganicScore, OrganicState, save_organic
from ocr_subnet.protocol import MAX_RESPONSE_BYTES, MAX_SECTIONS, OcrRequest, encode_image
from ocr_subnet.sections import Font, Section
from ocr_subnet.validator.metrics import ValidatorMetrics
from ocr_subnet.validator.neuron import Validator, ValidatorConfig, reward_parts
from ocr_subnet.validator.query import Outcome
from ocr_subnet.validator.state import state_from_json
from PIL import Image
from prometheus_client import start_http_server

from tests.support.tools import assert_promtool_accepts_metrics

MB = 1024 * 1024
DEADLINE_S = 2.0
BOUND_S = 60.0  # a generous upper bound for awaits, so a hang fails the test instead of stalling it
VALIDATOR_KEY = Keypair.create_from_uri("//Validator")
LOOPBACK = (ipaddress.ip_network("127.0.0.0/8"),)
LABELS = (
    Section(text="INVOICE 2041", position=(10, 10, 120, 24), font=Font(family="Helvetica-Bold", size=12)),
    Section(text="Total: 99.50", position=(10, 40, 100, 52), font=Font(family="Helvetica", size=10)),
)
JUNK = [
    {"text": "zzzz", "position": [300, 300, 310, 305], "font": {"family": "Comic", "size": 3}},
    {"text": "qqqq", "position": [0, 150, 5, 160], "font": {"family": "Comic", "size": 3}},
]


def fake_challenge(seed: int, difficulty: int) -> Challenge:
    """A challenge double: a small blank PNG whose labels the honest fake miner knows."""
    buffer = io.BytesIO()
    Image.new("L", (200, 80), 255).save(buffer, format="PNG")
    return Challenge(f"fake-{seed}", seed, difficulty, buffer.getvalue(), "png", 200, 80, LABELS)


@dataclass
class FakeMiner:
    """A miner double speaking raw HTTP/1.1 on loopback; `behaviour` picks what it answers."""

    behaviour: str
    key: Keypair = field(default_factory=lambda: Keypair.create_from_uri(f"//Miner{random.random()}"))
    port: int = 0
    callers: list[str] = field(default_factory=list)
    requests: list[OcrRequest] = field(default_factory=list)
    bytes_sent: int = 0
    finished: asyncio.Event = field(default_factory=asyncio.Event)
    server: asyncio.Server | None = None

    @property
    def hotkey(self) -> str:
        return self.key.ss58_address

    async def start(self) -> None:
        self.server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self.server is not None:
            self.server.close()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = (await reader.readuntil(b"\r\n\r\n")).decode()
            request_line, *header_lines = head.strip().split("\r\n")
            method, path, _ = request_line.split(" ")
            headers = {k.lower(): v for k, v in (line.split(": ", 1) for line in header_lines)}
            body = await reader.readexactly(int(headers.get("content-length", 0)))
            caller = bt.http_auth.verify(headers, body, method=method, path=path, self_hotkey_ss58=self.hotkey)
            self.callers.append(caller.hotkey_ss58)
            self.requests.append(OcrRequest.model_validate_json(body))
            await self._answer(writer)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            self.finished.set()
            writer.close()

    async def _send(self, writer: asyncio.StreamWriter, data: bytes) -> None:
        writer.write(data)
        await writer.drain()
        self.bytes_sent += len(data)

    async def _answer(self, writer: asyncio.StreamWriter) -> None:
        ok = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n"
        if self.behaviour == "silent":
            await asyncio.sleep(3600)
        elif self.behaviour == "slow":
            await asyncio.sleep(DEADLINE_S * 1.5)
            await self._send(writer, _json_response(ok, [s.model_dump() for s in LABELS]))
        elif self.behaviour == "good":
            await self._send(writer, _json_response(ok, [s.model_dump() for s in LABELS]))
        elif self.behaviour == "garbage":
            await self._send(writer, _json_response(ok, JUNK))
        elif self.behaviour == "invalid":
            await self._send(writer, _raw_response(ok, b'{"sections": [{"text": 1,'))
        elif self.behaviour == "wrong_shape":
            await self._send(writer, _raw_response(ok, b'{"sections": "none", "extra": 1}'))
        elif self.behaviour == "error":
            await self._send(writer, _raw_response("HTTP/1.1 500 Internal Server Error\r\n", b"oops"))
        elif self.behaviour == "hangup":
            return
        elif self.behaviour == "too_many_sections":  # small in bytes, over MAX_SECTIONS in count
            box = {"text": "a", "position": [0, 0, 1, 1], "font": {"family": "Helvetica", "size": 1}}
            await self._send(writer, _json_response(ok, [box] * (MAX_SECTIONS + 1)))
        elif self.behaviour == "gzipped":
            body = gzip.compress(json.dumps({"sections": [s.model_dump() for s in LABELS]}).encode())
            await self._send(writer, _raw_response(ok + "Content-Encoding: gzip\r\n", body))
        elif self.behaviour in ("huge", "huge_declared"):
            declared = f"Content-Length: {50 * MB}\r\n" if self.behaviour == "huge_declared" else ""
            await self._send(writer, (ok + declared + "\r\n").encode() + b'{"sections": [')
            chunk = b'{"text": "a", "position": [0, 0, 1, 1], "font": {"family": "H", "size": 1}},' * 800
            while self.bytes_sent < 50 * MB:
                await self._send(writer, chunk)


def _raw_response(status_and_headers: str, body: bytes) -> bytes:
    return (status_and_headers + f"Content-Length: {len(body)}\r\n\r\n").encode() + body


def _json_response(status_and_headers: str, sections: list[dict]) -> bytes:
    return _raw_response(status_and_headers, json.dumps({"sections": sections}).encode())


class FakeChain:
    """A `ChainPort` double: in-memory metagraph, a block the test advances, switchable outages."""

    def __init__(self, netuid: int, neurons: Sequence[NeuronInfo], tempo: int = 10, rate_limit: int = 5) -> None:
        self.netuid = netuid
        self.neurons = list(neurons)
        self.block = 100
        self.tempo = tempo
        self.rate_limit = rate_limit
        self.max_weight = 1.0
        self.down = False
        self.set_weights_down = False
        self.reads_down = False  # reads fail, writes go through (a sync failing right after a set)
        self.refuse_weights = False
        self.refusals = 0
        self.weight_calls: list[tuple[list[int], list[float], int]] = []

    def _check(self, read: bool = False) -> None:
        if self.down or (read and self.reads_down):
            raise ChainUnavailable("fake chain is down")

    def current_block(self) -> int:
        self._check(read=True)
        return self.block

    def metagraph(self) -> Metagraph:
        self._check(read=True)
        return Metagraph(self.netuid, self.block, tuple(self.neurons))

    def hyperparameters(self) -> Hyperparameters:
        self._check(read=True)
        return Hyperparameters(
            tempo=self.tempo,
            weights_rate_limit=self.rate_limit,
            commit_reveal_enabled=False,
            max_weights_limit=self.max_weight,
        )

    def serve_axon(self, wallet: bt.WalletLike, ip: str, port: int) -> None:
        self._check()

    def set_weights(
        self, wallet: bt.WalletLike, uids: Sequence[int], weights: Sequence[float], version_key: int
    ) -> WeightSetResult:
        self._check()
        if self.set_weights_down:
            raise ChainUnavailable("fake chain dropped the extrinsic")
        if self.refuse_weights:
            self.refusals += 1
            return WeightSetResult(WeightSetOutcome.REJECTED, message="no_validator_permit: fake refusal")
        self.weight_calls.append((list(uids), list(weights), version_key))
        self.block += 1  # like a real chain: the extrinsic lands in the next block, newer than any metagraph read
        return WeightSetResult(WeightSetOutcome.SUCCESS, block=self.block)

    def replace(self, uid: int, hotkey: str) -> None:
        self.neurons = [
            NeuronInfo(uid, hotkey, "cold", 0.0, False, n.axon, 0) if n.uid == uid else n for n in self.neurons
        ]


def neuron_for(uid: int, hotkey: str, port: int | None) -> NeuronInfo:
    axon = AxonInfo("127.0.0.1", port) if port is not None else None
    return NeuronInfo(uid, hotkey, "cold", 0.0, port is None, axon, 0)


class Clock:
    """A monotonic clock the test moves by hand, for backoff without sleeping."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@dataclass
class Subnet:
    chain: FakeChain
    miners: dict[str, FakeMiner]
    state_path: Path
    clock: Clock
    make_validator: Callable[[], Validator]

    def uid(self, name: str) -> int:
        return list(self.miners).index(name) + 1


async def _subnet(tmp_path: Path, behaviours: Sequence[str]) -> AsyncIterator[Subnet]:
    miners = {b: FakeMiner(b) for b in behaviours}
    for miner in miners.values():
        await miner.start()
    neurons = [neuron_for(0, VALIDATOR_KEY.ss58_address, None)]
    neurons += [neuron_for(uid, m.hotkey, m.port) for uid, m in enumerate(miners.values(), start=1)]
    chain = FakeChain(netuid=3, neurons=neurons)
    clock = Clock()
    state_path = tmp_path / "validator" / "state.json"

    def make_validator() -> Validator:
        config = ValidatorConfig(
            state_path=state_path,
            sample_size=16,
            deadline_s=DEADLINE_S,
            round_interval_s=0.0,
            ema_alpha=0.5,
            allowed_axon_networks=LOOPBACK,  # the fake miners listen on 127.0.0.1
        )
        return Validator(
            chain=chain,
            wallet=VALIDATOR_KEY,
            hotkey=VALIDATOR_KEY.ss58_address,
            config=config,
            make_challenge=fake_challenge,
            score=reward_parts,
            metrics=ValidatorMetrics(VALIDATOR_KEY.ss58_address),
            rng=random.Random(0),
            clock=clock,
        )

    try:
        yield Subnet(chain, miners, state_path, clock, make_validator)
    finally:
        for miner in miners.values():
            await miner.stop()


HOSTILE = (
    "good",
    "garbage",
    "slow",
    "silent",
    "huge",
    "huge_declared",
    "invalid",
    "wrong_shape",
    "error",
    "hangup",
    "too_many_sections",
    "gzipped",
)


@pytest.fixture
async def subnet(tmp_path: Path) -> AsyncIterator[Subnet]:
    async for value in _subnet(tmp_path, HOSTILE):
        yield value


@pytest.fixture
async def small_subnet(tmp_path: Path) -> AsyncIterator[Subnet]:
    async for value in _subnet(tmp_path, ("good", "garbage")):
        yield value


def bounded(awaitable: Awaitable[object]) -> Awaitable[object]:
    return asyncio.wait_for(awaitable, BOUND_S)


async def test_a_round_classifies_every_hostile_answer_and_pays_only_real_ones(subnet: Subnet) -> None:
    validator = subnet.make_validator()
    report = await bounded(validator.run_round())
    assert report is not None
    outcome = {r.hotkey: r.outcome for r in report.results}
    miners = subnet.miners
    assert outcome == {
        miners["good"].hotkey: Outcome.OK,
        miners["garbage"].hotkey: Outcome.OK,
        miners["slow"].hotkey: Outcome.TIMEOUT,
        miners["silent"].hotkey: Outcome.TIMEOUT,
        miners["huge"].hotkey: Outcome.TOO_LARGE,
        miners["huge_declared"].hotkey: Outcome.TOO_LARGE,
        miners["invalid"].hotkey: Outcome.INVALID,
        miners["wrong_shape"].hotkey: Outcome.INVALID,
        miners["error"].hotkey: Outcome.HTTP_ERROR,
        miners["hangup"].hotkey: Outcome.HTTP_ERROR,
        miners["too_many_sections"].hotkey: Outcome.INVALID,
        miners["gzipped"].hotkey: Outcome.INVALID,
    }
    total = {subnet.miners[name].hotkey: report.parts[subnet.uid(name)]["total"] for name in subnet.miners}
    assert total[miners["good"].hotkey] > 0.9
    for name in set(HOSTILE) - {"good", "garbage"}:
        assert total[miners[name].hotkey] == 0.0, name
        assert set(report.parts[subnet.uid(name)]) == set(names.REWARD_PARTS)
    assert total[miners["good"].hotkey] > total[miners["garbage"].hotkey]
    ema = {hotkey: score.ema for hotkey, score in validator.state.scores.items()}
    assert ema[miners["good"].hotkey] > ema[miners["garbage"].hotkey] >= ema[miners["slow"].hotkey] == 0.0


async def test_requests_are_signed_for_each_miner_and_carry_the_deadline(small_subnet: Subnet) -> None:
    await bounded(small_subnet.make_validator().run_round())
    for miner in small_subnet.miners.values():
        assert miner.callers == [VALIDATOR_KEY.ss58_address]
        (request,) = miner.requests
        assert request.deadline_s == DEADLINE_S
        assert not request.challenge_id.startswith("fake-")  # the seed never leaves the validator


async def test_each_miner_reads_its_own_page_and_one_answer_cannot_serve_two_hotkeys(small_subnet: Subnet) -> None:
    """Real generator, real round: every sampled miner gets a page from its own seed at the round's one
    difficulty, and an answer read from one page earns nothing on another's (no compute-once-answer-K)."""
    drawn: list[Challenge] = []

    def recording(seed: int, difficulty: int) -> Challenge:
        drawn.append(generate_challenge(seed, difficulty))
        return drawn[-1]

    validator = small_subnet.make_validator()
    validator.make_challenge = recording
    report = await bounded(validator.run_round())
    assert report is not None and len(drawn) == len(small_subnet.miners) == 2
    assert len({c.seed for c in drawn}) == 2 and {c.difficulty for c in drawn} == {validator.config.difficulty}
    assert len(set(report.request_ids.values())) == 2
    images = {encode_image(c.image): c for c in drawn}
    received = [images[request.image] for miner in small_subnet.miners.values() for request in miner.requests]
    assert {c.seed for c in received} == {c.seed for c in drawn}  # each page went to exactly one miner
    first, second = drawn
    assert reward_parts(first, first.sections, 0.1, DEADLINE_S)["total"] == 1.0
    assert reward_parts(second, first.sections, 0.1, DEADLINE_S)["total"] <= 0.02


async def test_a_50_mb_answer_is_abandoned_not_buffered(subnet: Subnet) -> None:
    await bounded(subnet.make_validator().run_round())
    huge = subnet.miners["huge"]
    await bounded(huge.finished.wait())  # the miner notices the validator hung up
    assert MAX_RESPONSE_BYTES < huge.bytes_sent < 50 * MB


async def test_one_silent_miner_does_not_hold_the_round_past_its_deadline(subnet: Subnet) -> None:
    # The silent miner never answers; the round must still end, bounded by the deadline, not by it.
    report = await asyncio.wait_for(subnet.make_validator().run_round(), DEADLINE_S * 10)
    assert report is not None
    silent = next(r for r in report.results if r.hotkey == subnet.miners["silent"].hotkey)
    assert silent.outcome is Outcome.TIMEOUT


async def test_unreachable_miner_is_classified(small_subnet: Subnet) -> None:
    garbage = small_subnet.miners["garbage"]
    await garbage.stop()
    assert garbage.server is not None
    await garbage.server.wait_closed()
    report = await bounded(small_subnet.make_validator().run_round())
    assert report is not None
    outcome = {r.hotkey: r.outcome for r in report.results}
    assert outcome[garbage.hotkey] is Outcome.UNREACHABLE


async def test_state_is_saved_each_round_and_loaded_on_restart(small_subnet: Subnet) -> None:
    first = small_subnet.make_validator()
    await bounded(first.run_round())
    await bounded(first.run_round())
    saved = state_from_json(small_subnet.state_path.read_bytes())
    assert saved.rounds == 2
    assert saved.scores == first.state.scores
    restarted = small_subnet.make_validator()
    assert restarted.state == first.state


async def test_a_truncated_state_file_means_a_fresh_start_not_a_crash(small_subnet: Subnet) -> None:
    first = small_subnet.make_validator()
    await bounded(first.run_round())
    raw = small_subnet.state_path.read_bytes()
    small_subnet.state_path.write_bytes(raw[: len(raw) // 2])
    restarted = small_subnet.make_validator()
    assert restarted.state.scores == {}
    await bounded(restarted.run_round())
    assert state_from_json(small_subnet.state_path.read_bytes()).rounds == 1


async def test_a_new_hotkey_at_a_uid_starts_from_zero(small_subnet: Subnet) -> None:
    validator = small_subnet.make_validator()
    await bounded(validator.run_round())
    good = small_subnet.miners["good"]
    assert validator.state.scores[good.hotkey].ema > 0
    small_subnet.chain.replace(small_subnet.uid("good"), "5NewOwner")
    await bounded(validator.sync())
    assert good.hotkey not in validator.state.scores
    assert "5NewOwner" not in validator.state.scores


async def test_weights_are_set_once_per_epoch_with_the_version_key(small_subnet: Subnet) -> None:
    chain = small_subnet.chain
    validator = small_subnet.make_validator()
    await bounded(validator.run_round())
    result = await bounded(validator.maybe_set_weights())
    assert isinstance(result, WeightSetResult) and result.outcome is WeightSetOutcome.SUCCESS
    ((uids, weights, version),) = chain.weight_calls
    assert uids == [1, 2] and weights[0] > weights[1] and version == 2_000_100  # scoring v2, package 0.1.0
    assert validator.state.last_weight_block == 101
    chain.block += chain.tempo - 1
    await bounded(validator.run_round())
    assert await bounded(validator.maybe_set_weights()) is None  # inside the epoch: not yet
    chain.block += 1
    await bounded(validator.run_round())
    assert (await bounded(validator.maybe_set_weights())).outcome is WeightSetOutcome.SUCCESS
    assert len(chain.weight_calls) == 2
    assert state_from_json(small_subnet.state_path.read_bytes()).last_weight_block == 112


async def test_blocks_since_the_weight_set_never_read_negative_before_the_next_sync(small_subnet: Subnet) -> None:
    validator = small_subnet.make_validator()
    await bounded(validator.run_round())
    synced = _sample(validator, names.VALIDATOR_CURRENT_BLOCK)
    assert (await bounded(validator.maybe_set_weights())).outcome is WeightSetOutcome.SUCCESS
    landed = _sample(validator, names.VALIDATOR_LAST_WEIGHT_SET_BLOCK)
    assert landed == synced + 1  # the set landed after the metagraph the round read
    assert _sample(validator, names.VALIDATOR_CURRENT_BLOCK) == landed


async def test_weights_stay_within_the_chains_max_weight_limit(small_subnet: Subnet) -> None:
    small_subnet.chain.max_weight = 0.6
    validator = small_subnet.make_validator()
    await bounded(validator.run_round())
    assert (await bounded(validator.maybe_set_weights())).outcome is WeightSetOutcome.SUCCESS
    ((uids, weights, _),) = small_subnet.chain.weight_calls
    assert uids == [1, 2] and weights == pytest.approx([0.6, 0.4])


async def test_chain_down_during_set_weights_is_recorded_and_retried_later(small_subnet: Subnet) -> None:
    chain, clock = small_subnet.chain, small_subnet.clock
    validator = small_subnet.make_validator()
    await bounded(validator.run_round())
    chain.set_weights_down = True
    failed = await bounded(validator.maybe_set_weights())
    assert isinstance(failed, WeightSetResult) and failed.outcome is WeightSetOutcome.CHAIN_ERROR
    assert _sample(validator, names.VALIDATOR_WEIGHT_SET_ATTEMPTS, result="chain_error") == 1
    assert await bounded(validator.maybe_set_weights()) is None  # backing off
    clock.now += validator.config.retry_base_s
    assert (await bounded(validator.maybe_set_weights())).outcome is WeightSetOutcome.CHAIN_ERROR
    chain.set_weights_down = False
    assert await bounded(validator.maybe_set_weights()) is None  # still backing off: nothing answered yet
    await bounded(validator.run_round())  # the loop goes on, and its sync is an answer from the chain
    assert (await bounded(validator.maybe_set_weights())).outcome is WeightSetOutcome.SUCCESS  # no wait
    assert _sample(validator, names.VALIDATOR_WEIGHT_SET_ATTEMPTS, result="success") == 1


async def test_a_refusal_keeps_its_backoff_through_successful_reads(small_subnet: Subnet) -> None:
    chain, clock = small_subnet.chain, small_subnet.clock
    validator = small_subnet.make_validator()
    await bounded(validator.run_round())
    chain.refuse_weights = True
    assert (await bounded(validator.maybe_set_weights())).outcome is WeightSetOutcome.REJECTED
    await bounded(validator.run_round())
    assert await bounded(validator.weights_tick()) > 0
    assert chain.refusals == 1  # the chain answered, but a refusal repeats: no new attempt before the backoff
    clock.now += validator.config.retry_base_s
    assert (await bounded(validator.maybe_set_weights())).outcome is WeightSetOutcome.REJECTED
    assert chain.refusals == 2


async def test_a_failed_sync_after_a_weight_set_does_not_set_weights_again(small_subnet: Subnet) -> None:
    """The set lands in a block newer than the last metagraph; with the next sync failing, that block
    is the newest one seen, not one "from the future" to be ignored (which set weights twice in an epoch)."""
    chain = small_subnet.chain
    validator = small_subnet.make_validator()
    await bounded(validator.run_round())
    assert (await bounded(validator.maybe_set_weights())).outcome is WeightSetOutcome.SUCCESS
    chain.reads_down = True
    for _ in range(3):
        await bounded(validator.run_round())  # the sync fails; the stale view stays
        assert await bounded(validator.maybe_set_weights()) is None
        await bounded(validator.weights_tick())
        chain.block += 2
    assert len(chain.weight_calls) == 1
    chain.reads_down = False
    chain.block = 101 + chain.tempo
    await bounded(validator.run_round())
    assert (await bounded(validator.maybe_set_weights())).outcome is WeightSetOutcome.SUCCESS
    assert len(chain.weight_calls) == 2


async def test_the_weights_tick_sets_weights_when_due_and_sleeps_until_the_next_epoch(small_subnet: Subnet) -> None:
    chain, clock = small_subnet.chain, small_subnet.clock
    validator = small_subnet.make_validator()
    await bounded(validator.run_round())
    await bounded(validator.weights_tick())
    assert len(chain.weight_calls) == 1
    await bounded(validator.weights_tick())  # sees the block the set landed in
    for _ in range(3):  # blocks every 2 s by the validator's clock: the tick learns the rate
        chain.block += 1
        clock.now += 2.0
        pause = await bounded(validator.weights_tick())
    assert len(chain.weight_calls) == 1
    assert pause == pytest.approx(2.0 * (101 + chain.tempo - chain.block))
    chain.block = 101 + chain.tempo
    clock.now += pause
    await bounded(validator.weights_tick())
    assert len(chain.weight_calls) == 2


async def test_after_an_outage_the_chain_is_probed_within_a_quarter_tempo(small_subnet: Subnet) -> None:
    chain, clock = small_subnet.chain, small_subnet.clock
    validator = small_subnet.make_validator()
    for _ in range(3):
        await bounded(validator.run_round())
        chain.block += 1
        clock.now += 0.5
    await bounded(validator.weights_tick())
    chain.down = True
    pauses = []
    for _ in range(12):  # a long outage: the backoff grows, but only up to a quarter tempo
        pause = await bounded(validator.weights_tick())
        pauses.append(pause)
        clock.now += pause
    assert max(pauses) == pytest.approx(chain.tempo * 0.5 / 4)
    chain.down = False
    chain.block += 100
    await bounded(validator.weights_tick())
    assert len(chain.weight_calls) == 2  # set at once: due, and the backoff ended with the chain's answer


async def test_a_timed_out_chain_call_is_a_chain_error_not_a_hang(small_subnet: Subnet) -> None:
    validator = small_subnet.make_validator()
    await bounded(validator.run_round())
    release = threading.Event()

    def hang(*_args: object) -> WeightSetResult:
        release.wait(BOUND_S)
        return WeightSetResult(WeightSetOutcome.SUCCESS, block=1)

    small_subnet.chain.set_weights = hang  # type: ignore[method-assign]
    validator.config = replace(validator.config, chain_timeout_s=0.2)
    result = await bounded(validator.maybe_set_weights())
    release.set()
    assert isinstance(result, WeightSetResult) and result.outcome is WeightSetOutcome.CHAIN_ERROR


async def test_with_the_chain_down_the_validator_keeps_querying_scoring_and_saving(
    small_subnet: Subnet,
) -> None:
    validator = small_subnet.make_validator()
    await bounded(validator.run_round())
    small_subnet.chain.down = True
    for _ in range(2):
        report = await bounded(validator.run_round())
        assert report is not None and {r.outcome for r in report.results} == {Outcome.OK}
        result = await bounded(validator.maybe_set_weights())
        assert result is None or result.outcome is WeightSetOutcome.CHAIN_ERROR
    assert state_from_json(small_subnet.state_path.read_bytes()).rounds == 3
    small_subnet.chain.down = False
    small_subnet.clock.now += validator.config.retry_cap_s
    result = await bounded(validator.maybe_set_weights())
    assert isinstance(result, WeightSetResult) and result.outcome is WeightSetOutcome.SUCCESS


async def test_without_any_metagraph_the_round_is_skipped(small_subnet: Subnet) -> None:
    small_subnet.chain.down = True
    validator = small_subnet.make_validator()
    assert await bounded(validator.run_round()) is None
    assert await bounded(validator.maybe_set_weights()) is None


async def test_the_loop_survives_a_failing_round_and_stops_on_request(small_subnet: Subnet) -> None:
    validator = small_subnet.make_validator()
    calls = 0

    def flaky(seed: int, difficulty: int) -> Challenge:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise RuntimeError("generator bug")
        return fake_challenge(seed, difficulty)

    validator.make_challenge = flaky
    await bounded(validator.run(asyncio.Event(), max_rounds=3))
    assert calls == 1 + 2 * 2  # the first round fails at its first page; the next two draw one page per miner
    assert validator.state.rounds == 2
    stop = asyncio.Event()
    stop.set()
    await bounded(validator.run(stop))
    assert validator.state.rounds == 2


async def test_metrics_pass_promtool_and_carry_the_documented_labels(subnet: Subnet) -> None:
    validator = subnet.make_validator()
    await bounded(validator.run_round())
    await bounded(validator.maybe_set_weights())
    text = validator.metrics.render().decode()
    good = subnet.miners["good"]
    assert (
        f'{names.VALIDATOR_MINER_EMA}{{miner_hotkey="{good.hotkey}",uid="1",'
        f'validator_hotkey="{VALIDATOR_KEY.ss58_address}"}}'
    ) in text
    for name in (
        names.VALIDATOR_REWARD_PART,
        names.VALIDATOR_QUERY_LATENCY + "_bucket",
        names.VALIDATOR_RESPONSES,
        names.VALIDATOR_WEIGHT_SET_ATTEMPTS,
        names.VALIDATOR_LAST_WEIGHT_SET_BLOCK,
        names.VALIDATOR_CURRENT_BLOCK,
        names.VALIDATOR_WEIGHTS_RATE_LIMIT,
        names.VALIDATOR_TEMPO,
        names.VALIDATOR_STATE_SAVES,
        names.VALIDATOR_ROUNDS,
        names.VALIDATOR_ROUND_DURATION + "_count",
    ):
        assert f"\n{name}{{" in text, name
    for outcome in ("ok", "timeout", "too_large", "invalid", "http_error"):
        assert _sample(validator, names.VALIDATOR_RESPONSES, outcome=outcome) >= 1, outcome
    assert_promtool_accepts_metrics(text)


def _sample(validator: Validator, name: str, **labels: str) -> float:
    value = validator.metrics.registry.get_sample_value(
        name, {"validator_hotkey": VALIDATOR_KEY.ss58_address, **labels}
    )
    return value or 0.0


async def test_a_failed_state_save_is_counted_and_the_round_still_counts(small_subnet: Subnet) -> None:
    small_subnet.state_path.parent.mkdir(parents=True)
    small_subnet.state_path.mkdir()  # a directory where the file should go: every save fails
    validator = small_subnet.make_validator()
    report = await bounded(validator.run_round())
    assert report is not None and validator.state.rounds == 1
    assert _sample(validator, names.VALIDATOR_STATE_SAVES, result="error") == 1
    assert _sample(validator, names.VALIDATOR_STATE_SAVES, result="success") == 0


async def test_the_organic_weight_blends_the_gateways_organic_ema_into_the_reward(small_subnet: Subnet) -> None:
    good = small_subnet.miners["good"]
    plain = small_subnet.make_validator()
    await bounded(plain.run_round())
    synthetic_only = plain.state.scores[good.hotkey].ema
    assert synthetic_only > 0
    small_subnet.state_path.unlink()
    organic_path = small_subnet.state_path.parent / "organic.json"
    save_organic(organic_path, OrganicState(scores={good.hotkey: OrganicScore(ema=0.0, pages=5)}))
    blended = small_subnet.make_validator()
    blended.config = replace(blended.config, organic_state=organic_path, organic_weight=0.5)
    await bounded(blended.run_round())
    # from 0 at alpha 0.5: ema = 0.5 * ((1 - 0.5) * r_synthetic + 0.5 * 0), half of the synthetic-only EMA
    assert blended.state.scores[good.hotkey].ema == pytest.approx(synthetic_only / 2, rel=0.02)
    garbage = small_subnet.miners["garbage"]
    assert blended.state.scores[garbage.hotkey].ema == pytest.approx(plain.state.scores[garbage.hotkey].ema)


def serve_gateway_metrics(scores: dict[str, tuple[float, int]]) -> tuple[str, Callable[[], None]]:
    """A gateway replica's real metrics (hotkey -> (organic EMA, pages)) on a loopback /metrics; its URL and stop."""
    metrics = GatewayMetrics()
    for hotkey, (ema, pages) in scores.items():
        metrics.verifications.labels(hotkey, "passed").inc(pages)
        metrics.organic_ema.labels(hotkey).set(ema)
    server, thread = start_http_server(0, addr="127.0.0.1", registry=metrics.registry)

    def stop() -> None:
        server.shutdown()
        server.server_close()
        thread.join(BOUND_S)

    return f"http://127.0.0.1:{server.server_address[1]}/metrics", stop


async def test_the_organic_weight_blends_the_gateway_replicas_scores_read_over_http(small_subnet: Subnet) -> None:
    good = small_subnet.miners["good"]
    plain = small_subnet.make_validator()
    await bounded(plain.run_round())
    synthetic_only = plain.state.scores[good.hotkey].ema
    small_subnet.state_path.unlink()
    first, stop_first = serve_gateway_metrics({good.hotkey: (0.2, 30)})
    second, stop_second = serve_gateway_metrics({good.hotkey: (0.8, 10)})
    probe = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    down = f"http://127.0.0.1:{probe.sockets[0].getsockname()[1]}/metrics"
    probe.close()
    await probe.wait_closed()  # a replica that is down: refused, logged, never fatal
    try:
        blended = replace_config(
            small_subnet, organic_metrics=(first, second, down), organic_weight=0.5, organic_max_age_s=60.0
        )
        await bounded(blended.run_round())
        organic = (0.2 * 30 + 0.8 * 10) / 40  # the replicas weighted by their pages
        # from 0 at alpha 0.5: ema = 0.5 * ((1 - 0.5) * r_synthetic + 0.5 * organic)
        ema = blended.state.scores[good.hotkey].ema
        assert ema == pytest.approx(synthetic_only / 2 + organic / 4, rel=0.02)
        stop_first()
        stop_second()
        small_subnet.clock.now += 60.0  # the last readings are 60 s old: they still count
        await bounded(blended.run_round())
        again = blended.state.scores[good.hotkey].ema
        assert again == pytest.approx(ema / 2 + synthetic_only / 2 + organic / 4, rel=0.02)
        small_subnet.clock.now += 61.0  # now too old: the synthetic reward alone (r_synthetic = 2 * synthetic_only)
        await bounded(blended.run_round())
        assert blended.state.scores[good.hotkey].ema == pytest.approx(again / 2 + synthetic_only, rel=0.02)
    finally:
        stop_first()
        stop_second()


def replace_config(subnet: Subnet, **changes: object) -> Validator:
    """A validator of `subnet` built with these config changes (the feed is made from the config)."""
    template = subnet.make_validator()
    return Validator(
        chain=template.chain,
        wallet=template.wallet,
        hotkey=template.hotkey,
        config=replace(template.config, **changes),
        make_challenge=template.make_challenge,
        score=template.score,
        metrics=template.metrics,
        rng=random.Random(0),
        clock=subnet.clock,
    )
