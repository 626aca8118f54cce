"""The embedded local chain, server side: one subnet over HTTP on loopback.

A background task advances one block every `block_time_s` and closes an epoch every `tempo`
blocks; the state is saved after every block and every write, so a restart resumes where the
chain stopped. All handlers are `async` and run on the event loop thread, so the state has a
single writer and needs no lock.

Signed requests name a receiver address that is new at every start (`ChainInfo.identity`), so a
request captured before a restart is refused after it: btauth/1's seen-nonce cache lives in memory
and starts empty, and its 10 s freshness window alone would let the capture through again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import AsyncIterator
from pathlib import Path

import bittensor as bt
from bittensor.sp_core import ss58_encode
from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from ocr_subnet.chain.local import (
    BLOCK_PATH,
    HEALTH_PATH,
    HYPERPARAMETERS_WIRE,
    INFO_PATH,
    METAGRAPH_WIRE,
    AxonRequest,
    ChainInfo,
    Refusal,
    RegisterRequest,
    WeightsRequest,
    subnet_path,
)
from ocr_subnet.chain.local_state import (
    ChainParams,
    LocalChain,
    LocalChainError,
    Rejection,
    load_state,
    save_state,
)
from ocr_subnet.logs import log_event

logger = logging.getLogger(__name__)


def new_identity() -> str:
    """A fresh random address; it only names a receiver, nothing is signed with it."""
    return ss58_encode(os.urandom(32), 42)


def refusal_status(rejection: Rejection) -> int:
    return 429 if rejection is Rejection.RATE_LIMITED else 409


class _Persisted:
    """Saves the state after each change; a failed save is logged and retried on the next one,
    because stopping block production over a full disk would only make things worse."""

    def __init__(self, chain: LocalChain, path: Path) -> None:
        self.chain = chain
        self.path = path

    def save(self) -> None:
        try:
            save_state(self.path, self.chain.state)
        except OSError as exc:
            log_event(logger, "chain_state_save_failed", logging.ERROR, path=str(self.path), error=str(exc))


async def _produce_blocks(persisted: _Persisted, block_time_s: float) -> None:
    chain = persisted.chain
    while True:
        await asyncio.sleep(block_time_s)
        if chain.advance():
            incentive = {n.uid: round(n.incentive, 6) for n in chain.state.neurons.values() if n.incentive}
            log_event(logger, "chain_epoch", block=chain.block, incentive=incentive)
        persisted.save()


def create_app(chain: LocalChain, state_path: Path, block_time_s: float) -> FastAPI:
    persisted = _Persisted(chain, state_path)
    nonce_store = bt.http_auth.InMemoryNonceStore()
    receiver = new_identity()  # this run's: what every signed request must name, so none outlives the run

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        persisted.save()
        producer = asyncio.create_task(_produce_blocks(persisted, block_time_s))
        log_event(
            logger,
            "chain_started",
            netuid=chain.params.netuid,
            block=chain.block,
            neurons=len(chain.state.neurons),
            identity=chain.identity,
            receiver=receiver,
            block_time_s=block_time_s,
            tempo=chain.params.tempo,
            weights_rate_limit=chain.params.weights_rate_limit,
            state=str(state_path),
        )
        try:
            yield
        finally:
            producer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await producer
            persisted.save()
            log_event(logger, "chain_stopped", block=chain.block)

    app = FastAPI(title="ocr-subnet local chain", lifespan=lifespan)

    @app.exception_handler(LocalChainError)
    async def _refused(request: Request, exc: LocalChainError) -> JSONResponse:
        refusal = Refusal(code=exc.rejection.value, detail=str(exc), retry_in_blocks=exc.retry_in_blocks)
        log_event(logger, "chain_refused", path=request.url.path, code=refusal.code, detail=refusal.detail)
        return JSONResponse(refusal.model_dump(), status_code=refusal_status(exc.rejection))

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        refusal = Refusal(code=f"http_{exc.status_code}", detail=str(exc.detail))
        return JSONResponse(refusal.model_dump(), status_code=exc.status_code)

    def this_subnet(netuid: int) -> None:
        if netuid != chain.params.netuid:
            raise HTTPException(404, f"this chain serves netuid {chain.params.netuid}, not {netuid}")

    async def signer(request: Request) -> str:
        """The hotkey that signed this request for this chain; nothing in the body can claim another."""
        try:
            caller = bt.http_auth.verify(
                request.headers,
                await request.body(),
                method=request.method,
                path=request.url.path,
                self_hotkey_ss58=receiver,
                nonce_store=nonce_store,
            )
        except bt.http_auth.AuthError as exc:
            log_event(logger, "chain_auth_refused", logging.WARNING, path=request.url.path, error=str(exc))
            raise HTTPException(401, str(exc)) from exc
        return caller.hotkey_ss58

    @app.get(HEALTH_PATH)
    async def health() -> dict[str, object]:
        return {"status": "ok", "block": chain.block}

    @app.get(INFO_PATH)
    async def info() -> ChainInfo:
        return ChainInfo(identity=receiver, netuid=chain.params.netuid, block=chain.block, block_time_s=block_time_s)

    @app.get(BLOCK_PATH)
    async def block() -> dict[str, int]:
        return {"block": chain.block}

    @app.get(subnet_path("{netuid}", "metagraph"), dependencies=[Depends(this_subnet)])
    async def metagraph() -> object:
        return METAGRAPH_WIRE.dump_python(chain.metagraph(), mode="json")

    @app.get(subnet_path("{netuid}", "hyperparameters"), dependencies=[Depends(this_subnet)])
    async def hyperparameters() -> object:
        return HYPERPARAMETERS_WIRE.dump_python(chain.hyperparameters(), mode="json")

    @app.post(subnet_path("{netuid}", "register"), dependencies=[Depends(this_subnet)])
    async def register(payload: RegisterRequest, hotkey: str = Depends(signer)) -> dict[str, int]:
        uid = chain.register(hotkey, payload.coldkey, payload.stake)
        persisted.save()
        log_event(logger, "chain_registered", uid=uid, hotkey=hotkey, coldkey=payload.coldkey, stake=payload.stake)
        return {"uid": uid}

    @app.post(subnet_path("{netuid}", "axon"), dependencies=[Depends(this_subnet)])
    async def serve_axon(payload: AxonRequest, hotkey: str = Depends(signer)) -> dict[str, str]:
        chain.serve_axon(hotkey, str(payload.ip), payload.port)
        persisted.save()
        log_event(logger, "chain_axon_served", hotkey=hotkey, ip=str(payload.ip), port=payload.port)
        return {"status": "ok"}

    @app.post(subnet_path("{netuid}", "weights"), dependencies=[Depends(this_subnet)])
    async def set_weights(payload: WeightsRequest, hotkey: str = Depends(signer)) -> dict[str, int]:
        block = chain.set_weights(hotkey, payload.uids, payload.weights, payload.version_key)
        persisted.save()
        log_event(logger, "chain_weights_set", hotkey=hotkey, block=block, uids=len(payload.uids))
        return {"block": block}

    return app


def serve(
    *,
    host: str,
    port: int,
    state_path: Path,
    params: ChainParams,
    block_time_s: float,
    discard_corrupt_state: bool = False,
) -> None:
    """Run the chain until interrupted; blocks start where the state file left them.

    Raises `ChainStateError` before binding anything when the state file cannot be used.
    """
    import uvicorn

    if block_time_s <= 0:
        raise ValueError("block_time_s must be > 0")
    chain = LocalChain(params, load_state(state_path, new_identity, discard_corrupt=discard_corrupt_state))
    app = create_app(chain, state_path, block_time_s)
    uvicorn.run(app, host=host, port=port, log_level="warning", access_log=False, log_config=None)
