"""Typed errors of both emulated APIs and the JSON envelopes they render to.

Zilliz: ``{"code": <int>, "message": str}``; ``80000`` bad parameter, ``80001`` illegal token
(the codes of the Zilliz v1 REST family); HTTP-style codes (404, 429, 500) where the docs name none.
Bailian: ``{"code": <str>, "message": str, "request_id": str}``, e.g. ``InvalidParameter``.
Which envelope an error outside any handler gets (an unknown route, a body over the limit) follows
the path: ``/api/...`` is the Bailian family, everything else the Zilliz one.
"""

from __future__ import annotations

import uuid
from typing import Any

ZILLIZ_BAD_PARAM = 80000
ZILLIZ_ILLEGAL_TOKEN = 80001
ZILLIZ_NOT_FOUND = 404
ZILLIZ_METHOD_NOT_ALLOWED = 405
ZILLIZ_TOO_LARGE = 413
ZILLIZ_THROTTLED = 429
ZILLIZ_INTERNAL = 500


class ZillizError(Exception):
    """An error answered with the Zilliz envelope."""

    def __init__(self, code: int, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status

    def body(self) -> dict[str, Any]:
        """The documented error envelope."""
        return {"code": self.code, "message": self.message}


def bad_param(message: str) -> ZillizError:
    """HTTP 400, code 80000."""
    return ZillizError(ZILLIZ_BAD_PARAM, message, 400)


class BailianError(Exception):
    """An error answered with the DashScope envelope."""

    def __init__(self, code: str, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status

    def body(self, request_id: str) -> dict[str, Any]:
        """The documented error envelope."""
        return {"code": self.code, "message": self.message, "request_id": request_id}


def invalid_parameter(message: str) -> BailianError:
    """HTTP 400 ``InvalidParameter``."""
    return BailianError("InvalidParameter", message, 400)


def internal_error(message: str = "An internal error has occured.") -> BailianError:
    """HTTP 500 ``InternalError`` (an unexpected failure; ``message`` must hold no internals)."""
    return BailianError("InternalError", message, 500)


#: Bailian codes for statuses answered outside the app handler.
BAILIAN_CODES = {
    400: "InvalidParameter",
    401: "InvalidApiKey",
    404: "NotFound",
    405: "MethodNotAllowed",
    413: "RequestTooLarge",
    429: "Throttling.RateQuota",
}


def new_request_id() -> str:
    """A DashScope-looking request id (UUID layout)."""
    return str(uuid.uuid4())


def is_bailian_path(path: str) -> bool:
    """Whether ``path`` belongs to the Bailian route family (``/api/...``)."""
    return path == "/api" or path.startswith("/api/")


def envelope_for(path: str, status: int, message: str) -> tuple[dict[str, Any], dict[str, str]]:
    """``(body, headers)`` of an error answered for ``path`` in its family's envelope."""
    if is_bailian_path(path):
        request_id = new_request_id()
        code = BAILIAN_CODES.get(status, "InternalError")
        body = {"code": code, "message": message, "request_id": request_id}
        return body, {"x-request-id": request_id}
    return {"code": status if status != 400 else ZILLIZ_BAD_PARAM, "message": message}, {}
