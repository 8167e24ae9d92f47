"""The DashScope error table row by row, on each channel, and the retry rules that follow from it."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from langchain_zilliz_bailian.errors import (
    APIConnectionError,
    APIError,
    AuthenticationError,
    BadRequestError,
    InternalServerError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    RequestTimeoutError,
    ResponseFormatError,
)
from tests.fakes.bailian import (
    JSON_HEADERS,
    SSE_HEADERS,
    event,
    incremental_stream,
    respond,
    result,
    sse,
)

# (HTTP status, code, error class, retryable) — bailian-app-api.md §7.
TABLE = [
    (400, "InvalidParameter", BadRequestError, False),
    (400, "DataInspectionFailed", BadRequestError, False),
    (400, "BadRequest.EmptyInput", BadRequestError, False),
    (400, "BadRequest.EmptyParameters", BadRequestError, False),
    (400, "BadRequest.EmptyModel", BadRequestError, False),
    (400, "BadRequest.ResourceNotExist", BadRequestError, False),
    (400, "InvalidURL", BadRequestError, False),
    (400, "UnsupportedOperation", BadRequestError, False),
    (400, "Arrearage", PermissionDeniedError, False),
    (400, "FlowNotPublished", BadRequestError, False),
    (400, "InvalidSchema", BadRequestError, False),
    (400, "InvalidSchemaFormat", BadRequestError, False),
    (400, "FaqRuleBlocked", BadRequestError, False),
    (400, "CustomRoleBlocked", BadRequestError, False),
    (401, "InvalidApiKey", AuthenticationError, False),
    (403, "AccessDenied", PermissionDeniedError, False),
    (403, "Workspace.AccessDenied", PermissionDeniedError, False),
    (403, "Model.AccessDenied", PermissionDeniedError, False),
    (403, "AccessDenied.Unpurchased", PermissionDeniedError, False),
    (404, "WorkSpaceNotFound", NotFoundError, False),
    (404, "ModelNotFound", NotFoundError, False),
    (404, "NotFound", NotFoundError, False),
    (408, "RequestTimeOut", RequestTimeoutError, True),
    (413, "BadRequest.TooLarge", BadRequestError, False),
    (415, "BadRequest.InputDownloadFailed", BadRequestError, False),
    (415, "BadRequest.UnsupportedFileFormat", BadRequestError, False),
    (429, "Throttling", RateLimitError, True),
    (429, "Throttling.RateQuota", RateLimitError, True),
    (429, "Throttling.AllocationQuota", RateLimitError, True),
    (429, "LimitRequests", RateLimitError, True),
    (429, "PrepaidBillOverdue", PermissionDeniedError, False),
    (429, "PostpaidBillOverdue", PermissionDeniedError, False),
    (429, "CommodityNotPurchased", PermissionDeniedError, False),
    (500, "InternalError", InternalServerError, True),
    (500, "InternalError.Algo", InternalServerError, True),
    (500, "InternalError.Timeout", InternalServerError, True),
    (500, "SystemError", InternalServerError, True),
    (500, "RewriteFailed", InternalServerError, True),
    (500, "RetrivalFailed", InternalServerError, True),
    (500, "AppProcessFailed", InternalServerError, True),
    (500, "ModelServiceFailed", InternalServerError, True),
    (500, "InvokePluginFailed", InternalServerError, True),
    (503, "ModelUnavailable", InternalServerError, True),
    # unknown codes: the status decides (retry only 408/429/5xx)
    (502, "SomethingNew", InternalServerError, True),
    (429, "SomethingNew", RateLimitError, True),
    (400, "SomethingNew", BadRequestError, False),
]
IDS = [f"{status}-{code}" for status, code, _, _ in TABLE]
ATTEMPTS = 3  # max_retries=2


def envelope(code: str) -> dict[str, str]:
    return {"code": code, "message": f"{code} happened", "request_id": "req-err"}


@pytest.mark.parametrize(("status", "code", "kind", "retryable"), TABLE, ids=IDS)
def test_json_error_before_the_answer(make_client, status, code, kind, retryable) -> None:
    client, recorder = make_client(respond(status, envelope(code), **JSON_HEADERS))
    with pytest.raises(kind) as caught:
        client.call("x")
    error = caught.value
    assert type(error) is kind or isinstance(error, kind)
    assert (error.status_code, error.code, error.request_id) == (status, code, "req-err")
    assert error.message == f"{code} happened"
    assert error.retryable is retryable
    assert len(recorder.requests) == (ATTEMPTS if retryable else 1)


@pytest.mark.parametrize(("status", "code", "kind", "retryable"), TABLE, ids=IDS)
def test_sse_error_before_the_stream(make_client, status, code, kind, retryable) -> None:
    body = event(envelope(code), name="error", status=status)
    client, recorder = make_client(respond(status, body, **SSE_HEADERS))
    with pytest.raises(kind) as caught:
        list(client.stream("x"))
    assert (caught.value.status_code, caught.value.code) == (status, code)
    assert len(recorder.requests) == (ATTEMPTS if retryable else 1)


@pytest.mark.parametrize(("status", "code", "kind", "retryable"), TABLE, ids=IDS)
async def test_error_event_mid_stream(make_client, status, code, kind, retryable) -> None:
    body = sse(result("partial")) + event(envelope(code), name="error", id=2, status=status)
    client, recorder = make_client(respond(200, body, **SSE_HEADERS))
    deltas = []
    with pytest.raises(kind) as caught:
        async for chunk in client.astream("x"):
            deltas.append(chunk.delta)
    assert deltas == ["partial"]
    assert (caught.value.status_code, caught.value.code) == (status, code)
    assert len(recorder.requests) == 1  # never after the first byte


# -- envelope variants ----------------------------------------------------------------------------


def test_msg_instead_of_message_and_header_request_id(make_client) -> None:
    body = {"code": "InvalidParameter", "msg": "bad top_p"}
    client, _ = make_client(respond(400, body, **{"x-request-id": "hdr-7"}))
    with pytest.raises(BadRequestError) as caught:
        client.call("x")
    assert caught.value.message == "bad top_p"
    assert caught.value.request_id == "hdr-7"


def test_json_error_without_content_type(make_client) -> None:
    client, _ = make_client(respond(401, envelope("InvalidApiKey")))
    with pytest.raises(AuthenticationError):
        client.call("x")


@pytest.mark.parametrize(
    ("status", "body", "kind"),
    [
        (502, "<html><body><h1>502 Bad Gateway</h1></body></html>", InternalServerError),
        (403, "Forbidden by gateway policy", PermissionDeniedError),
        (418, "", APIError),
    ],
)
def test_gateway_text_or_html_is_code_unknown(make_client, status, body, kind) -> None:
    client, _ = make_client(respond(status, body, **{"content-type": "text/html"}))
    with pytest.raises(kind) as caught:
        client.call("x")
    assert caught.value.code == "Unknown"
    assert caught.value.body == body
    assert f"HTTP {status}" in str(caught.value)


def test_error_envelope_under_200(make_client) -> None:
    client, _ = make_client(respond(200, envelope("DataInspectionFailed"), **JSON_HEADERS))
    with pytest.raises(BadRequestError):
        client.call("x")


def test_200_that_is_not_json(make_client) -> None:
    client, _ = make_client(
        respond(200, "<html>maintenance</html>", **{"content-type": "text/html"})
    )
    with pytest.raises(ResponseFormatError):
        client.call("x")


def test_error_event_without_status_comment_maps_by_code(make_client) -> None:
    body = sse(result("a")) + event(
        envelope("Throttling.RateQuota"), name="error", id=2, status=None
    )
    client, _ = make_client(respond(200, body, **SSE_HEADERS))
    with pytest.raises(RateLimitError) as caught:
        list(client.stream("x"))
    assert caught.value.status_code is None


def test_result_event_carrying_a_code_is_an_error(make_client) -> None:
    body = sse(result("a")) + event(envelope("ModelServiceFailed"), name="result", id=2)
    client, _ = make_client(respond(200, body, **SSE_HEADERS))
    with pytest.raises(InternalServerError):
        list(client.stream("x"))


# -- retries ---------------------------------------------------------------------------------------


def test_throttling_429_is_retried(make_client) -> None:
    throttled = respond(429, envelope("Throttling.RateQuota"), **JSON_HEADERS)
    ok = respond(200, result("fine", finish="stop"), **JSON_HEADERS)
    client, recorder = make_client(throttled, ok)
    assert client.call("x").text == "fine"
    assert len(recorder.requests) == 2


def test_billing_429_is_not_retried(make_client) -> None:
    client, recorder = make_client(respond(429, envelope("PrepaidBillOverdue"), **JSON_HEADERS))
    with pytest.raises(PermissionDeniedError):
        client.call("x")
    assert len(recorder.requests) == 1


def test_500_is_retried_before_the_stream(make_client) -> None:
    failed = respond(500, envelope("InternalError"), **JSON_HEADERS)
    ok = respond(200, incremental_stream(["fine"]), **SSE_HEADERS)
    client, recorder = make_client(failed, ok)
    assert [c.delta for c in client.stream("x")] == ["fine", ""]
    assert len(recorder.requests) == 2


async def test_500_is_retried_before_the_stream_async(make_client) -> None:
    failed = respond(500, envelope("InternalError"), **JSON_HEADERS)
    ok = respond(200, incremental_stream(["fine"]), **SSE_HEADERS)
    client, recorder = make_client(failed, ok)
    assert [c.delta async for c in client.astream("x")] == ["fine", ""]
    assert len(recorder.requests) == 2


def test_500_after_the_first_byte_is_never_retried(make_client) -> None:
    body = sse(result("a")) + event(envelope("InternalError"), name="error", id=2, status=500)
    ok = respond(200, incremental_stream(["never"]), **SSE_HEADERS)
    client, recorder = make_client(respond(200, body, **SSE_HEADERS), ok)
    with pytest.raises(InternalServerError):
        list(client.stream("x"))
    assert len(recorder.requests) == 1


def test_connection_error_is_retried_then_reported(make_client) -> None:
    def refuse() -> httpx.Response:
        raise httpx.ConnectError("connection refused")

    client, recorder = make_client(refuse)
    with pytest.raises(APIConnectionError):
        client.call("x")
    assert len(recorder.requests) == ATTEMPTS


def test_max_retries_zero(make_client) -> None:
    from langchain_zilliz_bailian._http.retry import RetryPolicy

    throttled = respond(429, envelope("Throttling"), **JSON_HEADERS)
    client, recorder = make_client(throttled, retry_policy=RetryPolicy(max_retries=0))
    with pytest.raises(RateLimitError):
        client.call("x")
    assert len(recorder.requests) == 1


# -- a 404 that a wrong base_url explains ------------------------------------------------------

WRONG_BASES = [
    ("https://dashscope.aliyuncs.com", "<html><body>404 page not found</body></html>"),
    ("http://127.0.0.1:8765", "Not Found"),  # the local server's root instead of bailian_base_url
    ("https://dashscope.aliyuncs.com/compatible-mode/v1", '{"code":"NotFound","message":"x"}'),
]


async def complete(client: Any, how: str) -> object:
    """One completion through ``client``, as ``call``, ``acall``, ``stream`` or ``astream``."""
    if how == "call":
        return client.call("x")
    if how == "acall":
        return await client.acall("x")
    if how == "stream":
        return list(client.stream("x"))
    return [chunk async for chunk in client.astream("x")]


@pytest.mark.parametrize("how", ["call", "acall", "stream", "astream"])
@pytest.mark.parametrize(("base_url", "body"), WRONG_BASES)
async def test_a_404_under_a_base_url_without_api_v1_says_so(
    make_client, base_url: str, body: str, how: str
) -> None:
    client, recorder = make_client(respond(404, body), base_url=base_url)
    with pytest.raises(NotFoundError) as caught:
        await complete(client, how)
    message = str(caught.value)
    assert "base_url should end with /api/v1, e.g. https://dashscope.aliyuncs.com/api/v1" in message
    assert repr(base_url) in message
    assert caught.value.status_code == 404 and not caught.value.retryable
    assert len(recorder.requests) == 1


@pytest.mark.parametrize("how", ["call", "acall", "stream", "astream"])
async def test_a_404_that_is_not_a_dashscope_answer_says_to_check_base_url(
    make_client, how: str
) -> None:
    proxy = respond(404, "<html>no such route</html>", **{"content-type": "text/html"})
    client, _ = make_client(proxy, base_url="https://gateway.example.test/api/v1")
    with pytest.raises(NotFoundError, match="not a DashScope error answer: check base_url"):
        await complete(client, how)


def test_a_dashscope_404_under_a_right_base_url_is_left_as_the_server_said(make_client) -> None:
    client, _ = make_client(respond(404, envelope("WorkSpaceNotFound"), **JSON_HEADERS))
    with pytest.raises(NotFoundError) as caught:
        client.call("x")
    assert caught.value.message == "WorkSpaceNotFound happened"
    assert "base_url" not in str(caught.value)


def test_both_frameworks_carry_the_hint(make_model) -> None:
    from llama_index_ext import BailianAppLLM as LlamaLLM
    from tests.fakes.bailian import API_KEY, APP_ID, Recorder, mock_http

    model, _ = make_model(respond(404, "Not Found"), base_url="http://127.0.0.1:8765")
    with pytest.raises(NotFoundError, match="should end with /api/v1"):
        model.invoke("x")
    recorder = Recorder([respond(404, "Not Found")])
    llm = LlamaLLM(
        app_id=APP_ID,
        api_key=API_KEY,
        base_url="http://127.0.0.1:8765",
        max_retries=0,
        **mock_http(recorder),
    )
    with pytest.raises(NotFoundError, match="should end with /api/v1"):
        llm.complete("x")
