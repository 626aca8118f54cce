"""The miner's HTTP app in process (httpx ASGI transport), with an in-test chain fake and fake backends.

Signatures are real btauth/1 signatures from dev keypairs; only the chain and the OCR engine are fakes.
"""

from __future__ import annotations

import asyncio
import base64
import io
import json
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path

import bittensor as bt
import httpx
import pytest
from bittensor.http_auth import HEADER_HOTKEY
from bittensor.sp_core import Keypair
from fastapi import FastAPI
from ocr_subnet.backends.base import BackendError
from ocr_subnet.chain.port import (
    AxonInfo,
    ChainRejected,
    ChainUnavailable,
    Hyperparameters,
    Metagraph,
    NeuronInfo,
    WeightSetOutcome,
    WeightSetResult,
)
from ocr_subnet.miner.app import Miner, build_app
from ocr_subnet.miner.config import MinerConfig
from ocr_subnet.protocol import MAX_BODY_BYTES, encode_image
from ocr_subnet.sections import Font, Section
from PIL import Image

from tests.support.tools import assert_promtool_accepts_metrics

VALIDATOR = Keypair.create_from_uri("//Alice")  # permit, stake 1000
NO_PERMIT = Keypair.create_from_uri("//Bob")  # registered, stake 1000, no validator permit
RICH = Keypair.create_from_uri("//Charlie")  # permit, stake 5000
POOR = Keypair.create_from_uri("//Dave")  # permit, stake 10: below the default minimum of 100
STRANGER = Keypair.create_from_uri("//Eve")  # not registered

SECTION = Section(text="Total 42.00", position=(10.0, 20.0, 120.0, 32.0), font=Font(family="Helvetica", size=10.0))
LONG_S = 30.0  # how long a held fake backend waits before giving up on its own


class FakeChain:
    """In-test fake of `ChainPort`: one metagraph, a switchable outage, recorded axon serving."""

    def __init__(self, miner_hotkey: str) -> None:
        self.netuid = 1
        self.down = False
        self.refuse_axon = False
        self.served: list[tuple[str, str, int]] = []
        registered = [
            (VALIDATOR.ss58_address, 1000.0, True),
            (NO_PERMIT.ss58_address, 1000.0, False),
            (RICH.ss58_address, 5000.0, True),
            (POOR.ss58_address, 10.0, True),
            (miner_hotkey, 0.0, False),
        ]
        self._metagraph = Metagraph(
            netuid=1,
            block=100,
            neurons=tuple(
                NeuronInfo(
                    uid=uid,
                    hotkey=hotkey,
                    coldkey=hotkey,
                    stake=stake,
                    validator_permit=permit,
                    axon=AxonInfo("127.0.0.1", 8091),
                    last_update=90,
                )
                for uid, (hotkey, stake, permit) in enumerate(registered)
            ),
        )

    def current_block(self) -> int:
        return self._metagraph.block

    def metagraph(self) -> Metagraph:
        if self.down:
            raise ChainUnavailable("fake outage")
        return self._metagraph

    def hyperparameters(self) -> Hyperparameters:
        return Hyperparameters(tempo=360, weights_rate_limit=100, commit_reveal_enabled=False)

    def serve_axon(self, wallet: bt.Wallet, ip: str, port: int) -> None:
        if self.refuse_axon:
            raise ChainRejected("fake: hotkey not registered")
        self.served.append((wallet.hotkey.ss58_address, ip, port))

    def set_weights(
        self, wallet: bt.Wallet, uids: Sequence[int], weights: Sequence[float], version_key: int
    ) -> WeightSetResult:
        return WeightSetResult(WeightSetOutcome.SUCCESS, block=self._metagraph.block)


@dataclass
class FakeBackend:
    """Answers one fixed section; can fail, or hold each call until `release` is set."""

    name: str = "fake"
    error: Exception | None = None
    release: threading.Event | None = None
    seen_widths: list[int] = field(default_factory=list)
    closed: bool = False

    def recognize(self, image: Image.Image) -> list[Section]:
        self.seen_widths.append(image.width)
        if self.release is not None:
            self.release.wait(LONG_S)
        if self.error is not None:
            raise self.error
        return [SECTION]

    def close(self) -> None:
        self.closed = True


@dataclass
class Harness:
    app: FastAPI
    client: httpx.AsyncClient
    miner: Miner
    chain: FakeChain
    backend: FakeBackend


def png(width: int = 40, height: int = 20) -> str:
    buffer = io.BytesIO()
    Image.new("L", (width, height), 255).save(buffer, format="PNG")
    return encode_image(buffer.getvalue())


def ocr_body(width: int = 40, deadline_s: float = 12.0) -> bytes:
    return json.dumps({"image": png(width), "challenge_id": "c1", "deadline_s": deadline_s}).encode()


def signed(signer: Keypair, body: bytes, receiver: str, **overrides: int) -> dict[str, str]:
    return bt.http_auth.sign(signer, method="POST", path="/ocr", body=body, receiver_ss58=receiver, **overrides)


@pytest.fixture(scope="module")
def miner_wallet(tmp_path_factory: pytest.TempPathFactory) -> bt.Wallet:
    wallet = bt.Wallet("miner", "default", path=str(tmp_path_factory.mktemp("wallets")))
    wallet.create_new_coldkey(use_password=False, suppress=True)
    wallet.create_new_hotkey(suppress=True)
    return wallet


@asynccontextmanager
async def running_miner(
    wallet: bt.Wallet, backend: FakeBackend | None = None, chain: FakeChain | None = None, **config: object
) -> AsyncIterator[Harness]:
    settings = {"min_stake": 100.0, "max_concurrency": 2, "max_queue": 4, **config}
    chain = chain or FakeChain(wallet.hotkey.ss58_address)
    backend = backend or FakeBackend()
    app = build_app(MinerConfig(**settings), chain, backend, wallet)  # type: ignore[arg-type]
    app.state.miner.nonces.floor_ns = 0  # requests here are signed at once; the restart floor: test_replay.py
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:8091") as client:
            yield Harness(app, client, app.state.miner, chain, backend)


@pytest.fixture
async def harness(miner_wallet: bt.Wallet) -> AsyncIterator[Harness]:
    async with running_miner(miner_wallet) as running:
        yield running


@pytest.fixture
def held() -> Iterator[threading.Event]:
    """A release switch for a backend that holds its calls; always released at teardown."""
    release = threading.Event()
    yield release
    release.set()


async def post_ocr(harness: Harness, signer: Keypair, body: bytes | None = None) -> httpx.Response:
    body = ocr_body() if body is None else body
    headers = signed(signer, body, harness.miner.hotkey)
    return await harness.client.post("/ocr", content=body, headers=headers)


async def until(condition: Callable[[], bool]) -> None:
    """Yields to the event loop until `condition()` holds; never measures time."""
    while not condition():
        await asyncio.sleep(0.001)


async def test_signed_request_from_a_validator_gets_sections(harness: Harness) -> None:
    response = await post_ocr(harness, VALIDATOR)
    assert response.status_code == 200
    assert [Section.model_validate(s) for s in response.json()["sections"]] == [SECTION]


async def test_unsigned_request_is_unauthorized(harness: Harness) -> None:
    response = await harness.client.post("/ocr", content=ocr_body())
    assert response.status_code == 401
    assert "MalformedAuth" in response.json()["detail"]


async def test_forged_signature_claiming_a_validator_hotkey_is_unauthorized(harness: Harness) -> None:
    body = ocr_body()
    headers = signed(STRANGER, body, harness.miner.hotkey)
    headers[HEADER_HOTKEY] = VALIDATOR.ss58_address
    response = await harness.client.post("/ocr", content=body, headers=headers)
    assert response.status_code == 401
    assert "BadSignature" in response.json()["detail"]


async def test_body_changed_after_signing_is_unauthorized(harness: Harness) -> None:
    headers = signed(VALIDATOR, ocr_body(width=40), harness.miner.hotkey)
    response = await harness.client.post("/ocr", content=ocr_body(width=41), headers=headers)
    assert response.status_code == 401


async def test_stale_timestamp_is_unauthorized(harness: Harness) -> None:
    body = ocr_body()
    headers = signed(VALIDATOR, body, harness.miner.hotkey, nonce_ns=time.time_ns() - 60 * 10**9)
    response = await harness.client.post("/ocr", content=body, headers=headers)
    assert response.status_code == 401
    assert "StaleRequest" in response.json()["detail"]


async def test_replayed_nonce_is_unauthorized(harness: Harness) -> None:
    body = ocr_body()
    headers = signed(VALIDATOR, body, harness.miner.hotkey)
    first = await harness.client.post("/ocr", content=body, headers=headers)
    replay = await harness.client.post("/ocr", content=body, headers=headers)
    assert first.status_code == 200
    assert replay.status_code == 401
    assert "ReplayedRequest" in replay.json()["detail"]


async def test_request_signed_for_another_miner_is_forbidden(harness: Harness) -> None:
    body = ocr_body()
    headers = signed(VALIDATOR, body, receiver=RICH.ss58_address)
    response = await harness.client.post("/ocr", content=body, headers=headers)
    assert response.status_code == 403
    assert "WrongReceiver" in response.json()["detail"]


async def test_unregistered_caller_is_blacklisted(harness: Harness) -> None:
    response = await post_ocr(harness, STRANGER)
    assert response.status_code == 403
    assert response.json()["detail"] == "caller is blacklisted: unregistered"


async def test_caller_without_validator_permit_is_blacklisted(harness: Harness) -> None:
    response = await post_ocr(harness, NO_PERMIT)
    assert response.status_code == 403
    assert response.json()["detail"] == "caller is blacklisted: no_validator_permit"


async def test_caller_below_minimum_stake_is_blacklisted(harness: Harness) -> None:
    response = await post_ocr(harness, POOR)
    assert response.status_code == 403
    assert response.json()["detail"] == "caller is blacklisted: stake_below_minimum"


async def test_declared_oversized_body_is_refused(harness: Harness) -> None:
    body = b"x" * (MAX_BODY_BYTES + 1)
    response = await harness.client.post("/ocr", content=body, headers=signed(VALIDATOR, body, harness.miner.hotkey))
    assert response.status_code == 413


async def test_streamed_oversized_body_is_refused_while_reading(harness: Harness) -> None:
    chunk = b"x" * (1024 * 1024)
    total_chunks = 64
    sent: list[int] = []

    async def stream() -> AsyncIterator[bytes]:  # no Content-Length: the size is only known by reading
        for number in range(total_chunks):
            sent.append(number)
            yield chunk

    headers = signed(VALIDATOR, b"", harness.miner.hotkey)
    response = await harness.client.post("/ocr", content=stream(), headers=headers)
    assert response.status_code == 413
    assert len(sent) <= MAX_BODY_BYTES // len(chunk) + 2 < total_chunks


async def test_client_disconnecting_mid_body_is_a_counted_bad_request(harness: Harness) -> None:
    body = ocr_body()
    headers = [
        (key.lower().encode(), value.encode()) for key, value in signed(VALIDATOR, body, harness.miner.hotkey).items()
    ]
    incoming = [{"type": "http.request", "body": body[:100], "more_body": True}, {"type": "http.disconnect"}]
    sent: list[dict[str, object]] = []

    async def receive() -> dict[str, object]:
        return incoming.pop(0)

    async def send(message: dict[str, object]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/ocr",
        "raw_path": b"/ocr",
        "query_string": b"",
        "root_path": "",
        "headers": headers,
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8091),
    }
    await harness.app(scope, receive, send)
    assert sent[0]["status"] == 400
    metrics = (await harness.client.get("/metrics")).text
    assert f'miner_hotkey="{harness.miner.hotkey}",outcome="bad_request"}} 1.0' in metrics


async def test_non_image_payload_is_a_bad_request(harness: Harness) -> None:
    body = json.dumps({"image": base64.b64encode(b"%PDF-1.4 not an image").decode()}).encode()
    response = await post_ocr(harness, VALIDATOR, body)
    assert response.status_code == 400
    assert response.json()["detail"].startswith("invalid image:")


async def test_invalid_json_is_a_bad_request(harness: Harness) -> None:
    response = await post_ocr(harness, VALIDATOR, b'{"image": ')
    assert response.status_code == 400
    assert response.json()["detail"].startswith("invalid JSON:")


async def test_unknown_request_field_is_a_bad_request(harness: Harness) -> None:
    body = json.dumps({"image": png(), "extra": 1}).encode()
    response = await post_ocr(harness, VALIDATOR, body)
    assert response.status_code == 400
    assert response.json()["detail"].startswith("invalid request: extra:")


async def test_backend_raising_answers_503(miner_wallet: bt.Wallet) -> None:
    backend = FakeBackend(error=BackendError("engine crashed"))
    async with running_miner(miner_wallet, backend) as harness:
        response = await post_ocr(harness, VALIDATOR)
        healthy = await harness.client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["detail"] == "backend error: BackendError: engine crashed"
    assert healthy.status_code == 200


@dataclass
class DeadlineBackend(FakeBackend):
    """A backend that can use the caller's remaining time (as Triton's does): records what it is told."""

    told: list[float] = field(default_factory=list)

    def recognize_within(self, image: Image.Image, timeout_s: float) -> list[Section]:
        self.told.append(timeout_s)
        return self.recognize(image)


async def test_the_backend_is_told_the_requests_remaining_deadline(miner_wallet: bt.Wallet) -> None:
    backend = DeadlineBackend()
    async with running_miner(miner_wallet, backend) as harness:
        response = await post_ocr(harness, VALIDATOR, ocr_body(deadline_s=3.0))
    assert response.status_code == 200
    [told] = backend.told
    assert 0 < told < 3.0  # what is left of the validator's deadline, less the miner's margin


async def test_backend_hanging_past_the_deadline_answers_503_without_waiting(
    miner_wallet: bt.Wallet, held: threading.Event
) -> None:
    backend = FakeBackend(release=held)
    async with running_miner(miner_wallet, backend) as harness:
        response = await post_ocr(harness, VALIDATOR, ocr_body(deadline_s=0.5))
        assert not held.is_set()  # the engine is still stuck: the answer did not wait for it
        assert response.status_code == 503
        assert "no answer within" in response.json()["detail"]
        assert harness.miner.gate.in_use == 1  # abandoned work still occupies its slot
        held.set()
        await until(lambda: harness.miner.gate.in_use == 0)


async def test_request_whose_deadline_is_already_spent_is_not_started(harness: Harness) -> None:
    response = await post_ocr(harness, VALIDATOR, ocr_body(deadline_s=0.1))  # under the answer margin
    assert response.status_code == 503
    assert response.json()["detail"].startswith("overloaded:")
    assert harness.backend.seen_widths == []
    assert harness.miner.gate.in_use == 0


async def test_full_queue_answers_overloaded(miner_wallet: bt.Wallet, held: threading.Event) -> None:
    backend = FakeBackend(release=held)
    async with running_miner(miner_wallet, backend, max_concurrency=1, max_queue=1) as harness:
        running = asyncio.create_task(post_ocr(harness, VALIDATOR))
        await until(lambda: harness.miner.gate.in_use == 1)
        waiting = asyncio.create_task(post_ocr(harness, VALIDATOR))
        await until(lambda: harness.miner.gate.waiting == 1)
        refused = await post_ocr(harness, RICH)
        held.set()
        assert refused.status_code == 503
        assert refused.json()["detail"].startswith("overloaded:")
        assert [(await task).status_code for task in (running, waiting)] == [200, 200]


async def test_waiting_callers_are_served_highest_stake_first(miner_wallet: bt.Wallet, held: threading.Event) -> None:
    backend = FakeBackend(release=held)
    async with running_miner(miner_wallet, backend, max_concurrency=1, max_queue=8, min_stake=0.0) as harness:
        first = asyncio.create_task(post_ocr(harness, VALIDATOR, ocr_body(width=10)))
        await until(lambda: harness.miner.gate.in_use == 1)
        queued = []
        for count, (signer, width) in enumerate([(POOR, 11), (RICH, 12), (VALIDATOR, 13)], start=1):
            queued.append(asyncio.create_task(post_ocr(harness, signer, ocr_body(width=width))))
            await until(lambda count=count: harness.miner.gate.waiting == count)
        held.set()
        statuses = [(await task).status_code for task in (first, *queued)]
    assert statuses == [200, 200, 200, 200]
    assert backend.seen_widths == [10, 12, 13, 11]  # stake 5000, then 1000, then 10


async def test_cached_metagraph_keeps_answering_through_a_chain_outage(harness: Harness) -> None:
    harness.chain.down = True
    assert await harness.miner.metagraph.refresh() is False
    allowed = await post_ocr(harness, VALIDATOR)
    denied = await post_ocr(harness, STRANGER)
    assert (allowed.status_code, denied.status_code) == (200, 403)


async def test_axon_is_served_at_start_with_the_external_address(miner_wallet: bt.Wallet) -> None:
    chain = FakeChain(miner_wallet.hotkey.ss58_address)
    async with running_miner(miner_wallet, chain=chain, external_ip="127.0.0.1", external_port=30091):
        assert chain.served == [(miner_wallet.hotkey.ss58_address, "127.0.0.1", 30091)]


async def test_axon_is_not_served_when_disabled(miner_wallet: bt.Wallet) -> None:
    chain = FakeChain(miner_wallet.hotkey.ss58_address)
    async with running_miner(miner_wallet, chain=chain, serve_axon=False):
        assert chain.served == []


async def test_start_fails_when_the_chain_refuses_the_axon(miner_wallet: bt.Wallet) -> None:
    chain = FakeChain(miner_wallet.hotkey.ss58_address)
    chain.refuse_axon = True
    with pytest.raises(ChainRejected):
        async with running_miner(miner_wallet, chain=chain):
            pass


async def test_start_waits_for_the_registration_and_then_serves_the_axon(miner_wallet: bt.Wallet) -> None:
    chain = FakeChain(miner_wallet.hotkey.ss58_address)
    registered = chain._metagraph
    chain._metagraph = replace(
        registered, neurons=tuple(n for n in registered.neurons if n.hotkey != miner_wallet.hotkey.ss58_address)
    )

    async def register_soon() -> None:
        await asyncio.sleep(0.3)
        chain._metagraph = registered

    registration = asyncio.create_task(register_soon())
    async with running_miner(miner_wallet, chain=chain, startup_timeout_s=10.0):
        assert registration.done()
        assert [hotkey for hotkey, _, _ in chain.served] == [miner_wallet.hotkey.ss58_address]


async def test_start_gives_up_when_the_hotkey_is_never_registered(miner_wallet: bt.Wallet) -> None:
    chain = FakeChain(miner_wallet.hotkey.ss58_address)
    chain._metagraph = replace(chain._metagraph, neurons=chain._metagraph.neurons[:-1])
    with pytest.raises(RuntimeError, match="registration on the subnet"):
        async with running_miner(miner_wallet, chain=chain, startup_timeout_s=0.5):
            pass
    assert chain.served == []


async def test_start_gives_up_when_the_chain_stays_unreachable(miner_wallet: bt.Wallet) -> None:
    chain = FakeChain(miner_wallet.hotkey.ss58_address)
    chain.down = True
    with pytest.raises(RuntimeError, match="loading the metagraph"):
        async with running_miner(miner_wallet, chain=chain, startup_timeout_s=0.1):
            pass


async def test_backend_is_closed_when_the_app_stops(miner_wallet: bt.Wallet) -> None:
    backend = FakeBackend()
    async with running_miner(miner_wallet, backend):
        assert not backend.closed
    assert backend.closed


async def test_healthz_reports_the_miner_state(harness: Harness) -> None:
    response = await harness.client.get("/healthz")
    assert response.status_code == 200
    health = response.json()
    assert (health["status"], health["hotkey"], health["metagraph_block"]) == (
        "ok",
        harness.miner.hotkey,
        100,
    )


async def test_openapi_publishes_request_and_response_models(harness: Harness) -> None:
    schema = (await harness.client.get("/openapi.json")).json()
    assert {"OcrRequest", "OcrResponse", "Section"} <= set(schema["components"]["schemas"])
    body = schema["paths"]["/ocr"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert body == {"$ref": "#/components/schemas/OcrRequest"}


async def test_outcomes_are_counted_by_label(harness: Harness) -> None:
    await post_ocr(harness, VALIDATOR)
    await post_ocr(harness, STRANGER)
    await harness.client.post("/ocr", content=ocr_body())
    metrics = (await harness.client.get("/metrics")).text
    hotkey = harness.miner.hotkey
    for outcome in ("ok", "blacklisted", "unauthorized"):
        assert f'ocr_subnet_miner_requests_total{{miner_hotkey="{hotkey}",outcome="{outcome}"}} 1.0' in metrics
    assert f'ocr_subnet_miner_requests_total{{miner_hotkey="{hotkey}",outcome="too_large"}} 0.0' in metrics


async def test_metrics_pass_promtool(harness: Harness, tmp_path: Path) -> None:
    await post_ocr(harness, VALIDATOR)
    await post_ocr(harness, STRANGER)
    exposition = (await harness.client.get("/metrics")).content
    assert_promtool_accepts_metrics(exposition)


# --- admission before memory: headers, then the body budget, then reading, then decoding in a slot ---


async def counting_stream(chunks: int, sent: list[int]) -> AsyncIterator[bytes]:
    for number in range(chunks):
        sent.append(number)
        yield b"x" * 1024


async def test_unsigned_upload_naming_a_validator_is_refused_before_its_body_is_read(harness: Harness) -> None:
    sent: list[int] = []
    headers = {HEADER_HOTKEY: VALIDATOR.ss58_address}
    response = await harness.client.post("/ocr", content=counting_stream(64, sent), headers=headers)
    assert response.status_code == 401
    assert "MalformedAuth" in response.json()["detail"]
    assert sent == []


async def test_headers_signed_for_another_miner_are_refused_before_the_body_is_read(harness: Harness) -> None:
    sent: list[int] = []
    headers = signed(VALIDATOR, b"", receiver=RICH.ss58_address)
    response = await harness.client.post("/ocr", content=counting_stream(64, sent), headers=headers)
    assert response.status_code == 403
    assert sent == []


async def test_stale_headers_are_refused_before_the_body_is_read(harness: Harness) -> None:
    sent: list[int] = []
    headers = signed(VALIDATOR, b"", harness.miner.hotkey, nonce_ns=time.time_ns() - 60 * 10**9)
    response = await harness.client.post("/ocr", content=counting_stream(64, sent), headers=headers)
    assert response.status_code == 401
    assert "StaleRequest" in response.json()["detail"]
    assert sent == []


async def test_a_body_past_the_in_flight_budget_answers_overloaded_unread(harness: Harness) -> None:
    bodies = harness.miner.bodies
    assert bodies.try_take(bodies.total - 100)  # other requests' bodies fill all but 100 bytes
    sent: list[int] = []
    headers = {**signed(VALIDATOR, b"x" * 1024, harness.miner.hotkey), "Content-Length": "1024"}
    refused = await harness.client.post("/ocr", content=counting_stream(1, sent), headers=headers)
    assert refused.status_code == 503
    assert "request bodies in flight" in refused.json()["detail"]
    assert sent == []
    bodies.give_back(bodies.total - 100)
    assert (await post_ocr(harness, VALIDATOR)).status_code == 200


async def test_every_answer_gives_its_budgets_back(harness: Harness) -> None:
    statuses = [
        (await post_ocr(harness, VALIDATOR)).status_code,
        (await post_ocr(harness, STRANGER)).status_code,
        (await post_ocr(harness, VALIDATOR, b'{"image": ')).status_code,
        (await post_ocr(harness, VALIDATOR, json.dumps({"image": "not base64!"}).encode())).status_code,
        (await harness.client.post("/ocr", content=ocr_body())).status_code,
    ]
    assert statuses == [200, 403, 400, 400, 401]
    assert (harness.miner.bodies.in_use, harness.miner.pixels.in_use) == (0, 0)


async def test_a_body_slower_than_the_signature_freshness_answers_408(miner_wallet: bt.Wallet) -> None:
    async with running_miner(miner_wallet, auth_max_age_s=0.3, auth_allowed_skew_s=0.1) as harness:

        async def stalling() -> AsyncIterator[bytes]:
            yield b'{"image": '
            await asyncio.sleep(LONG_S)  # never sends the rest; the miner stops waiting first

        headers = signed(VALIDATOR, b"whatever", harness.miner.hotkey)
        response = await harness.client.post("/ocr", content=stalling(), headers=headers)
        assert response.status_code == 408
        assert response.json()["detail"] == "request body not received within 0.4s"
        assert harness.miner.bodies.in_use == 0


async def test_an_image_over_the_whole_pixel_budget_is_refused_413(miner_wallet: bt.Wallet) -> None:
    async with running_miner(miner_wallet, max_decoded_pixels=500) as harness:
        response = await post_ocr(harness, VALIDATOR, ocr_body(width=40))  # 40x20 = 800 pixels
        assert response.status_code == 413
        assert response.json()["detail"] == "image is 40x20, over this miner's 500 decoded-pixel budget"
        assert harness.backend.seen_widths == []
        assert (harness.miner.gate.in_use, harness.miner.pixels.in_use) == (0, 0)


async def test_pixels_held_by_requests_in_flight_answer_overloaded(harness: Harness) -> None:
    pixels = harness.miner.pixels
    assert pixels.try_take(pixels.total - 100)
    response = await post_ocr(harness, VALIDATOR)
    assert response.status_code == 503
    assert response.json()["detail"].startswith("overloaded: decoding 40x20 would exceed")
    assert harness.backend.seen_widths == []
    assert harness.miner.gate.in_use == 0
    pixels.give_back(pixels.total - 100)
    assert (await post_ocr(harness, VALIDATOR)).status_code == 200


async def test_images_are_decoded_only_once_their_request_holds_a_slot(
    miner_wallet: bt.Wallet, held: threading.Event
) -> None:
    backend = FakeBackend(release=held)
    async with running_miner(miner_wallet, backend, max_concurrency=1, max_queue=4) as harness:
        running = asyncio.create_task(post_ocr(harness, VALIDATOR, ocr_body(width=40)))
        await until(lambda: backend.seen_widths == [40])
        waiting = [asyncio.create_task(post_ocr(harness, VALIDATOR, ocr_body(width=w))) for w in (50, 60, 70)]
        await until(lambda: harness.miner.gate.waiting == 3)
        assert harness.miner.pixels.in_use == 40 * 20  # the three waiting images are not decoded yet
        held.set()
        assert [(await task).status_code for task in (running, *waiting)] == [200, 200, 200, 200]
        await until(lambda: harness.miner.pixels.in_use == 0)


@pytest.mark.parametrize(("literal", "field"), [('"12"', "deadline_s"), ("true", "deadline_s"), ("7", "challenge_id")])
async def test_request_fields_of_the_wrong_json_type_are_a_bad_request(
    harness: Harness, literal: str, field: str
) -> None:
    fields = {"image": json.dumps(png()), "challenge_id": '"c1"', "deadline_s": "12", field: literal}
    body = ("{" + ", ".join(f'"{name}": {value}' for name, value in fields.items()) + "}").encode()
    response = await post_ocr(harness, VALIDATOR, body)
    assert response.status_code == 400
    assert response.json()["detail"].startswith(f"invalid request: {field}:")
    assert harness.backend.seen_widths == []


async def test_a_whole_number_deadline_is_served(harness: Harness) -> None:
    body = json.dumps({"image": png(), "deadline_s": 12}).encode()
    assert (await post_ocr(harness, VALIDATOR, body)).status_code == 200
