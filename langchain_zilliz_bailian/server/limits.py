"""The request body limit, enforced while the body arrives (never buffered past the limit).

A declared ``Content-Length`` over the limit is answered 413 before anything is read; a body that
grows past it on the wire makes ``receive`` raise :class:`RequestTooLargeError`, which the route
families answer with 413 in their envelope. Uploads (``run_ingestion_with_file``) get their own,
larger limit: the documented 10 MB document plus room for the multipart framing and ``data``.
"""

from __future__ import annotations

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from langchain_zilliz_bailian.server.errors import envelope_for
from langchain_zilliz_bailian.server.fetch import MAX_DOC_BYTES

DEFAULT_MAX_BODY_BYTES = 4 * 1024 * 1024
UPLOAD_MAX_BODY_BYTES = MAX_DOC_BYTES + 1024 * 1024
UPLOAD_SUFFIX = "/run_ingestion_with_file"


class RequestTooLargeError(Exception):
    """The request body passed the limit while it was being read."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"The request body exceeds the limit of {limit} bytes.")
        self.limit = limit
        self.message = str(self)


class BodyLimitMiddleware:
    """Caps every HTTP request body: ``max_body_bytes`` for JSON, the upload limit for files."""

    def __init__(self, app: ASGIApp, max_body_bytes: int = DEFAULT_MAX_BODY_BYTES) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    def limit_for(self, path: str) -> int:
        """The limit of one route (uploads: at least the upload limit)."""
        if path.endswith(UPLOAD_SUFFIX):
            return max(self.max_body_bytes, UPLOAD_MAX_BODY_BYTES)
        return self.max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope.get("path", "")
        limit = self.limit_for(path)
        declared = dict(scope.get("headers") or []).get(b"content-length", b"")
        if declared.isdigit() and int(declared) > limit:
            body, headers = envelope_for(path, 413, RequestTooLargeError(limit).message)
            await JSONResponse(body, status_code=413, headers=headers)(scope, receive, send)
            return
        received = 0

        async def capped() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise RequestTooLargeError(limit)
            return message

        await self.app(scope, capped, send)
