"""Send signed OCR requests (one per miner) to many miners at once and bring back bounded, classified answers.

Miners are untrusted: each request has a hard deadline covering connect, upload and the whole
answer; the answer is read as a stream and abandoned past `MAX_RESPONSE_BYTES` (never buffered
whole); it must parse as an `OcrResponse`. Every failure becomes an outcome, never an exception.
"""

from __future__ import annotations

import asyncio
import enum
import time
from collections.abc import Sequence
from dataclasses import dataclass

import bittensor as bt
import httpx
from pydantic import ValidationError

from ocr_subnet.chain.port import NeuronInfo
from ocr_subnet.protocol import MAX_RESPONSE_BYTES, OCR_PATH, OcrResponse
from ocr_subnet.sections import Section


class Outcome(enum.StrEnum):
    """Label values match `metric_names.VALIDATOR_RESPONSE_OUTCOMES`."""

    OK = "ok"
    TIMEOUT = "timeout"
    HTTP_ERROR = "http_error"
    INVALID = "invalid"
    TOO_LARGE = "too_large"
    UNREACHABLE = "unreachable"


@dataclass(frozen=True)
class QueryResult:
    uid: int
    hotkey: str
    outcome: Outcome
    latency_s: float  # validator-measured: request start to last byte read, or to giving up
    sections: tuple[Section, ...] = ()
    status: int | None = None
    detail: str = ""


class TooLarge(Exception):
    """A body past its byte limit (a miner's answer, a scraped exposition)."""


async def read_capped(response: httpx.Response, limit: int) -> bytes:
    """The raw body, refusing to hold more than `limit` bytes of it at any moment."""
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise TooLarge(f"declared {declared} bytes")
    body = bytearray()
    async for chunk in response.aiter_raw():
        body += chunk
        if len(body) > limit:
            raise TooLarge(f"more than {limit} bytes")
    return bytes(body)


async def query_miner(
    client: httpx.AsyncClient,
    wallet: bt.WalletLike,
    miner: NeuronInfo,
    body: bytes,
    deadline_s: float,
    max_bytes: int = MAX_RESPONSE_BYTES,
) -> QueryResult:
    """POST `body` to one miner's `/ocr`, signed for that miner's hotkey, within `deadline_s`."""
    if miner.axon is None:
        return QueryResult(miner.uid, miner.hotkey, Outcome.UNREACHABLE, 0.0, detail="no axon served")
    headers = bt.http_auth.sign(wallet, method="POST", path=OCR_PATH, body=body, receiver_ss58=miner.hotkey)
    headers["Content-Type"] = "application/json"
    headers["Accept-Encoding"] = "identity"
    start = time.perf_counter()
    end: float | None = None  # set once the whole answer is in, so parsing time is not the miner's

    def finish(
        outcome: Outcome, status: int | None = None, detail: str = "", sections: Sequence[Section] = ()
    ) -> QueryResult:
        return QueryResult(
            uid=miner.uid,
            hotkey=miner.hotkey,
            outcome=outcome,
            latency_s=(end or time.perf_counter()) - start,
            sections=tuple(sections),
            status=status,
            detail=detail,
        )

    try:
        async with asyncio.timeout(deadline_s):
            request = client.build_request(
                "POST", miner.axon.url + OCR_PATH, content=body, headers=headers, timeout=deadline_s
            )
            response = await client.send(request, stream=True)
            try:
                if response.status_code != 200:
                    return finish(Outcome.HTTP_ERROR, response.status_code, response.reason_phrase)
                encoding = response.headers.get("content-encoding", "identity").lower()
                if encoding != "identity":
                    return finish(Outcome.INVALID, 200, f"compressed answer ({encoding}) not accepted")
                raw = await read_capped(response, max_bytes)
                end = time.perf_counter()
            finally:
                await response.aclose()
    except TooLarge as exc:
        return finish(Outcome.TOO_LARGE, 200, str(exc))
    except (TimeoutError, httpx.ReadTimeout, httpx.WriteTimeout, httpx.PoolTimeout):
        return finish(Outcome.TIMEOUT, detail=f"no complete answer within {deadline_s:g}s")
    except (httpx.ConnectError, httpx.ConnectTimeout, httpx.InvalidURL) as exc:
        return finish(Outcome.UNREACHABLE, detail=str(exc) or type(exc).__name__)
    except httpx.HTTPError as exc:
        return finish(Outcome.HTTP_ERROR, detail=str(exc) or type(exc).__name__)
    try:
        answer = OcrResponse.model_validate_json(raw)
    except ValidationError as exc:
        detail = f"not an OcrResponse: {exc.error_count()} errors, first: {exc.errors()[0]['msg'][:200]}"
        return finish(Outcome.INVALID, 200, detail)
    return finish(Outcome.OK, 200, sections=answer.sections)


async def query_miners(
    client: httpx.AsyncClient,
    wallet: bt.WalletLike,
    miners: Sequence[NeuronInfo],
    bodies: Sequence[bytes],
    deadline_s: float,
    max_bytes: int = MAX_RESPONSE_BYTES,
) -> list[QueryResult]:
    """All miners at once, each its own body: the round lasts as long as the slowest answer or the
    deadline, not their sum."""
    asks = (query_miner(client, wallet, m, body, deadline_s, max_bytes) for m, body in zip(miners, bodies, strict=True))
    return list(await asyncio.gather(*asks))


def new_client(max_connections: int) -> httpx.AsyncClient:
    """A client that ignores proxy settings (miners are dialled directly) and never follows redirects."""
    return httpx.AsyncClient(
        trust_env=False,
        follow_redirects=False,
        limits=httpx.Limits(max_connections=max(1, max_connections), max_keepalive_connections=0),
    )
