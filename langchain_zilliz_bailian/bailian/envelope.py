"""Turning DashScope error answers into the package's typed errors.

Errors arrive on four channels: a JSON body before the stream (sometimes without a
``Content-Type``), an SSE body with a 4xx/5xx status, an ``event:error`` mid-stream whose status is
only in the ``:HTTP_STATUS/NNN`` comment, and gateway text or HTML. All end in
:func:`errors.classify`, which maps by ``code`` first (a 429 can be billing, not throttling).
"""

from __future__ import annotations

import json
import re
from typing import Any

import httpx
from pydantic import ValidationError

from langchain_zilliz_bailian._http.sse import SSEvent, iter_events
from langchain_zilliz_bailian.bailian._constants import DEFAULT_BASE_URL
from langchain_zilliz_bailian.bailian.codes import DASHSCOPE_CODES
from langchain_zilliz_bailian.bailian.models import AppCompletion, AppResponse
from langchain_zilliz_bailian.errors import APIError, ResponseFormatError, classify

__all__ = [
    "base_url_hint",
    "error_from_data",
    "error_from_event",
    "error_from_response",
    "is_event_stream",
    "is_json",
    "parse_completion",
    "parse_response",
]

#: The code the official SDK gives an error body it cannot parse (gateway text or HTML).
UNKNOWN_CODE = "Unknown"
_SNIPPET = 300
#: A completion URL: the base URL, then ``apps/{app_id}/completion``.
_COMPLETION_PATH = re.compile(r"^(?P<base>.*)/apps/[^/]+/completion$")


def is_event_stream(response: httpx.Response) -> bool:
    """Whether the body is SSE; compared by prefix (``text/event-stream;charset=UTF-8``)."""
    content_type: str = response.headers.get("content-type", "")
    return content_type.lower().startswith("text/event-stream")


def is_json(response: httpx.Response) -> bool:
    """Whether the server declared a JSON body (it may also send one with no content type)."""
    content_type: str = response.headers.get("content-type", "")
    return content_type.lower().startswith("application/json")


def _json_object(text: str) -> dict[str, Any] | None:
    try:
        data = json.loads(text)
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def error_from_data(
    data: dict[str, Any], *, status_code: int | None, header_request_id: str | None, body: str
) -> APIError:
    """The typed error for an error envelope ``{code, message | msg, request_id, type?}``."""
    code = data.get("code") or data.get("type") or None
    message = data.get("message") or data.get("msg") or ""
    request_id = data.get("request_id") or header_request_id
    return classify(
        message=str(message),
        status_code=status_code,
        code=str(code) if code is not None else None,
        request_id=str(request_id) if request_id else None,
        body=body,
        codes=DASHSCOPE_CODES,
    )


def error_from_event(event: SSEvent, *, header_request_id: str | None) -> APIError:
    """The typed error for an ``event:error`` (status from its ``:HTTP_STATUS`` comment)."""
    data = _json_object(event.data)
    if data is None:
        return classify(
            message=f"Stream error event: {event.data[:_SNIPPET]}",
            status_code=event.status,
            code=UNKNOWN_CODE,
            request_id=header_request_id,
            body=event.data,
            codes=DASHSCOPE_CODES,
        )
    return error_from_data(
        data, status_code=event.status, header_request_id=header_request_id, body=event.data
    )


def _is_envelope(data: dict[str, Any] | None) -> bool:
    """Whether ``data`` is a DashScope error body: a ``code`` and a ``message`` (or ``msg``)."""
    return (
        data is not None and bool(data.get("code")) and bool(data.get("message") or data.get("msg"))
    )


def _base_url(response: httpx.Response) -> str | None:
    """The base URL a completion request was sent under, or ``None`` if it cannot be told."""
    try:
        url = response.request.url
    except RuntimeError:  # a response built without its request
        return None
    match = _COMPLETION_PATH.match(url.path)
    if match is None:
        return None
    port = f":{url.port}" if url.port else ""
    return f"{url.scheme}://{url.host}{port}{match['base']}"


def base_url_hint(response: httpx.Response, data: dict[str, Any] | None) -> str:
    """For a 404 that a wrong ``base_url`` explains, the sentence that says so; else ``""``.

    DashScope serves apps under ``/api/v1``: a base URL without it (the bare host, or a local
    server's root URL) answers 404 with a body that is no DashScope error at all.
    """
    if response.status_code != 404:
        return ""
    base = _base_url(response)
    if base is not None and not base.rstrip("/").endswith("/api/v1"):
        return (
            f"The base_url {base!r} does not end with /api/v1: DashScope's base_url should "
            f"end with /api/v1, e.g. {DEFAULT_BASE_URL}."
        )
    if not _is_envelope(data):
        return (
            "This 404 is not a DashScope error answer: check base_url (it should end with "
            f"/api/v1, e.g. {DEFAULT_BASE_URL})."
        )
    return ""


def _with_hint(error: APIError, hint: str) -> APIError:
    if hint:
        error.message = f"{error.message.rstrip('. ')}. {hint}"
        error.args = (error.message,)
    return error


def error_from_response(response: httpx.Response) -> APIError:
    """The typed error for a non-2xx response whose body has been read (JSON, SSE or text).

    A 404 that a wrong ``base_url`` explains says so (:func:`base_url_hint`); it stays a
    :class:`NotFoundError`.
    """
    text = response.text
    header_request_id = response.headers.get("x-request-id")
    status = response.status_code
    data = _json_object(text)
    if data is None and is_event_stream(response):
        for event in iter_events(response):
            found = _json_object(event.data)
            if found is not None and (found.get("code") or event.event == "error"):
                data = found
                break
    hint = base_url_hint(response, data)
    if data is None:
        snippet = " ".join(text.split())[:_SNIPPET] or "(empty body)"
        error = classify(
            message=f"HTTP {status} {response.reason_phrase}: {snippet}",
            status_code=status,
            code=UNKNOWN_CODE,
            request_id=header_request_id,
            body=text,
            codes=DASHSCOPE_CODES,
        )
        return _with_hint(error, hint)
    error = error_from_data(
        data, status_code=status, header_request_id=header_request_id, body=text
    )
    return _with_hint(error, hint)


def parse_response(response: httpx.Response) -> AppResponse:
    """Parse a JSON answer into an :class:`AppResponse`, or raise the typed error it carries."""
    if not response.is_success:
        response.read()
        raise error_from_response(response)
    text = response.text
    header_request_id = response.headers.get("x-request-id")
    data = _json_object(text)
    if data is None:
        raise ResponseFormatError(
            f"Expected a JSON object from the app, got: {' '.join(text.split())[:_SNIPPET]!r}",
            status_code=response.status_code,
            request_id=header_request_id,
            body=text,
        )
    if data.get("code"):
        raise error_from_data(
            data, status_code=response.status_code, header_request_id=header_request_id, body=text
        )
    try:
        return AppResponse.model_validate(data)
    except ValidationError as exc:
        raise ResponseFormatError(
            f"Unexpected app response shape: {exc.errors()[0]['msg']}",
            status_code=response.status_code,
            request_id=data.get("request_id") or header_request_id,
            body=text,
        ) from exc


def parse_completion(response: httpx.Response) -> AppCompletion:
    """Parse a JSON answer into an :class:`AppCompletion` (raising the typed error it carries)."""
    parsed = parse_response(response)
    return AppCompletion.from_response(
        parsed, header_request_id=response.headers.get("x-request-id")
    )
