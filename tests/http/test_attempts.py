"""The one attempt loop, run the four ways it serves: sync and async, request and stream.

Each case runs through every way, so a rule that held for one path and not another would fail
here: retry then success, retries exhausted, a ``Retry-After`` past the deadline, an error that
is never retried, and the note on a write whose outcome is unknown.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from langchain_zilliz_bailian._http.adapter import Deadline, HTTPAdapter
from langchain_zilliz_bailian._http.retry import RequestKind, RetryPolicy
from langchain_zilliz_bailian.errors import (
    APIConnectionError,
    APITimeoutError,
    BadRequestError,
    InternalServerError,
    RateLimitError,
)
from tests.fakes.zilliz import Script
from tests.http.test_transport import adapter as transport_adapter

WAYS = ["request", "arequest", "stream", "astream"]
NOTE = "Check before sending it again."


def raise_for_status(response: httpx.Response) -> None:
    if response.status_code >= 400:
        from langchain_zilliz_bailian.errors import classify

        raise classify(message=response.text, status_code=response.status_code)


def parse(response: httpx.Response) -> Any:
    raise_for_status(response)
    return response.json()


def check(response: httpx.Response) -> None:
    if response.status_code >= 400:
        response.read()
    raise_for_status(response)


async def acheck(response: httpx.Response) -> None:
    if response.status_code >= 400:
        await response.aread()
    raise_for_status(response)


def adapter(script: Script, **kwargs: Any) -> HTTPAdapter:
    return transport_adapter(script, unknown_write_note=NOTE, **kwargs)


def call(way: str, http: HTTPAdapter, kind: RequestKind = RequestKind.READ, **kwargs: Any) -> Any:
    """Run one call the given way and return the JSON body it got."""
    if way == "request":
        return http.request("POST", "/x", kind=kind, parse=parse, json={}, **kwargs)
    if way == "stream":
        with http.stream("POST", "/x", kind=kind, check=check, json={}, **kwargs) as response:
            return httpx.Response(200, content=response.read()).json()

    async def run() -> Any:
        if way == "arequest":
            return await http.arequest("POST", "/x", kind=kind, parse=parse, json={}, **kwargs)
        async with http.astream("POST", "/x", kind=kind, check=acheck, json={}, **kwargs) as r:
            return httpx.Response(200, content=await r.aread()).json()

    return asyncio.run(run())


OK = httpx.Response(200, json={"ok": True})


@pytest.mark.parametrize("way", WAYS)
@pytest.mark.parametrize(
    "failure",
    [httpx.Response(503, text="down"), httpx.ConnectError("refused")],
    ids=["503", "ConnectError"],
)
def test_a_retry_then_success(way: str, failure: httpx.Response | Exception) -> None:
    script = Script([failure, OK])
    assert call(way, adapter(script)) == {"ok": True}
    assert len(script.requests) == 2


@pytest.mark.parametrize("way", WAYS)
def test_retries_exhausted_raise_the_last_error(way: str) -> None:
    script = Script([httpx.Response(503, text="down")])
    with pytest.raises(InternalServerError):
        call(way, adapter(script))
    assert len(script.requests) == 3  # the first attempt and max_retries=2


@pytest.mark.parametrize("way", WAYS)
def test_transport_retries_exhausted_raise_the_mapped_error(way: str) -> None:
    script = Script([httpx.ConnectError("refused")])
    with pytest.raises(APIConnectionError) as info:
        call(way, adapter(script))
    assert not isinstance(info.value, APITimeoutError)
    assert isinstance(info.value.__cause__, httpx.ConnectError)
    assert len(script.requests) == 3


@pytest.mark.parametrize("way", WAYS)
def test_retry_after_past_the_deadline_raises_the_original_error_at_once(way: str) -> None:
    script = Script([httpx.Response(429, text="slow", headers={"retry-after": "5"}), OK])
    deadline = Deadline.after(2.0, lambda: APITimeoutError("overdue"))
    started = time.monotonic()
    with pytest.raises(RateLimitError):
        call(way, adapter(script), deadline=deadline)
    assert time.monotonic() - started < 0.5
    assert len(script.requests) == 1


@pytest.mark.parametrize("way", WAYS)
def test_retry_after_within_the_deadline_is_honoured(way: str) -> None:
    script = Script([httpx.Response(429, text="slow", headers={"retry-after-ms": "300"}), OK])
    started = time.monotonic()
    answer = call(way, adapter(script), deadline=Deadline.after(5.0, RuntimeError))
    assert (answer, len(script.requests)) == ({"ok": True}, 2)
    assert time.monotonic() - started >= 0.3


@pytest.mark.parametrize("way", WAYS)
def test_a_non_retryable_error_is_raised_at_once(way: str) -> None:
    script = Script([httpx.Response(400, text="bad"), OK])
    with pytest.raises(BadRequestError):
        call(way, adapter(script))
    assert len(script.requests) == 1


@pytest.mark.parametrize("way", WAYS)
def test_a_write_that_timed_out_is_not_repeated_and_says_its_outcome_is_unknown(way: str) -> None:
    script = Script([httpx.ReadTimeout("slow"), OK])
    with pytest.raises(APITimeoutError) as info:
        call(way, adapter(script), kind=RequestKind.WRITE)
    assert str(info.value).endswith(NOTE)
    assert len(script.requests) == 1


@pytest.mark.parametrize("way", WAYS)
def test_a_write_never_sent_gets_no_unknown_outcome_note(way: str) -> None:
    script = Script([httpx.ConnectTimeout("no route")])
    with pytest.raises(APITimeoutError) as info:
        call(way, adapter(script, retry_policy=RetryPolicy(max_retries=0)), kind=RequestKind.WRITE)
    assert NOTE not in str(info.value)


@pytest.mark.parametrize("way", WAYS)
def test_the_deadline_passed_before_an_attempt_raises_its_error_without_sending(way: str) -> None:
    script = Script([OK])
    deadline = Deadline(time.monotonic() - 1, lambda: APITimeoutError("overdue"))
    with pytest.raises(APITimeoutError, match="overdue"):
        call(way, adapter(script), deadline=deadline)
    assert script.requests == []


def test_the_delay_grows_between_retries() -> None:
    waits: list[float] = []
    script = Script([httpx.Response(503, text="down")])
    policy = RetryPolicy(max_retries=3, initial_delay=0.01, max_delay=1.0)
    http = adapter(script, retry_policy=policy)
    sleep: Callable[[float], None] = time.sleep

    def record(seconds: float) -> None:
        waits.append(seconds)
        sleep(0)

    mp = pytest.MonkeyPatch()
    mp.setattr(time, "sleep", record)
    try:
        with pytest.raises(InternalServerError):
            http.request("GET", "/x", kind=RequestKind.READ, parse=parse)
    finally:
        mp.undo()
    assert len(waits) == 3
    # Backoff doubles (jitter takes off at most a quarter).
    assert 0.0075 <= waits[0] <= 0.01
    assert 0.015 <= waits[1] <= 0.02
    assert 0.03 <= waits[2] <= 0.04
