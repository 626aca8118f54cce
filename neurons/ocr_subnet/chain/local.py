"""The embedded local chain, client side: `ChainPort` over HTTP to `ocr-subnet chain serve`.

Reads are plain GETs. Writes (register, serve axon, set weights) are signed with the caller's
hotkey under btauth/1 and bound to the chain's own identity, so the server knows which hotkey is
acting from the signature alone: no process can act for a hotkey whose key it does not hold. The
wire models live here so the server validates exactly what the client sends.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import bittensor as bt
import httpx
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    IPvAnyAddress,
    TypeAdapter,
    ValidationError,
    field_validator,
)

from ocr_subnet.chain.local_state import axon_problem
from ocr_subnet.chain.port import (
    ChainRejected,
    ChainUnavailable,
    Hyperparameters,
    Metagraph,
    WeightSetOutcome,
    WeightSetResult,
)

DEFAULT_LOCAL_URL = "http://127.0.0.1:9944"
DEFAULT_TIMEOUT_S = 10.0

HEALTH_PATH = "/healthz"
INFO_PATH = "/v1/info"
BLOCK_PATH = "/v1/block"

METAGRAPH_WIRE = TypeAdapter(Metagraph)
HYPERPARAMETERS_WIRE = TypeAdapter(Hyperparameters)


def subnet_path(netuid: int | str, action: str) -> str:
    """`/v1/subnets/{netuid}/{action}`; the server passes the literal "{netuid}" to declare routes."""
    return f"/v1/subnets/{netuid}/{action}"


class ChainInfo(BaseModel):
    identity: str = Field(
        description="ss58 address every signed request must name as its receiver; new at every start of the "
        "chain, so no request signed before a restart is accepted after it"
    )
    netuid: int
    block: int
    block_time_s: float


class RegisterRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    coldkey: str = Field(min_length=1)
    stake: float = Field(ge=0, allow_inf_nan=False)


class AxonRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    ip: IPvAnyAddress
    port: int = Field(ge=1, le=65535)


class WeightsRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    uids: list[int] = Field(max_length=65536)
    weights: list[float] = Field(max_length=65536)
    version_key: int = Field(default=0, ge=0)

    @field_validator("uids")
    @classmethod
    def _uids_in_range(cls, uids: list[int]) -> list[int]:
        if any(uid < 0 or uid > 65535 for uid in uids):
            raise ValueError("uids must be in 0..65535")
        return uids

    @field_validator("weights")
    @classmethod
    def _weights_finite(cls, weights: list[float]) -> list[float]:
        if any(not math.isfinite(w) or w < 0 for w in weights):
            raise ValueError("weights must be finite and non-negative")
        return weights


class Refusal(BaseModel):
    """The body of every 4xx/5xx answer from the chain server."""

    code: str
    detail: str
    retry_in_blocks: int = 0


def refusal_of(response: httpx.Response) -> Refusal:
    """The server's refusal, also for bodies it did not write itself (422 lists, proxies' HTML)."""
    try:
        return Refusal.model_validate_json(response.content)
    except ValidationError:
        return Refusal(code=f"http_{response.status_code}", detail=response.text[:500])


def weight_set_result(status_code: int, body: dict[str, Any] | Refusal) -> WeightSetResult:
    """Map the server's answer to a set-weights request onto the port's outcomes."""
    if isinstance(body, dict):
        return WeightSetResult(WeightSetOutcome.SUCCESS, block=int(body["block"]))
    if status_code == httpx.codes.TOO_MANY_REQUESTS:
        return WeightSetResult(WeightSetOutcome.RATE_LIMITED, message=body.detail)
    if status_code >= 500:
        return WeightSetResult(WeightSetOutcome.CHAIN_ERROR, message=body.detail)
    return WeightSetResult(WeightSetOutcome.REJECTED, message=f"{body.code}: {body.detail}")


class LocalChainClient:
    """`ChainPort` for the local chain server; `register` is extra because only a dev chain
    lets a hotkey join with whatever stake it declares."""

    def __init__(
        self,
        url: str = DEFAULT_LOCAL_URL,
        netuid: int = 1,
        *,
        timeout: float = DEFAULT_TIMEOUT_S,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.netuid = netuid
        self.url = url
        self._http = httpx.Client(base_url=url, timeout=timeout, transport=transport)
        self._identity: str | None = None

    def close(self) -> None:
        self._http.close()

    def _send(self, request: httpx.Request) -> httpx.Response:
        try:
            return self._http.send(request)
        except httpx.TransportError as exc:
            raise ChainUnavailable(f"local chain at {self.url}: {type(exc).__name__}: {exc}") from exc

    def _get(self, path: str) -> Any:
        response = self._send(self._http.build_request("GET", path))
        self._raise_for_refusal(response)
        return response.json()

    def _raise_for_refusal(self, response: httpx.Response) -> None:
        if response.is_success:
            return
        refusal = refusal_of(response)
        message = f"local chain {response.request.url.path}: {refusal.code}: {refusal.detail}"
        if response.status_code >= 500:
            raise ChainUnavailable(message)
        raise ChainRejected(message)

    def _chain_identity(self) -> str:
        if self._identity is None:
            self._identity = ChainInfo.model_validate(self._get(INFO_PATH)).identity
        return self._identity

    def _post_signed(self, wallet: bt.Wallet, path: str, payload: BaseModel) -> httpx.Response:
        """POST signed for the chain's current receiver; when the chain restarted since we asked for it
        (a 401 and a new receiver), sign afresh for the new one and send once more."""
        body = payload.model_dump_json().encode()
        receiver = self._chain_identity()
        response = self._send(self._signed_request(wallet, path, body, receiver))
        if response.status_code != httpx.codes.UNAUTHORIZED:
            return response
        self._identity = None
        if self._chain_identity() == receiver:
            return response  # refused for another reason: retrying would change nothing
        return self._send(self._signed_request(wallet, path, body, self._chain_identity()))

    def _signed_request(self, wallet: bt.Wallet, path: str, body: bytes, receiver: str) -> httpx.Request:
        request = self._http.build_request("POST", path, content=body, headers={"content-type": "application/json"})
        request.headers.update(
            bt.http_auth.sign(
                wallet, method="POST", path=request.url.raw_path.decode("ascii"), body=body, receiver_ss58=receiver
            )
        )
        return request

    def current_block(self) -> int:
        return int(self._get(BLOCK_PATH)["block"])

    def metagraph(self) -> Metagraph:
        data = self._get(subnet_path(self.netuid, "metagraph"))
        try:
            return METAGRAPH_WIRE.validate_python(data)
        except ValidationError as exc:
            raise ChainUnavailable(f"local chain sent a malformed metagraph: {exc}") from exc

    def hyperparameters(self) -> Hyperparameters:
        data = self._get(subnet_path(self.netuid, "hyperparameters"))
        try:
            return HYPERPARAMETERS_WIRE.validate_python(data)
        except ValidationError as exc:
            raise ChainUnavailable(f"local chain sent malformed hyperparameters: {exc}") from exc

    def register(self, wallet: bt.Wallet, stake: float = 0.0) -> int:
        """Register the wallet's hotkey (owned by its coldkey) with `stake`; returns its uid."""
        payload = RegisterRequest(coldkey=wallet.coldkeypub.ss58_address, stake=stake)
        response = self._post_signed(wallet, subnet_path(self.netuid, "register"), payload)
        self._raise_for_refusal(response)
        return int(response.json()["uid"])

    def serve_axon(self, wallet: bt.Wallet, ip: str, port: int) -> None:
        try:
            payload = AxonRequest(ip=ip, port=port)
        except ValidationError as exc:
            raise ChainRejected(f"not a servable endpoint {ip}:{port}: {exc}") from exc
        problem = axon_problem(str(payload.ip), payload.port)
        if problem is not None:
            raise ChainRejected(f"local chain refuses the axon: {problem}")
        response = self._post_signed(wallet, subnet_path(self.netuid, "axon"), payload)
        self._raise_for_refusal(response)

    def set_weights(
        self, wallet: bt.Wallet, uids: Sequence[int], weights: Sequence[float], version_key: int
    ) -> WeightSetResult:
        try:
            payload = WeightsRequest(uids=list(uids), weights=list(weights), version_key=version_key)
        except ValidationError as exc:
            return WeightSetResult(WeightSetOutcome.REJECTED, message=str(exc))
        response = self._post_signed(wallet, subnet_path(self.netuid, "weights"), payload)
        body = response.json() if response.is_success else refusal_of(response)
        return weight_set_result(response.status_code, body)
