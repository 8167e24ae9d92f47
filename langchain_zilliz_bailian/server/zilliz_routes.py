"""The Zilliz Cloud Pipelines routes: auth, faults and the ``{code, message}`` envelope.

``POST/GET /v1/pipelines``, ``GET/DELETE /v1/pipelines/{id}``, ``POST /v1/pipelines/{id}/run``
and ``POST /v1/pipelines/{id}/run_ingestion_with_file`` (each also under ``/v1/pipeline/``).
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from anyio import to_thread
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from langchain_zilliz_bailian.server.context import ServerContext, context_of
from langchain_zilliz_bailian.server.errors import (
    ZILLIZ_ILLEGAL_TOKEN,
    ZILLIZ_INTERNAL,
    ZILLIZ_THROTTLED,
    ZillizError,
    bad_param,
)
from langchain_zilliz_bailian.server.faults import Decision
from langchain_zilliz_bailian.server.fetch import MAX_DOC_BYTES
from langchain_zilliz_bailian.server.limits import RequestTooLargeError
from langchain_zilliz_bailian.server.strict_json import loads as strict_loads

logger = logging.getLogger("langchain_zilliz_bailian.server")

Handler = Callable[[Request, ServerContext], Awaitable[Any]]


def _fault_response(decision: Decision) -> JSONResponse:
    if decision.status == 429:
        return JSONResponse(
            {"code": ZILLIZ_THROTTLED, "message": "Too many requests. Please retry later."},
            status_code=429,
            headers={"Retry-After": str(decision.retry_after_s)},
        )
    return JSONResponse(
        {"code": ZILLIZ_INTERNAL, "message": "Internal server error. Please retry later."},
        status_code=500,
    )


def zilliz_endpoint(handler: Handler) -> Callable[[Request], Awaitable[Response]]:
    """Wrap ``handler`` (returns the ``data`` payload) with auth, faults and the envelope."""

    @functools.wraps(handler)
    async def endpoint(request: Request) -> Response:
        ctx = context_of(request)
        if not ctx.authorized(request):
            if ctx.settings.legacy:
                return JSONResponse({"code": 200, "message": "The token is illegal."})
            return JSONResponse(
                {"code": ZILLIZ_ILLEGAL_TOKEN, "message": "The token is illegal."}, status_code=401
            )
        decision = ctx.faults.decide("zilliz")
        if decision.latency_ms:
            await asyncio.sleep(decision.latency_ms / 1000)
        if decision.status:
            return _fault_response(decision)
        try:
            data = await handler(request, ctx)
            # Rendered here so that even an unsendable value (NaN) gets the JSON envelope.
            return JSONResponse({"code": 200, "data": data})
        except ZillizError as exc:
            return JSONResponse(exc.body(), status_code=exc.status)
        except RequestTooLargeError:
            raise  # answered 413 by .fallbacks
        except Exception:
            logger.exception("unexpected error in %s %s", request.method, request.url.path)
            return JSONResponse(
                {"code": ZILLIZ_INTERNAL, "message": "Internal server error."}, status_code=500
            )

    return endpoint


async def json_body(request: Request) -> Any:
    """The request body as strict JSON, or a 400 envelope."""
    try:
        return strict_loads(await request.body())
    except ValueError as exc:  # also NaN/Infinity literals and numbers beyond a double
        raise bad_param(f"The request body is not valid JSON: {exc}") from None


@zilliz_endpoint
async def create_pipeline(request: Request, ctx: ServerContext) -> Any:
    """``POST /v1/pipelines``."""
    body = await json_body(request)
    return await to_thread.run_sync(ctx.pipelines.create, body)


@zilliz_endpoint
async def list_pipelines(request: Request, ctx: ServerContext) -> Any:
    """``GET /v1/pipelines?projectId=...``."""
    project_id = request.query_params.get("projectId", "").strip()
    if not project_id:
        raise bad_param("projectId is required.")
    return await to_thread.run_sync(ctx.pipelines.list_pipelines, project_id)


@zilliz_endpoint
async def describe_pipeline(request: Request, ctx: ServerContext) -> Any:
    """``GET /v1/pipelines/{id}``."""
    return await to_thread.run_sync(ctx.pipelines.describe, request.path_params["pipeline_id"])


@zilliz_endpoint
async def drop_pipeline(request: Request, ctx: ServerContext) -> Any:
    """``DELETE /v1/pipelines/{id}``."""
    return await to_thread.run_sync(ctx.pipelines.drop, request.path_params["pipeline_id"])


@zilliz_endpoint
async def run_pipeline(request: Request, ctx: ServerContext) -> Any:
    """``POST /v1/pipelines/{id}/run``: ingestion, search or deletion, by the pipeline's type."""
    body = await json_body(request)
    return await ctx.pipelines.run(request.path_params["pipeline_id"], body)


@zilliz_endpoint
async def run_with_file(request: Request, ctx: ServerContext) -> Any:
    """``POST /v1/pipelines/{id}/run_ingestion_with_file``: multipart ``file`` and ``data``."""
    if not request.headers.get("content-type", "").startswith("multipart/form-data"):
        raise bad_param("run_ingestion_with_file needs multipart/form-data (file, data).")
    try:
        form_cm = request.form(max_files=2, max_fields=20)
        async with form_cm as form:
            upload = form.get("file")
            data = form.get("data")
            if not isinstance(upload, UploadFile):
                raise bad_param("The multipart file part is required.")
            raw = await upload.read(MAX_DOC_BYTES + 1)
            filename = Path(upload.filename or "").name
            if isinstance(data, UploadFile):
                data = (await data.read(1024 * 1024)).decode("utf-8", errors="replace")
    except (ZillizError, RequestTooLargeError):
        raise
    except Exception as exc:  # malformed multipart
        raise bad_param(f"Malformed multipart body: {exc}") from None
    if len(raw) > MAX_DOC_BYTES:
        raise bad_param("The document exceeds the 10 MB limit.")
    if not filename:
        raise bad_param("The multipart file part needs a filename.")
    return await ctx.pipelines.run_with_file(
        request.path_params["pipeline_id"], filename, raw, data
    )
