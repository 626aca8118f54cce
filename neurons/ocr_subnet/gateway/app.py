"""The gateway's HTTP surface, with its OpenAPI at /openapi.json.

`POST /v1/ocr` (synchronous), `POST /v1/jobs` + `GET /v1/jobs/{id}` (asynchronous, per-page progress),
`GET /healthz`, `GET /metrics`. The document comes as the raw body with its content type, or as the
multipart field `file`; it is read into memory within the byte limit and never written to disk.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, Literal

from fastapi import FastAPI, Query, Request, Response
from fastapi.responses import JSONResponse, PlainTextResponse
from prometheus_client import CONTENT_TYPE_LATEST
from starlette.datastructures import UploadFile
from starlette.formparsers import MultiPartException, MultiPartParser

from ocr_subnet import __version__
from ocr_subnet.gateway.documents import Document, DocumentError, load
from ocr_subnet.gateway.jobs import JobsFull
from ocr_subnet.gateway.keys import KeyEntry, Refused
from ocr_subnet.gateway.output import OcrAnswer, to_hocr, to_searchable_pdf, to_text
from ocr_subnet.gateway.service import Gateway, NoMiners
from ocr_subnet.logs import log_event
from ocr_subnet.miner.app import Rejected, read_body

log = logging.getLogger(__name__)
Format = Literal["json", "text", "hocr", "pdf"]
UPLOAD_TIMEOUT_S = 120.0

DOCUMENT_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/pdf": {"schema": {"type": "string", "format": "binary"}},
            "image/png": {"schema": {"type": "string", "format": "binary"}},
            "image/jpeg": {"schema": {"type": "string", "format": "binary"}},
            "image/tiff": {"schema": {"type": "string", "format": "binary"}},
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "properties": {"file": {"type": "string", "format": "binary"}},
                    "required": ["file"],
                }
            },
        },
    }
}
ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"description": "unreadable document or malformed request"},
    401: {"description": "missing or unknown API key"},
    413: {"description": "over the byte, page or pixel limit"},
    415: {"description": "not a PNG, JPEG, TIFF or PDF (or named .pdf and not one)"},
    422: {"description": "encrypted PDF, or a PDF without pages"},
    429: {"description": "over the key's rate limit or page quota"},
    503: {"description": "no miner reachable, or the job store is full"},
}


class Problem(Exception):
    def __init__(self, status: int, detail: str, outcome: str) -> None:
        super().__init__(detail)
        self.status, self.detail, self.outcome = status, detail, outcome


OUTCOME_BY_STATUS = {
    400: "bad_request",
    401: "unauthorized",
    413: "too_large",
    415: "bad_request",
    422: "bad_request",
    429: "rate_limited",
}


async def read_document(request: Request, gateway: Gateway) -> Document:
    limit = gateway.config.limits.max_bytes
    try:
        body = bytes(await read_body(request, limit, UPLOAD_TIMEOUT_S))
    except Rejected as exc:
        raise Problem(
            exc.answer.status, exc.answer.detail, OUTCOME_BY_STATUS.get(exc.answer.status, "bad_request")
        ) from exc
    content_type = request.headers.get("content-type", "")
    filename = ""
    if content_type.lower().startswith("multipart/form-data"):
        body, content_type, filename = await _file_part(request, body, limit)
    try:
        return await asyncio.to_thread(load, body, content_type, gateway.config.limits, filename)
    except DocumentError as exc:
        raise Problem(exc.status, exc.detail, OUTCOME_BY_STATUS.get(exc.status, "bad_request")) from exc


async def _file_part(request: Request, body: bytes, limit: int) -> tuple[bytes, str, str]:
    """The multipart field `file`, parsed from the bytes already read and kept in memory."""

    async def stream() -> AsyncIterator[bytes]:
        yield body

    parser = MultiPartParser(request.headers, stream(), max_files=1, max_fields=8, max_part_size=limit)
    parser.spool_max_size = limit + 1  # the part stays in memory: user documents never touch the disk
    try:
        form = await parser.parse()
    except MultiPartException as exc:
        raise Problem(400, f"malformed multipart body: {exc.message}", "bad_request") from exc
    part = form.get("file")
    if not isinstance(part, UploadFile):
        raise Problem(400, "multipart body has no file field named `file`", "bad_request")
    data = await part.read()
    await form.close()
    return data, part.content_type or "", part.filename or ""


def authorize(request: Request, gateway: Gateway) -> KeyEntry:
    try:
        return gateway.access.identify(request.headers.get("authorization"))
    except Refused as exc:
        raise Problem(exc.status, exc.detail, "unauthorized") from exc


def admit(gateway: Gateway, key: KeyEntry, pages: int) -> None:
    try:
        gateway.access.admit(key, pages, time.monotonic())
    except Refused as exc:
        raise Problem(exc.status, exc.detail, "rate_limited") from exc


def render(answer: OcrAnswer, document: Document, fmt: Format, gateway: Gateway) -> Response:
    if fmt == "text":
        return PlainTextResponse(to_text(answer))
    if fmt == "hocr":
        return Response(to_hocr(answer), media_type="text/html")
    if fmt == "pdf":
        return Response(to_searchable_pdf(document, answer, gateway.config.limits.dpi), media_type="application/pdf")
    return Response(answer.model_dump_json(), media_type="application/json")


def build_app(gateway: Gateway) -> FastAPI:
    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        await asyncio.gather(gateway.refresh(), gateway.refresh_emas())
        refresher = asyncio.create_task(gateway.refresh_forever())
        gateway.tasks.add(refresher)
        log_event(log, "gateway_started", hotkey=gateway.hotkey, miners=len(gateway.miners))
        try:
            yield
        finally:
            await gateway.close()
            log_event(log, "gateway_stopped")

    app = FastAPI(
        title="OCR subnet gateway",
        version=__version__,
        description="OCR of scanned documents by the subnet's miners; every page verified with a canary. "
        "Send `Authorization: Bearer <key>`.",
        lifespan=lifespan,
    )

    @app.exception_handler(Problem)
    async def problem(request: Request, exc: Problem) -> JSONResponse:
        key = getattr(request.state, "key", "-")
        gateway.metrics.requests.labels(key, exc.outcome).inc()
        log_event(log, "request_refused", status=exc.status, outcome=exc.outcome, key=key, detail=exc.detail)
        return JSONResponse({"detail": exc.detail}, exc.status)

    async def accepted(request: Request) -> tuple[KeyEntry, Document]:
        key = authorize(request, gateway)
        request.state.key = key.name
        document = await read_document(request, gateway)
        admit(gateway, key, len(document.pages))
        return key, document

    @app.post("/v1/ocr", openapi_extra=DOCUMENT_BODY, responses={200: {"model": OcrAnswer}, **ERRORS})
    async def ocr(request: Request, format: Format = Query("json", description="json | text | hocr | pdf")) -> Response:
        key, document = await accepted(request)
        try:
            answer = await gateway.read(document, key.name)
        except NoMiners as exc:
            raise Problem(503, str(exc), "failed") from exc
        gateway.metrics.requests.labels(key.name, "ok").inc()
        return await asyncio.to_thread(render, answer, document, format, gateway)

    @app.post("/v1/jobs", openapi_extra=DOCUMENT_BODY, status_code=202, responses=ERRORS)
    async def create_job(request: Request) -> dict[str, Any]:
        key, document = await accepted(request)
        try:
            job = gateway.jobs.create(key.name, len(document.pages))
        except JobsFull as exc:
            raise Problem(503, str(exc), "failed") from exc
        gateway.metrics.jobs.set(len(gateway.jobs))

        def progress(index: int, page: Any) -> None:
            job.progress[index] = "verified" if page.verified else "failed"
            job.done_pages += 1

        async def run() -> None:
            try:
                answer = await gateway.read(document, key.name, progress)
            except NoMiners as exc:
                gateway.jobs.finish(job, error=str(exc))
                return
            gateway.jobs.finish(job, result=answer.model_dump(mode="json"))
            gateway.metrics.requests.labels(key.name, "ok").inc()

        task = asyncio.create_task(run())
        gateway.tasks.add(task)
        task.add_done_callback(gateway.tasks.discard)
        return {"id": job.id, "status": job.status, "pages": job.pages, "url": f"/v1/jobs/{job.id}"}

    @app.get("/v1/jobs/{job_id}", responses={401: ERRORS[401], 404: {"description": "no such job (or expired)"}})
    async def get_job(request: Request, job_id: str) -> dict[str, Any]:
        key = authorize(request, gateway)
        job = gateway.jobs.get(job_id, key.name)
        if job is None:
            raise Problem(
                404, f"no job {job_id} (jobs are kept {gateway.jobs.retention_s:g}s after they end)", "bad_request"
            )
        return job.view()

    @app.get("/healthz")
    async def healthz() -> dict[str, Any]:
        return {"status": "ok", "miners": len(gateway.miners), "jobs": len(gateway.jobs)}

    @app.get("/metrics")
    async def metrics() -> Response:
        return Response(gateway.metrics.exposition(), media_type=CONTENT_TYPE_LATEST)

    return app
