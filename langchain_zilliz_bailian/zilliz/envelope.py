"""Reading the Zilliz ``{"code", "data" | "message"}`` envelope into data or a typed error.

Success means HTTP 2xx, ``code`` 0 or 200 (Z1) and a ``data`` key. Everything else is an
error classified by ``code`` first and HTTP status second: ``{"code": 200, "message": ...}`` with no
``data`` is an error (Z2), and non-JSON, HTML or a body without ``code`` never surfaces as a
``KeyError`` or ``JSONDecodeError`` (Z38). A 404/410 that is not a Zilliz envelope means the
endpoint itself is gone, which on the hosted service is expected since its 2025 shutdown.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import httpx

from langchain_zilliz_bailian.errors import (
    APIError,
    ResponseFormatError,
    classify,
    endpoint_not_found,
)
from langchain_zilliz_bailian.zilliz.codes import ZILLIZ_CODES

__all__ = ["DISCONTINUED_HINT", "parse_envelope", "request_id_of"]

SUCCESS_CODES = (0, 200)
_REQUEST_ID_HEADERS = ("x-request-id", "request-id", "x-trace-id", "trace-id")
_SNIPPET = 300

DISCONTINUED_HINT = (
    "Zilliz discontinued hosted Cloud Pipelines in 2025. Point base_url (or the "
    "ZILLIZ_PIPELINES_BASE_URL environment variable) at a compatible server, for example the "
    "local one this package ships: run `zilliz-bailian serve` and use base_url="
    '"http://127.0.0.1:8765".'
)


def request_id_of(response: httpx.Response, body: Any = None) -> str | None:
    """The request id from the body (``request_id``/``requestId``) or a response header."""
    if isinstance(body, Mapping):
        for key in ("request_id", "requestId", "trace_id"):
            value = body.get(key)
            if isinstance(value, str) and value:
                return value
    for name in _REQUEST_ID_HEADERS:
        header = response.headers.get(name)
        if header:
            return str(header)
    return None


def _snippet(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= _SNIPPET else text[:_SNIPPET] + "..."


def parse_envelope(response: httpx.Response) -> Any:
    """Return the ``data`` of a successful envelope, or raise the typed error it stands for."""
    status = response.status_code
    text = response.text
    try:
        body = json.loads(text) if text.strip() else None
    except ValueError:
        body = None
        parsed = False
    else:
        parsed = body is not None
    request_id = request_id_of(response, body)

    if isinstance(body, Mapping) and "code" in body:
        code = body.get("code")
        if isinstance(code, str) and code.strip().lstrip("-").isdigit():
            code = int(code)
        if 200 <= status < 300 and code in SUCCESS_CODES and "data" in body:
            return body["data"]
        message = body.get("message") or body.get("msg") or ""
        if code in SUCCESS_CODES and 200 <= status < 300 and not message:
            raise ResponseFormatError(
                "Zilliz answered with a success code but no data.",
                status_code=status,
                code=code,
                request_id=request_id,
                body=text,
            )
        return _raise(
            classify(
                message=str(message),
                status_code=status,
                code=code if isinstance(code, int | str) else None,
                request_id=request_id,
                body=text,
                codes=ZILLIZ_CODES,
            )
        )

    if status in (404, 410):
        raise endpoint_not_found(
            f"{response.request.method} {response.request.url} answered HTTP {status} without a "
            f"Pipelines envelope: the endpoint does not exist. {DISCONTINUED_HINT}",
            status_code=status,
            body=text,
        )
    if status >= 400:
        message = body.get("message") if isinstance(body, Mapping) else None
        raise classify(
            message=str(message or f"HTTP {status}: {_snippet(text) or 'empty body'}"),
            status_code=status,
            request_id=request_id,
            body=text,
            codes=ZILLIZ_CODES,
        )
    what = "a JSON body without 'code'" if parsed else "a body that is not JSON"
    raise ResponseFormatError(
        f"Zilliz answered HTTP {status} with {what}: {_snippet(text) or 'empty body'}. "
        "Is base_url a Zilliz Pipelines endpoint?",
        status_code=status,
        request_id=request_id,
        body=text,
    )


def _raise(error: APIError) -> Any:
    raise error
