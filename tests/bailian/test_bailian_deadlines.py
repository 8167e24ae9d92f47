"""When an app call is repeated, and how long a call or stream may take in all (B12, B18).

An app call is a generation: it may run an agent's side effects and adds a session turn. It is
repeated when the server refused it (throttling, 408, 5xx) or nothing was sent, never after a
read timeout or a reset. ``total_timeout`` bounds the whole call or stream.
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest

from langchain_zilliz_bailian._http.retry import RequestKind, RetryPolicy
from langchain_zilliz_bailian.bailian import BailianAppClient
from langchain_zilliz_bailian.errors import (
    APIConnectionError,
    APITimeoutError,
    InternalServerError,
    InvalidInputError,
    RateLimitError,
    RequestTimeoutError,
    StreamInterruptedError,
)
from tests.fakes.bailian import (
    API_KEY,
    APP_ID,
    JSON_HEADERS,
    NO_WAIT,
    SSE_HEADERS,
    event,
    incremental_stream,
    respond,
    result,
)

ATTEMPTS = 1 + NO_WAIT.max_retries


def envelope(code: str) -> dict[str, str]:
    return {"code": code, "message": code, "request_id": "req-x"}


def raising(exc: Exception):
    def make() -> httpx.Response:
        raise exc

    return make


def ok_json():
    return respond(200, result("ok", finish="stop"), **JSON_HEADERS)


def ok_stream():
    return respond(200, incremental_stream(["fine"]), **SSE_HEADERS)


# -- the policy ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("error", "retried"),
    [
        (RateLimitError("slow down", status_code=429, retryable=True), True),
        (RequestTimeoutError("gave up", status_code=408, retryable=True), True),
        (InternalServerError("boom", status_code=500, retryable=True), True),
        (InternalServerError("final", status_code=500, retryable=False), False),
        (httpx.ConnectError("refused"), True),
        (httpx.ConnectTimeout("connect timed out"), True),
        (httpx.PoolTimeout("pool"), True),
        (httpx.ReadTimeout("read timed out"), False),
        (httpx.WriteTimeout("write timed out"), False),
        (httpx.ReadError("connection reset"), False),
        (httpx.RemoteProtocolError("peer closed"), False),
    ],
    ids=lambda v: type(v).__name__ if not isinstance(v, bool) else str(v),
)
def test_generation_policy(error: BaseException, retried: bool) -> None:
    assert RetryPolicy().should_retry(RequestKind.GENERATION, error) is retried


# -- calls -----------------------------------------------------------------------------------------

NOT_REPEATED = {
    "ReadTimeout": (httpx.ReadTimeout("read timed out"), APITimeoutError),
    "ReadError": (httpx.ReadError("connection reset by peer"), APIConnectionError),
    "RemoteProtocolError": (httpx.RemoteProtocolError("peer closed"), APIConnectionError),
}
REPEATED = {
    "ConnectError": lambda: raising(httpx.ConnectError("refused")),
    "429-Throttling": lambda: respond(429, envelope("Throttling"), **JSON_HEADERS),
    "408": lambda: respond(408, envelope("RequestTimeOut"), **JSON_HEADERS),
    "503": lambda: respond(503, envelope("ServiceUnavailable"), **JSON_HEADERS),
}


@pytest.mark.parametrize("failure", NOT_REPEATED)
def test_call_is_not_repeated_after_a_read_timeout_or_reset(make_client, failure) -> None:
    exc, expected = NOT_REPEATED[failure]
    client, recorder = make_client(raising(exc), ok_json())
    with pytest.raises(expected):
        client.call("run the agent")
    assert len(recorder.requests) == 1


@pytest.mark.parametrize("failure", NOT_REPEATED)
async def test_acall_is_not_repeated_after_a_read_timeout_or_reset(make_client, failure) -> None:
    exc, expected = NOT_REPEATED[failure]
    client, recorder = make_client(raising(exc), ok_json())
    with pytest.raises(expected):
        await client.acall("run the agent")
    assert len(recorder.requests) == 1


@pytest.mark.parametrize("failure", NOT_REPEATED)
def test_stream_is_not_repeated_after_a_timeout_before_the_headers(make_client, failure) -> None:
    exc, expected = NOT_REPEATED[failure]
    client, recorder = make_client(raising(exc), ok_stream())
    with pytest.raises(expected):
        list(client.stream("run the agent"))
    assert len(recorder.requests) == 1


@pytest.mark.parametrize("failure", NOT_REPEATED)
async def test_astream_is_not_repeated_after_a_timeout_before_the_headers(
    make_client, failure
) -> None:
    exc, expected = NOT_REPEATED[failure]
    client, recorder = make_client(raising(exc), ok_stream())
    with pytest.raises(expected):
        [chunk async for chunk in client.astream("run the agent")]
    assert len(recorder.requests) == 1


@pytest.mark.parametrize("failure", REPEATED)
def test_call_is_repeated_when_refused_or_never_sent(make_client, failure) -> None:
    client, recorder = make_client(REPEATED[failure](), ok_json())
    assert client.call("q").text == "ok"
    assert len(recorder.requests) == 2


@pytest.mark.parametrize("failure", REPEATED)
async def test_astream_is_repeated_when_refused_or_never_sent(make_client, failure) -> None:
    client, recorder = make_client(REPEATED[failure](), ok_stream())
    assert [c.delta async for c in client.astream("q")] == ["fine", ""]
    assert len(recorder.requests) == 2


# -- total_timeout ---------------------------------------------------------------------------------

PAUSE = 0.15


def endless_events() -> list[bytes]:
    return [event(result(f" w{n}"), id=n) for n in range(1, 200)]


def slow_client(total_timeout: float | None, **kwargs) -> BailianAppClient:
    """A client whose stream keeps sending an event every ``PAUSE`` s and never finishes."""

    def body() -> Iterator[bytes]:
        for chunk in endless_events():
            yield chunk
            time.sleep(PAUSE)

    async def abody() -> AsyncIterator[bytes]:
        for chunk in endless_events():
            yield chunk
            await asyncio.sleep(PAUSE)

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, headers=SSE_HEADERS, content=body())

    async def ahandler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, headers=SSE_HEADERS, content=abody())

    return BailianAppClient(
        APP_ID,
        api_key=API_KEY,
        total_timeout=total_timeout,
        http_client=httpx.Client(transport=httpx.MockTransport(handler)),
        http_async_client=httpx.AsyncClient(transport=httpx.MockTransport(ahandler)),
        retry_policy=NO_WAIT,
        **kwargs,
    )


def test_default_total_timeout_and_validation() -> None:
    assert BailianAppClient(APP_ID, api_key=API_KEY).total_timeout == 600.0
    assert BailianAppClient(APP_ID, api_key=API_KEY, total_timeout=None).total_timeout is None
    for bad in (0, -1.0, True, "10"):
        with pytest.raises(InvalidInputError, match="total_timeout"):
            BailianAppClient(APP_ID, api_key=API_KEY, total_timeout=bad)  # type: ignore[arg-type]


def test_stream_that_keeps_trickling_stops_at_the_total_timeout() -> None:
    client = slow_client(total_timeout=0.5)
    got: list[str] = []
    started = time.monotonic()
    with pytest.raises(APITimeoutError, match=r"total_timeout=0\.5 s") as caught:
        for chunk in client.stream("q"):
            got.append(chunk.delta)
    elapsed = time.monotonic() - started
    # sync: checked when the next event arrives (the stream would trickle on for seconds)
    assert 0.5 <= elapsed < 0.5 + PAUSE + 1.0
    assert got and got == [f" w{n}" for n in range(1, len(got) + 1)]  # all handed on, in order
    assert "already delivered" in str(caught.value)
    assert not isinstance(caught.value, StreamInterruptedError)


async def test_astream_that_keeps_trickling_stops_at_the_total_timeout() -> None:
    client = slow_client(total_timeout=0.5)
    got: list[str] = []
    started = time.monotonic()
    with pytest.raises(APITimeoutError, match=r"total_timeout=0\.5 s"):
        async for chunk in client.astream("q"):
            got.append(chunk.delta)
    elapsed = time.monotonic() - started
    assert 0.5 <= elapsed < 0.5 + 1.0  # async: the read waiting at the deadline is cancelled
    assert got == [f" w{n}" for n in range(1, len(got) + 1)]
    assert len(got) >= 3


async def test_astream_stalled_below_the_read_timeout_stops_at_the_total_timeout() -> None:
    async def abody() -> AsyncIterator[bytes]:
        yield event(result("a"), id=1)
        await asyncio.sleep(30)  # silent, but well within the 200 s read timeout
        yield event(result("", finish="stop"), id=2)

    async def ahandler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, headers=SSE_HEADERS, content=abody())

    client = BailianAppClient(
        APP_ID,
        api_key=API_KEY,
        total_timeout=0.3,
        http_async_client=httpx.AsyncClient(transport=httpx.MockTransport(ahandler)),
    )
    got: list[str] = []
    started = time.monotonic()
    with pytest.raises(APITimeoutError, match="total_timeout"):
        async for chunk in client.astream("q"):
            got.append(chunk.delta)
    assert time.monotonic() - started < 1.0
    assert got == ["a"]


def test_none_disables_the_total_timeout(monkeypatch) -> None:
    pieces = incremental_stream(["a", "b", "c"])

    def handler(request: httpx.Request) -> httpx.Response:
        def body() -> Iterator[bytes]:
            for block in pieces.split(b"\n\n")[:-1]:
                time.sleep(0.05)
                yield block + b"\n\n"

        return httpx.Response(200, headers=SSE_HEADERS, content=body())

    client = BailianAppClient(
        APP_ID,
        api_key=API_KEY,
        total_timeout=None,
        http_client=httpx.Client(transport=httpx.MockTransport(handler)),
    )
    assert [c.delta for c in client.stream("q")] == ["a", "b", "c", ""]


async def test_acall_is_cancelled_at_the_total_timeout() -> None:
    calls = 0

    async def ahandler(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        await asyncio.sleep(30)
        return httpx.Response(200, headers=JSON_HEADERS, json=result("late", finish="stop"))

    client = BailianAppClient(
        APP_ID,
        api_key=API_KEY,
        total_timeout=0.3,
        http_async_client=httpx.AsyncClient(transport=httpx.MockTransport(ahandler)),
    )
    started = time.monotonic()
    with pytest.raises(APITimeoutError, match=r"total_timeout=0\.3 s"):
        await client.acall("q")
    assert time.monotonic() - started < 1.0
    assert calls == 1


async def test_acall_total_timeout_covers_the_retries() -> None:
    calls = 0

    async def ahandler(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        return httpx.Response(503, headers=JSON_HEADERS, json=envelope("ServiceUnavailable"))

    client = BailianAppClient(
        APP_ID,
        api_key=API_KEY,
        # Delays are 0.9-1.2 s: the second attempt starts with 0.5-0.8 s left, too little for
        # a third (>= 0.9 s away), with >= 0.5 s to spare on a loaded machine.
        total_timeout=1.7,
        retry_policy=RetryPolicy(max_retries=5, initial_delay=1.2, max_delay=1.2),
        http_async_client=httpx.AsyncClient(transport=httpx.MockTransport(ahandler)),
    )
    # The third attempt would have started after the deadline: no retry, the 503 is raised.
    with pytest.raises(InternalServerError):
        await client.acall("q")
    assert calls == 2


def test_sync_call_answering_after_the_total_timeout_raises() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        time.sleep(0.3)
        return httpx.Response(200, headers=JSON_HEADERS, json=result("late", finish="stop"))

    client = BailianAppClient(
        APP_ID,
        api_key=API_KEY,
        total_timeout=0.1,
        http_client=httpx.Client(transport=httpx.MockTransport(handler)),
    )
    with pytest.raises(APITimeoutError, match=r"total_timeout=0\.1 s"):
        client.call("q")
    client.total_timeout = 5.0
    assert client.call("q").text == "late"


def test_chat_model_passes_total_timeout_to_its_client() -> None:
    from langchain_zilliz_bailian import BailianAppLLM, ChatBailianApp

    assert ChatBailianApp(app_id=APP_ID, api_key=API_KEY).client.total_timeout == 600.0
    model = ChatBailianApp(app_id=APP_ID, api_key=API_KEY, total_timeout=30)
    assert model.client.total_timeout == 30.0
    assert (
        BailianAppLLM(app_id=APP_ID, api_key=API_KEY, total_timeout=None).client.total_timeout
        is None
    )


def _trickling_server(answers: list[list[bytes]], pause: float) -> tuple[str, threading.Thread]:
    """A loopback HTTP/1.1 server answering each connection in turn with chunked SSE events."""
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]

    def serve() -> None:
        with listener:
            for chunks in answers:
                conn, _ = listener.accept()
                with conn:
                    conn.recv(65536)
                    conn.sendall(
                        b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream;charset=UTF-8\r\n"
                        b"transfer-encoding: chunked\r\nconnection: close\r\n\r\n"
                    )
                    try:
                        for chunk in chunks:
                            conn.sendall(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
                            time.sleep(pause)
                        conn.sendall(b"0\r\n\r\n")
                    except OSError:  # the client gave up and closed the connection
                        pass

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    return f"http://127.0.0.1:{port}/api/v1", thread


async def test_astream_total_timeout_over_a_real_socket_leaves_the_client_usable() -> None:
    finished = [event(result("ok"), id=1), event(result("", finish="stop"), id=2)]
    base_url, thread = _trickling_server([endless_events()[:40], finished], pause=PAUSE)
    async with BailianAppClient(
        APP_ID, api_key=API_KEY, base_url=base_url, total_timeout=0.5
    ) as client:
        got: list[str] = []
        started = time.monotonic()
        with pytest.raises(APITimeoutError, match="total_timeout"):
            async for chunk in client.astream("q"):
                got.append(chunk.delta)
        assert time.monotonic() - started < 0.5 + 1.0
        assert got == [f" w{n}" for n in range(1, len(got) + 1)]
        assert [c.delta async for c in client.astream("again")] == ["ok", ""]
    await asyncio.to_thread(thread.join, 10)
    assert not thread.is_alive()


# -- sync total_timeout against a server that keeps bytes flowing (issue 9) ---------------------

TOTAL = 1.0
TRICKLE = 0.05  # seconds between two pieces the server sends


class _KeepFlowing:
    """A loopback server that never finishes: SSE keep-alive comments, or JSON a byte at a time.

    Every connection gets its own thread; pieces go out every ``TRICKLE`` s until the client
    hangs up (or 40 s pass). ``hangups`` records how long each connection lasted.
    """

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(0.2)
        self.base_url = f"http://127.0.0.1:{self.listener.getsockname()[1]}/api/v1"
        self.stopped = threading.Event()
        self.threads: list[threading.Thread] = []
        self.accepter = threading.Thread(target=self._accept, daemon=True)
        self.accepter.start()

    def _accept(self) -> None:
        while not self.stopped.is_set():
            try:
                conn, _ = self.listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            thread = threading.Thread(target=self._answer, args=(conn,), daemon=True)
            self.threads.append(thread)
            thread.start()

    def _answer(self, conn: socket.socket) -> None:
        with conn:
            request = b""
            while b"\r\n\r\n" not in request:
                request += conn.recv(65536)
            head, _, body = request.partition(b"\r\n\r\n")
            length = int(
                next(
                    line.split(b":", 1)[1]
                    for line in head.split(b"\r\n")
                    if line.lower().startswith(b"content-length:")
                )
            )
            while len(body) < length:
                body += conn.recv(65536)
            streamed = b"x-dashscope-sse: enable" in head.lower()
            try:
                if streamed:
                    self._keep_alive(conn)
                else:
                    self._trickle_json(conn)
            except OSError:  # the client gave up and closed the connection
                pass

    def _keep_alive(self, conn: socket.socket) -> None:
        conn.sendall(
            b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream;charset=UTF-8\r\n"
            b"transfer-encoding: chunked\r\n\r\n"
        )
        chunks = [event(result("first"), id=1)] + [b":keep-alive\n\n"] * int(40 / TRICKLE)
        for chunk in chunks:
            if self.stopped.is_set():
                return
            conn.sendall(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
            time.sleep(TRICKLE)

    def _trickle_json(self, conn: socket.socket) -> None:
        body = json.dumps(result("a slow answer " + "x" * 2000, finish="stop")).encode()
        conn.sendall(
            b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n"
            + f"content-length: {len(body)}\r\n\r\n".encode()
        )
        for i in range(len(body)):
            if self.stopped.is_set():
                return
            conn.sendall(body[i : i + 1])
            time.sleep(TRICKLE)

    def close(self) -> None:
        self.stopped.set()
        self.listener.close()
        self.accepter.join(5)
        for thread in self.threads:
            thread.join(5)


@pytest.fixture
def keep_flowing() -> Iterator[_KeepFlowing]:
    server = _KeepFlowing()
    try:
        yield server
    finally:
        server.close()


def _flowing_client(server: _KeepFlowing) -> BailianAppClient:
    return BailianAppClient(APP_ID, api_key=API_KEY, base_url=server.base_url, total_timeout=TOTAL)


def _assert_on_time(started: float, caught: pytest.ExceptionInfo[APITimeoutError]) -> float:
    elapsed = time.monotonic() - started
    assert TOTAL <= elapsed < TOTAL + 1.0, elapsed  # the server would send for 10 s or more
    assert "total_timeout=1 s" in str(caught.value)
    return elapsed


def test_sync_call_with_a_trickled_json_body_stops_at_the_total_timeout(keep_flowing) -> None:
    with _flowing_client(keep_flowing) as client:
        started = time.monotonic()
        with pytest.raises(APITimeoutError) as caught:
            client.call("q")
        _assert_on_time(started, caught)


async def test_async_call_with_a_trickled_json_body_stops_at_the_total_timeout(
    keep_flowing,
) -> None:
    async with _flowing_client(keep_flowing) as client:
        started = time.monotonic()
        with pytest.raises(APITimeoutError) as caught:
            await client.acall("q")
        _assert_on_time(started, caught)


def test_sync_stream_with_keep_alive_comments_stops_at_the_total_timeout(keep_flowing) -> None:
    got: list[str] = []
    with _flowing_client(keep_flowing) as client:
        started = time.monotonic()
        with pytest.raises(APITimeoutError) as caught:
            for chunk in client.stream("q"):
                got.append(chunk.delta)
        _assert_on_time(started, caught)
    assert got == ["first"]
    assert "already delivered" in str(caught.value)


async def test_async_stream_with_keep_alive_comments_stops_at_the_total_timeout(
    keep_flowing,
) -> None:
    got: list[str] = []
    async with _flowing_client(keep_flowing) as client:
        started = time.monotonic()
        with pytest.raises(APITimeoutError) as caught:
            async for chunk in client.astream("q"):
                got.append(chunk.delta)
        _assert_on_time(started, caught)
    assert got == ["first"]


@pytest.mark.parametrize("how", ["invoke", "stream"])
def test_chat_model_sync_calls_stop_at_the_total_timeout(keep_flowing, how: str) -> None:
    from langchain_zilliz_bailian import ChatBailianApp

    model = ChatBailianApp(
        app_id=APP_ID, api_key=API_KEY, base_url=keep_flowing.base_url, total_timeout=TOTAL
    )
    started = time.monotonic()
    with pytest.raises(APITimeoutError) as caught:
        if how == "invoke":
            model.invoke("q")
        else:
            list(model.stream("q"))
    _assert_on_time(started, caught)


def test_each_attempt_caps_its_timeouts_at_the_time_left() -> None:
    seen: list[dict[str, float]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(dict(request.extensions["timeout"]))
        return httpx.Response(200, headers=JSON_HEADERS, json=result("ok", finish="stop"))

    client = BailianAppClient(
        APP_ID,
        api_key=API_KEY,
        total_timeout=2.0,
        http_client=httpx.Client(
            transport=httpx.MockTransport(handler), timeout=httpx.Timeout(200.0, connect=0.5)
        ),
    )
    assert client.call("q").text == "ok"
    assert seen[0]["connect"] == 0.5  # below the time left: kept
    assert 1.5 < seen[0]["read"] <= 2.0  # the 200 s read timeout capped at the time left
    assert 1.5 < seen[0]["pool"] <= 2.0


def test_sync_retry_that_would_start_past_the_deadline_is_not_made() -> None:
    calls = 0

    def handler(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        return httpx.Response(503, headers=JSON_HEADERS, json=envelope("ServiceUnavailable"))

    client = BailianAppClient(
        APP_ID,
        api_key=API_KEY,
        total_timeout=1.7,  # as in the async test above
        retry_policy=RetryPolicy(max_retries=5, initial_delay=1.2, max_delay=1.2),
        http_client=httpx.Client(transport=httpx.MockTransport(handler)),
    )
    started = time.monotonic()
    # The second retry could only start past the deadline: the 503 that called for it is raised
    # at once (the deadline itself has not passed, so a timeout error would not be true).
    with pytest.raises(InternalServerError):
        client.call("q")
    assert time.monotonic() - started < 1.7
    assert calls == 2


def test_a_retry_after_longer_than_the_time_left_raises_the_rate_limit_error() -> None:
    calls = 0

    def handler(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        return httpx.Response(
            429,
            headers={**JSON_HEADERS, "Retry-After": "30"},
            json=envelope("Throttling.RateQuota"),
        )

    client = BailianAppClient(
        APP_ID,
        api_key=API_KEY,
        total_timeout=10,
        http_client=httpx.Client(transport=httpx.MockTransport(handler)),
    )
    started = time.monotonic()
    with pytest.raises(RateLimitError):
        client.call("q")
    assert time.monotonic() - started < 5
    assert calls == 1
