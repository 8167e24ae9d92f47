"""The one rule for "had this failed write an effect?" and the retry decision built on it."""

from __future__ import annotations

import httpx
import pytest

from langchain_zilliz_bailian._http.retry import RequestKind, RetryPolicy, may_have_effect
from langchain_zilliz_bailian.errors import (
    APIConnectionError,
    APIError,
    APITimeoutError,
    BadRequestError,
    InternalServerError,
    InvalidInputError,
    RateLimitError,
    RequestTimeoutError,
    ResponseFormatError,
    endpoint_unreachable,
)


def chained(error: Exception, cause: BaseException) -> Exception:
    error.__cause__ = cause
    return error


NO_EFFECT = {
    "bad input": InvalidInputError("bad"),
    "429": RateLimitError("slow", status_code=429, retryable=True),
    "400": BadRequestError("bad", status_code=400),
    "in-band refusal under 200": APIError("token is illegal", status_code=200, code=80001),
    "gone endpoint": endpoint_unreachable("gone", url="https://x"),
    "ConnectError": httpx.ConnectError("refused"),
    "PoolTimeout": httpx.PoolTimeout("pool"),
    "mapped ConnectTimeout": chained(APITimeoutError("t"), httpx.ConnectTimeout("t")),
    "mapped twice": chained(
        APIConnectionError("outer"), chained(APIConnectionError("inner"), httpx.ConnectError("x"))
    ),
}
MAYBE = {
    "408": RequestTimeoutError("gave up", status_code=408, retryable=True),
    "500": InternalServerError("boom", status_code=500, retryable=True),
    "no status": APIError("odd"),
    "unreadable answer": ResponseFormatError("html", status_code=200),
    "ReadTimeout": httpx.ReadTimeout("slow"),
    "mapped ReadTimeout": chained(APITimeoutError("t"), httpx.ReadTimeout("t")),
    "reset": httpx.ReadError("reset"),
    "unknown exception": RuntimeError("?"),
}


@pytest.mark.parametrize("error", NO_EFFECT.values(), ids=NO_EFFECT.keys())
def test_certainly_no_effect(error: BaseException) -> None:
    assert may_have_effect(error) is False


@pytest.mark.parametrize("error", MAYBE.values(), ids=MAYBE.keys())
def test_may_have_had_an_effect(error: BaseException) -> None:
    assert may_have_effect(error) is True


@pytest.mark.parametrize(
    ("error", "retried"),
    [
        (RateLimitError("slow", status_code=429, retryable=True), True),
        (RequestTimeoutError("gave up", status_code=408, retryable=True), False),
        (InternalServerError("boom", status_code=500, retryable=True), False),
        (httpx.ConnectError("refused"), True),
        (httpx.ReadTimeout("slow"), False),
    ],
    ids=["429", "408", "500", "ConnectError", "ReadTimeout"],
)
def test_a_write_is_repeated_only_when_it_had_no_effect(
    error: BaseException, retried: bool
) -> None:
    assert RetryPolicy().should_retry(RequestKind.WRITE, error) is retried
    assert retried is (not may_have_effect(error))
