"""The miner's HTTP surface: `POST /ocr` (btauth/1 signed), `GET /healthz`, `GET /metrics`.

A request passes, in order, and nothing is held in memory before the steps that justify it:

1. before reading a byte of the body: a blacklist look-up on the claimed hotkey, then every btauth/1
   check the headers alone can settle (shape, receiver, freshness), so unregistered or unsigned
   senders cannot make us buffer a body;
2. admission of the body: its declared size (or the size limit) is taken from a budget shared by the
   bodies in flight, or the answer is 503 at once;
3. reading it, within the size limit and the signature's freshness window, into one buffer;
4. signature verification over those bytes, the authoritative blacklist check on the verified hotkey,
   and strict JSON validation (the image stays base64, undecoded);
5. the stake-ordered gate;
6. in the backend's thread, bounded by the caller's deadline: the image's header is read, its pixels
   are taken from the decoded-pixel budget (503 when they do not fit), then it is decoded and read.

Every step that refuses answers an `Answer`; nothing a caller sends can crash the server.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager, suppress
from typing import Any, TypeVar

import bittensor as bt
from bittensor.http_auth import HEADER_HOTKEY, AuthError, BadSignature, Caller
from fastapi import FastAPI, Request, Response
from fastapi.openapi.utils import get_openapi
from prometheus_client import CONTENT_TYPE_LATEST
from pydantic import ValidationError
from starlette.requests import ClientDisconnect
from starlette.types import Scope

from ocr_subnet import __version__
from ocr_subnet.backends.base import BackendError, OcrBackend, recognize_within
from ocr_subnet.chain.port import ChainPort, ChainUnavailable, Metagraph, NeuronInfo
from ocr_subnet.logs import log_event
from ocr_subnet.miner.budget import Budget
from ocr_subnet.miner.config import MinerConfig
from ocr_subnet.miner.gate import GateFull, PriorityGate
from ocr_subnet.miner.metagraph_cache import MetagraphCache
from ocr_subnet.miner.metrics import MinerMetrics
from ocr_subnet.miner.policy import (
    Answer,
    Denial,
    Outcome,
    auth_failure,
    backend_failed,
    bad_request,
    blacklist_reason,
    blacklisted,
    body_too_slow,
    image_over_budget,
    overloaded,
    remaining_budget,
    too_large,
)
from ocr_subnet.protocol import (
    HEALTH_PATH,
    MAX_BODY_BYTES,
    METRICS_PATH,
    OCR_PATH,
    ErrorResponse,
    OcrRequest,
    OcrResponse,
    ProtocolError,
    load_image,
    open_image,
)
from ocr_subnet.replay import StartBoundNonceStore
from ocr_subnet.sections import Section

logger = logging.getLogger(__name__)

T = TypeVar("T")

MAX_DETAIL_CHARS = 300
MAX_RETRY_DELAY_S = 10.0


class Rejected(Exception):
    """Carries an `Answer` from whichever step refused the request up to the answer."""

    def __init__(self, answer: Answer) -> None:
        super().__init__(answer.detail)
        self.answer = answer


def request_target(scope: Scope) -> str:
    """The path and query exactly as the client sent them: what btauth/1 signs."""
    path: bytes = scope.get("raw_path") or scope["path"].encode()
    query: bytes = scope.get("query_string", b"")
    return (path + b"?" + query if query else path).decode("latin-1")


def declared_size(request: Request, limit: int) -> int | None:
    """The Content-Length, refused past `limit` before a byte is read; None when not declared."""
    declared = request.headers.get("content-length", "")
    if not declared.isdigit():
        return None
    if int(declared) > limit:
        raise Rejected(too_large(limit))
    return int(declared)


async def read_body(request: Request, limit: int, timeout_s: float = 60.0) -> bytearray:
    """Reads at most `limit` bytes within `timeout_s`: a body past the limit is refused mid-read.

    The one copy of the body: chunks are appended to a single buffer, which is returned as it is.
    """
    declared_size(request, limit)
    body = bytearray()
    try:
        async with asyncio.timeout(timeout_s):
            async for chunk in request.stream():
                if len(body) + len(chunk) > limit:
                    raise Rejected(too_large(limit))
                body += chunk
    except ClientDisconnect as exc:  # e.g. a validator that gave up mid-upload: count it, no traceback
        raise Rejected(bad_request("client disconnected before the body was complete")) from exc
    except TimeoutError as exc:
        raise Rejected(body_too_slow(timeout_s)) from exc
    return body


def validation_detail(error: ValidationError) -> str:
    """A short, input-free description: the image field may hold megabytes we must not echo."""
    problems = error.errors(include_input=False, include_url=False)
    if any(problem["type"] == "json_invalid" for problem in problems):
        return f"invalid JSON: {problems[0]['msg']}"
    return "invalid request: " + "; ".join(
        f"{'.'.join(map(str, problem['loc'])) or 'body'}: {problem['msg']}" for problem in problems[:5]
    )


def parse_request(body: bytes | bytearray) -> OcrRequest:
    """Strict JSON validation; the image stays base64 until the request holds a slot."""
    try:
        return OcrRequest.model_validate_json(body)
    except ValidationError as exc:
        raise Rejected(bad_request(validation_detail(exc))) from exc


class _NoNonceStore:
    """For checking headers alone: `verify` reaches the nonce store only after a valid signature, and
    then this store records nothing (the real verification, over the body, records the nonce)."""

    def check_and_store(self, hotkey_ss58: str, nonce_ns: int) -> bool:
        return True


def run_in_daemon_thread(fn: Callable[..., T], *args: Any) -> asyncio.Future[T]:
    """Runs blocking `fn` off the event loop. Unlike an executor's worker, a daemon thread stuck in
    a hung engine cannot keep the process from exiting; the future settles whenever `fn` ends."""
    loop = asyncio.get_running_loop()
    future: asyncio.Future[T] = loop.create_future()

    def settle(result: T | None, error: BaseException | None) -> None:
        if future.done():
            return
        if error is None:
            future.set_result(result)  # type: ignore[arg-type]
        else:
            future.set_exception(error)

    def work() -> None:
        ending: tuple[T | None, BaseException | None] = (
            None,
            BackendError("backend thread exited without an answer"),
        )
        try:
            ending = (fn(*args), None)
        except Exception as exc:  # the engine's failure is reported to the request, not raised here
            ending = (None, exc)
        finally:
            with suppress(RuntimeError):  # the loop closed meanwhile: nobody waits for this answer
                loop.call_soon_threadsafe(settle, *ending)

    threading.Thread(target=work, name="ocr-backend", daemon=True).start()
    return future


async def retry_until(what: str, attempt: Callable[[], Awaitable[bool]], timeout_s: float) -> None:
    """Retries with exponential backoff until `attempt` succeeds; raises once `timeout_s` is spent."""
    deadline = time.monotonic() + timeout_s
    delay = 0.25
    while not await attempt():
        if time.monotonic() + delay > deadline:
            raise RuntimeError(f"{what} did not succeed within {timeout_s:g}s")
        await asyncio.sleep(delay)
        delay = min(delay * 2, MAX_RETRY_DELAY_S)


class Miner:
    """The state the routes share: identity, cached metagraph, gate, metrics, replay store."""

    def __init__(self, config: MinerConfig, chain: ChainPort, backend: OcrBackend, wallet: bt.Wallet) -> None:
        self.config = config
        self.chain = chain
        self.backend = backend
        self.wallet = wallet
        self.hotkey = wallet.hotkey.ss58_address
        self.gate = PriorityGate(config.max_concurrency, config.max_queue)
        self.metrics = MinerMetrics(self.hotkey, backend.name, self.gate)
        self.metagraph = MetagraphCache(chain, config.metagraph_refresh_s, config.chain_timeout_s)
        # Refuses what an earlier run of this miner may have accepted, not only what this one did.
        self.nonces = StartBoundNonceStore(config.auth_max_age_s, config.auth_allowed_skew_s)
        self.bodies = Budget(config.max_body_bytes_in_flight, "body bytes")
        self.pixels = Budget(config.max_decoded_pixels, "decoded pixels")

    @asynccontextmanager
    async def lifespan(self, _app: FastAPI) -> AsyncIterator[None]:
        """Loads the metagraph and serves the axon before taking requests; refreshes in the background."""
        await retry_until("loading the metagraph", self.metagraph.refresh, self.config.startup_timeout_s)
        if self.config.serve_axon:
            # Started before its registration (a Job or its owner registers it meanwhile): wait, do not crash.
            await retry_until("registration on the subnet", self._registered, self.config.startup_timeout_s)
            await retry_until("serving the axon", self._serve_axon, self.config.startup_timeout_s)
        else:
            self._warn_if_unregistered()
        refresher = asyncio.create_task(self.metagraph.refresh_forever())
        log_event(logger, "miner_started", hotkey=self.hotkey, backend=self.backend.name)
        try:
            yield
        finally:
            refresher.cancel()
            with suppress(asyncio.CancelledError):
                await refresher
            self.backend.close()
            log_event(logger, "miner_stopped", hotkey=self.hotkey)

    def _warn_if_unregistered(self) -> bool:
        """True when the hotkey is in the cached metagraph; a warning when it is not."""
        metagraph = self.metagraph.current
        if metagraph is not None and metagraph.by_hotkey(self.hotkey) is None:
            log_event(logger, "miner_not_registered", logging.WARNING, hotkey=self.hotkey, netuid=metagraph.netuid)
            return False
        return metagraph is not None

    async def _registered(self) -> bool:
        return await self.metagraph.refresh() and self._warn_if_unregistered()

    async def _serve_axon(self) -> bool:
        ip, port = self.config.axon_address()
        try:
            await asyncio.wait_for(
                asyncio.to_thread(self.chain.serve_axon, self.wallet, ip, port), self.config.chain_timeout_s
            )
        except (ChainUnavailable, TimeoutError) as exc:  # retried; ChainRejected fails the start
            log_event(logger, "serve_axon_failed", logging.WARNING, error=f"{type(exc).__name__}: {exc}")
            return False
        log_event(logger, "axon_served", ip=ip, port=port, netuid=self.chain.netuid)
        return True

    def health(self) -> dict[str, Any]:
        metagraph = self.metagraph.current
        age = self.metagraph.age_s()
        return {
            "status": "ok",
            "hotkey": self.hotkey,
            "backend": self.backend.name,
            "metagraph_block": None if metagraph is None else metagraph.block,
            "metagraph_age_s": None if age is None else round(age, 3),
            "slots_in_use": self.gate.in_use,
            "queued": self.gate.waiting,
            "body_bytes_in_flight": self.bodies.in_use,
            "decoded_pixels_in_flight": self.pixels.in_use,
        }

    async def handle(self, request: Request) -> Response:
        started = time.perf_counter()
        try:
            result = await self._ocr(request, started)
            ending = Answer(Outcome.OK, 200, "")
            response = Response(result.model_dump_json(), media_type="application/json")
        except Rejected as rejected:
            ending = rejected.answer
            body = ErrorResponse(detail=ending.detail).model_dump_json()
            response = Response(body, ending.status, media_type="application/json")
        elapsed = time.perf_counter() - started
        self.metrics.request_done(ending.outcome, elapsed)
        log_event(
            logger,
            "ocr_request",
            outcome=ending.outcome.value,
            status=ending.status,
            claimed_hotkey=request.headers.get(HEADER_HOTKEY, ""),
            duration_s=round(elapsed, 4),
            detail=ending.detail,
        )
        return response

    async def _ocr(self, request: Request, started: float) -> OcrResponse:
        metagraph = self.metagraph.current
        if metagraph is None:  # only before startup finished; the lifespan loads it first
            raise Rejected(overloaded("metagraph not loaded yet"))
        headers = dict(request.headers)
        target = request_target(request.scope)
        claimed = headers.get(HEADER_HOTKEY.lower())
        if claimed:
            self._admit(claimed, metagraph)
        self._check_headers(headers, target)
        share = declared_size(request, MAX_BODY_BYTES) or MAX_BODY_BYTES
        if not self.bodies.try_take(share):
            raise Rejected(overloaded(f"request bodies in flight: {self.bodies.describe()}"))
        try:
            return await self._admitted(request, headers, target, metagraph, started)
        finally:
            self.bodies.give_back(share)

    async def _admitted(
        self, request: Request, headers: dict[str, str], target: str, metagraph: Metagraph, started: float
    ) -> OcrResponse:
        # A body slower than the signature's freshness window would arrive stale: stop waiting for it.
        read_timeout = self.config.auth_max_age_s + self.config.auth_allowed_skew_s
        body = await read_body(request, MAX_BODY_BYTES, read_timeout)
        caller = await self._authenticate(headers, body, target)
        neuron = self._admit(caller.hotkey_ss58, metagraph)
        ocr_request = await asyncio.to_thread(parse_request, body)
        del body  # the parsed request holds what is needed; the raw bytes go now, not at the answer
        margin = self.config.response_margin_s
        budget = remaining_budget(ocr_request.deadline_s, time.perf_counter() - started, margin)
        try:
            await self.gate.acquire(neuron.stake, budget)
        except GateFull as exc:
            raise Rejected(overloaded(str(exc))) from exc
        budget = remaining_budget(ocr_request.deadline_s, time.perf_counter() - started, margin)
        if budget <= 0:  # the slot came too late to be of use: do not start work nobody will read
            self.gate.release()
            raise Rejected(overloaded("the deadline passed while waiting for a slot"))
        encoded = ocr_request.image
        del ocr_request
        return await self._recognize(encoded, budget)

    def _admit(self, hotkey: str, metagraph: Metagraph) -> NeuronInfo:
        denial = blacklist_reason(hotkey, metagraph, self.config.min_stake, self.config.require_validator_permit)
        neuron = metagraph.by_hotkey(hotkey)
        if neuron is None or denial is not None:
            raise Rejected(blacklisted(denial or Denial.UNREGISTERED))
        return neuron

    def _check_headers(self, headers: dict[str, str], target: str) -> None:
        """Every btauth/1 check the headers alone settle, before the body is read: `verify`, over an
        empty body, checks shape, receiver and freshness before the signature (its documented order),
        so only `BadSignature` means the headers are in order and the body must decide."""
        try:
            bt.http_auth.verify(
                headers,
                b"",
                method="POST",
                path=target,
                self_hotkey_ss58=self.hotkey,
                max_age=self.config.auth_max_age_s,
                allowed_skew=self.config.auth_allowed_skew_s,
                nonce_store=_NoNonceStore(),
            )
        except BadSignature:
            return
        except AuthError as exc:
            raise Rejected(auth_failure(exc)) from exc

    async def _authenticate(self, headers: dict[str, str], body: bytes | bytearray, target: str) -> Caller:
        try:
            return await asyncio.to_thread(
                bt.http_auth.verify,
                headers,
                body,
                method="POST",
                path=target,
                self_hotkey_ss58=self.hotkey,
                max_age=self.config.auth_max_age_s,
                allowed_skew=self.config.auth_allowed_skew_s,
                nonce_store=self.nonces,
            )
        except AuthError as exc:
            raise Rejected(auth_failure(exc)) from exc

    async def _recognize(self, encoded: str, timeout_s: float) -> OcrResponse:
        """The slot taken by the caller is released when the engine returns, not when we stop
        waiting: work abandoned at the deadline still occupies the engine (and its pixels)."""
        started = time.perf_counter()
        work = run_in_daemon_thread(self._decode_and_recognize, encoded, started + timeout_s)
        work.add_done_callback(lambda _: self._backend_finished(started))
        try:
            sections = await asyncio.wait_for(asyncio.shield(work), timeout_s)
            return OcrResponse(sections=sections)
        except Rejected:
            raise
        except TimeoutError as exc:
            raise Rejected(backend_failed(f"no answer within {timeout_s:.2f}s of the deadline")) from exc
        except Exception as exc:  # an engine failure of any kind answers 503, the server carries on
            raise Rejected(backend_failed(f"{type(exc).__name__}: {exc}"[:MAX_DETAIL_CHARS])) from exc

    def _decode_and_recognize(self, encoded: str, deadline: float) -> list[Section]:
        """In the backend's thread: the pixels are paid for (from the budget) before they are decoded;
        the backend is told the time left until `deadline` (perf_counter), so Triton drops the request
        from its queue once the miner has stopped waiting for it."""
        try:
            image = open_image(encoded)
        except ProtocolError as exc:
            raise Rejected(bad_request(f"invalid image: {exc}")) from exc
        width, height = image.size
        pixels = width * height
        if pixels > self.pixels.total:
            raise Rejected(image_over_budget(width, height, self.pixels.total))
        if not self.pixels.try_take(pixels):
            raise Rejected(overloaded(f"decoding {width}x{height} would exceed {self.pixels.describe()}"))
        try:
            try:
                image = load_image(image)
            except ProtocolError as exc:
                raise Rejected(bad_request(f"invalid image: {exc}")) from exc
            return recognize_within(self.backend, image, deadline - time.perf_counter())
        finally:
            del image
            self.pixels.give_back(pixels)

    def _backend_finished(self, started: float) -> None:
        self.gate.release()
        self.metrics.backend_done(time.perf_counter() - started)


def _error_responses() -> dict[int | str, dict[str, Any]]:
    reasons = {
        400: "invalid JSON, request fields or image",
        401: "missing, forged, stale or replayed btauth/1 signature",
        403: "signed for another miner, or caller blacklisted",
        413: "body over the size limit",
        503: "overloaded, or the OCR backend failed or timed out",
    }
    return {status: {"model": ErrorResponse, "description": text} for status, text in reasons.items()}


def _openapi_with_request_model(app: FastAPI) -> Callable[[], dict[str, Any]]:
    """`/ocr` reads its raw body itself (the signature covers the exact bytes), so FastAPI does not
    see the request model; this adds `OcrRequest` to the published schema."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
            request_schema = OcrRequest.model_json_schema(ref_template="#/components/schemas/{model}")
            components = schema.setdefault("components", {}).setdefault("schemas", {})
            components.update(request_schema.pop("$defs", {}))
            components["OcrRequest"] = request_schema
            app.openapi_schema = schema
        return app.openapi_schema

    return openapi


def build_app(config: MinerConfig, chain: ChainPort, backend: OcrBackend, wallet: bt.Wallet) -> FastAPI:
    """The miner as an ASGI app; its lifespan loads the metagraph and serves the axon at start,
    and closes `backend` at shutdown (here, because uvicorn re-raises SIGTERM once it has stopped,
    so code after `server.run()` may never run)."""
    miner = Miner(config, chain, backend, wallet)
    app = FastAPI(
        title="OCR subnet miner",
        version=__version__,
        description="OCR of invoice images for the OCR Bittensor subnet. `POST /ocr` needs btauth/1 headers.",
        lifespan=miner.lifespan,
        docs_url=None,
        redoc_url=None,
    )
    app.state.miner = miner

    @app.post(
        OCR_PATH,
        response_model=OcrResponse,
        responses=_error_responses(),
        openapi_extra={
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/OcrRequest"}}},
            }
        },
    )
    async def ocr(request: Request) -> Response:
        return await miner.handle(request)

    @app.get(HEALTH_PATH)
    async def healthz() -> dict[str, Any]:
        return miner.health()

    @app.get(METRICS_PATH)
    async def metrics() -> Response:
        return Response(miner.metrics.exposition(), media_type=CONTENT_TYPE_LATEST)

    app.openapi = _openapi_with_request_model(app)  # type: ignore[method-assign]
    return app
