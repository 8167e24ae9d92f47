"""Answers for errors no route handler rendered, in the family's envelope, never plain text.

Unknown routes (404), wrong methods (405), bodies over the limit (413) and any exception a
handler let escape (500) are rendered for the path's family (see :func:`.errors.envelope_for`).
"""

from __future__ import annotations

import logging

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from langchain_zilliz_bailian.server.errors import envelope_for
from langchain_zilliz_bailian.server.limits import RequestTooLargeError

logger = logging.getLogger("langchain_zilliz_bailian.server")

NOT_FOUND = "The requested resource does not exist."
_MESSAGES = {404: NOT_FOUND, 405: "Method not allowed."}


def _answer(request: Request, status: int, message: str, headers: dict[str, str]) -> Response:
    body, extra = envelope_for(request.url.path, status, message)
    return JSONResponse(body, status_code=status, headers={**headers, **extra})


async def http_exception(request: Request, exc: Exception) -> Response:
    """Starlette's routing errors (404, 405, ...) in the envelope; ``Allow`` kept on a 405."""
    assert isinstance(exc, HTTPException)
    message = _MESSAGES.get(exc.status_code, str(exc.detail))
    return _answer(request, exc.status_code, message, dict(exc.headers or {}))


async def too_large(request: Request, exc: Exception) -> Response:
    """A body that grew past the limit while a handler was reading it."""
    assert isinstance(exc, RequestTooLargeError)
    return _answer(request, 413, exc.message, {})


async def unexpected(request: Request, exc: Exception) -> Response:
    """Anything else: logged with its traceback, answered 500 in the envelope."""
    logger.error("unexpected error in %s %s", request.method, request.url.path, exc_info=exc)
    return _answer(request, 500, "Internal server error.", {})


EXCEPTION_HANDLERS = {
    HTTPException: http_exception,
    RequestTooLargeError: too_large,
    Exception: unexpected,
}
