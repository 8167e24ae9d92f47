"""The Bailian (DashScope) route: ``POST /api/v1/apps/{app_id}/completion``, JSON or SSE.

Errors use the ``{code, message, request_id}`` envelope, as one ``event:error`` frame on a stream.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator

from anyio import to_thread
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from langchain_zilliz_bailian.server.context import ServerContext, bearer, context_of
from langchain_zilliz_bailian.server.errors import (
    BailianError,
    internal_error,
    invalid_parameter,
    new_request_id,
)
from langchain_zilliz_bailian.server.limits import RequestTooLargeError
from langchain_zilliz_bailian.server.responder import Delta
from langchain_zilliz_bailian.server.sse import EventStreamResponse, frame
from langchain_zilliz_bailian.server.strict_json import loads as strict_loads

logger = logging.getLogger("langchain_zilliz_bailian.server")


async def _single(item: bytes) -> AsyncIterator[bytes]:
    yield item


async def anext_or_none(deltas: AsyncIterator[Delta]) -> Delta | None:
    """The next delta, or None when the iterator is done (``anext`` is Python 3.10+ only as a
    builtin with a default; this works everywhere)."""
    async for delta in deltas:
        return delta
    return None


def bailian_error(
    exc: BailianError, request_id: str, streaming: bool, retry_after_s: int = 1
) -> Response:
    """``exc`` in the DashScope envelope: a JSON body, or one ``event:error`` frame."""
    headers = {"x-request-id": request_id}
    if exc.status == 429:
        headers["Retry-After"] = str(retry_after_s)
    if streaming:
        events = _single(frame(1, exc.body(request_id), event="error", status=exc.status))
        return EventStreamResponse(events, status_code=exc.status, headers=headers)
    return JSONResponse(exc.body(request_id), status_code=exc.status, headers=headers)


def _wants_stream(request: Request) -> bool:
    return (
        request.headers.get("x-dashscope-sse", "").strip().lower() == "enable"
        or "text/event-stream" in request.headers.get("accept", "").lower()
    )


def _unauthorized(request: Request, request_id: str) -> Response:
    message = "Invalid API-key provided." if bearer(request) else "No API-key provided."
    return JSONResponse(
        {"code": "InvalidApiKey", "message": message, "request_id": request_id},
        status_code=401,
        headers={"x-request-id": request_id},
    )


async def completion(request: Request) -> Response:
    """Answer one completion request with the app its id names."""
    ctx: ServerContext = context_of(request)
    request_id = new_request_id()
    if not ctx.authorized(request):
        return _unauthorized(request, request_id)
    streaming = _wants_stream(request)
    retry_after = ctx.faults.config.retry_after_s
    decision = ctx.faults.decide("bailian", streaming=streaming)
    if decision.latency_ms:
        await asyncio.sleep(decision.latency_ms / 1000)
    if decision.status == 429:
        err = BailianError(
            "Throttling.RateQuota", "Requests rate limit exceeded, please try again later.", 429
        )
        return bailian_error(err, request_id, streaming, retry_after)
    if decision.status:
        err = BailianError(
            "InternalError", "An internal error has occured, please try again later.", 500
        )
        return bailian_error(err, request_id, streaming)
    try:
        try:
            body = strict_loads(await request.body())
        except ValueError as exc:  # also NaN/Infinity literals and numbers beyond a double
            raise invalid_parameter(f"The request body is not valid JSON: {exc}") from None
        parsed = ctx.apps.parse(request.path_params["app_id"], body, streaming)
        result = await to_thread.run_sync(ctx.apps.prepare, parsed)
        result.request_id = request_id
        if streaming:
            # The first delta is awaited here, so a responder failing at once gets an envelope.
            deltas = ctx.apps.deltas(result)
            first = await anext_or_none(deltas)
        else:
            await ctx.apps.collect(result)
    except BailianError as exc:
        return bailian_error(exc, request_id, streaming, retry_after)
    except RequestTooLargeError:
        raise  # answered 413 by .fallbacks
    except Exception:
        logger.exception("unexpected error in completion")
        return bailian_error(internal_error(), request_id, streaming)
    if streaming:
        events = ctx.apps.events(result, deltas, parsed.incremental, decision, first)
        return EventStreamResponse(
            events, headers={"x-request-id": request_id, "x-dashscope-finished": "false"}
        )
    return JSONResponse(
        ctx.apps.json_body(result),
        headers={"x-request-id": request_id, "x-dashscope-finished": "true"},
    )
