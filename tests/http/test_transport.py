"""The shared HTTP adapter: headers, pooling, timeouts, error mapping, retries and streams."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from langchain_zilliz_bailian._http import adapter as _transport
from langchain_zilliz_bailian._http.adapter import HTTPAdapter, default_timeout
from langchain_zilliz_bailian._http.retry import RequestKind, RetryPolicy, retry_after
from langchain_zilliz_bailian._version import __version__
from langchain_zilliz_bailian.errors import (
    APIConnectionError,
    APIError,
    APITimeoutError,
    InternalServerError,
    InvalidInputError,
    RateLimitError,
    StreamInterruptedError,
    classify,
)
from tests.fakes.zilliz import Script

FAST = RetryPolicy(max_retries=2, initial_delay=0.001, max_delay=0.002)


def parse(response: httpx.Response) -> dict[str, Any]:
    if response.status_code >= 400:
        raise classify(message=response.text, status_code=response.status_code)
    data: dict[str, Any] = response.json()
    return data


def adapter(script: Script, **kwargs) -> HTTPAdapter:
    kwargs.setdefault("retry_policy", FAST)
    return HTTPAdapter(
        base_url="https://api.example.test/root/",
        api_key=SecretStr("sk-secret-123"),
        api_key_env="TEST_KEY",
        timeout=default_timeout(75),
        http_client=script.sync_client(),
        http_async_client=script.async_client(),
        **kwargs,
    )


def test_headers_auth_user_agent_and_url():
    script = Script([httpx.Response(200, json={"a": 1})])
    http = adapter(script, headers={"X-Extra": "1"})
    assert http.request("GET", "/v1/x", kind=RequestKind.READ, parse=parse) == {"a": 1}
    sent = script.requests[0]
    assert str(sent.url) == "https://api.example.test/root/v1/x"
    assert sent.headers["authorization"] == "Bearer sk-secret-123"
    assert sent.headers["user-agent"].startswith(f"langchain-zilliz-bailian/{__version__} ")
    assert sent.headers["x-extra"] == "1"


def test_json_and_multipart_bodies():
    script = Script([httpx.Response(200, json={})])
    http = adapter(script)
    http.request("POST", "/j", kind=RequestKind.WRITE, parse=parse, json={"k": [1, 2]})
    http.request(
        "POST",
        "/m",
        kind=RequestKind.WRITE,
        parse=parse,
        files={"file": ("a.txt", b"hello", "text/plain")},
        data={"data": '{"year": 2024}'},
    )
    assert script.requests[0].headers["content-type"] == "application/json"
    assert script.requests[0].content == b'{"k":[1,2]}'
    multipart = script.requests[1]
    assert multipart.headers["content-type"].startswith("multipart/form-data; boundary=")
    assert b'name="data"\r\n\r\n{"year": 2024}' in multipart.content
    assert b'filename="a.txt"' in multipart.content and b"hello" in multipart.content


def test_missing_key_fails_before_sending(monkeypatch):
    script = Script([httpx.Response(200, json={})])
    http = HTTPAdapter(
        base_url="https://x.test",
        api_key=None,
        api_key_env="TEST_KEY",
        timeout=default_timeout(5),
        http_client=script.sync_client(),
    )
    with pytest.raises(InvalidInputError, match="TEST_KEY"):
        http.request("GET", "/", kind=RequestKind.READ, parse=parse)
    assert script.requests == []


def test_one_pool_reused_and_closed():
    http = HTTPAdapter(
        base_url="https://x.test",
        api_key=SecretStr("k"),
        api_key_env="K",
        timeout=default_timeout(5),
    )
    first = http.client
    assert http.client is first
    assert (first.timeout.connect, first.timeout.read) == (5.0, 5)
    http.close()
    assert first.is_closed
    assert http.client is not first  # reopened on demand


def test_default_timeout_is_explicit_and_above_60s():
    timeout = default_timeout(75)
    assert (timeout.connect, timeout.read) == (5.0, 75)


def test_injected_client_is_not_closed():
    script = Script([httpx.Response(200, json={})])
    injected = script.sync_client()
    http = HTTPAdapter(
        base_url="https://x.test",
        api_key=SecretStr("k"),
        api_key_env="K",
        timeout=default_timeout(5),
        http_client=injected,
    )
    with http:
        http.request("GET", "/", kind=RequestKind.READ, parse=parse)
    assert not injected.is_closed


async def test_async_client_per_event_loop_and_reused():
    http = HTTPAdapter(
        base_url="https://x.test",
        api_key=SecretStr("k"),
        api_key_env="K",
        timeout=default_timeout(5),
    )
    first = http.async_client
    assert http.async_client is first
    other: list[httpx.AsyncClient] = []
    import threading

    def in_other_loop():
        async def grab():
            other.append(http.async_client)

        asyncio.run(grab())

    thread = threading.Thread(target=in_other_loop)
    thread.start()
    thread.join()
    assert other[0] is not first
    await http.aclose()
    assert first.is_closed
    assert http._async_clients == {}  # the finished loop's client was dropped too


def test_repeated_asyncio_run_keeps_one_client():
    """``asyncio.run(retriever.ainvoke(...))`` per request must not pile up pools and sockets."""
    http = HTTPAdapter(
        base_url="https://x.test",
        api_key=SecretStr("k"),
        api_key_env="K",
        timeout=default_timeout(5),
    )

    async def touch():
        return http.async_client

    clients = [asyncio.run(touch()) for _ in range(30)]
    assert len(set(map(id, clients))) >= 2  # a new loop gets a new pool...
    assert len(http._async_clients) == 1  # ...and the finished loops' pools are not kept


def test_key_never_in_repr_or_errors():
    script = Script([httpx.Response(401, text="nope")])
    http = adapter(script)
    assert "sk-secret" not in repr(http)
    with pytest.raises(APIError) as info:
        http.request("GET", "/", kind=RequestKind.READ, parse=parse)
    assert "sk-secret" not in str(info.value)
    assert "sk-secret" not in repr(info.value)


# -- retries -----------------------------------------------------------------------------------

READ_RETRIED: dict[str, Callable[[], httpx.Response | Exception]] = {
    "500": lambda: httpx.Response(500, text="boom"),
    "502-html": lambda: httpx.Response(502, text="<html>bad gateway</html>"),
    "503": lambda: httpx.Response(503, text="unavailable"),
    "429": lambda: httpx.Response(429, text="slow down"),
    "408": lambda: httpx.Response(408, text="timeout"),
    "ReadTimeout": lambda: httpx.ReadTimeout("read timed out"),
    "ConnectError": lambda: httpx.ConnectError("refused"),
    "RemoteProtocolError": lambda: httpx.RemoteProtocolError("peer closed"),
}


@pytest.mark.parametrize("failure", READ_RETRIED)
def test_reads_retry_then_succeed(failure):
    script = Script([READ_RETRIED[failure](), httpx.Response(200, json={"ok": True})])
    assert adapter(script).request("GET", "/", kind=RequestKind.READ, parse=parse) == {"ok": True}
    assert len(script.requests) == 2


@pytest.mark.parametrize("failure", READ_RETRIED)
async def test_async_reads_retry_then_succeed(failure):
    script = Script([READ_RETRIED[failure](), httpx.Response(200, json={"ok": True})])
    http = adapter(script)
    assert await http.arequest("GET", "/", kind=RequestKind.READ, parse=parse) == {"ok": True}
    assert len(script.requests) == 2


def test_reads_give_up_after_max_retries():
    script = Script([httpx.Response(503, text="down")])
    with pytest.raises(InternalServerError):
        adapter(script).request("GET", "/", kind=RequestKind.READ, parse=parse)
    assert len(script.requests) == 3  # 1 + max_retries


def test_max_retries_zero_means_one_attempt():
    script = Script([httpx.Response(503, text="down")])
    with pytest.raises(InternalServerError):
        adapter(script, retry_policy=RetryPolicy(max_retries=0)).request(
            "GET", "/", kind=RequestKind.READ, parse=parse
        )
    assert len(script.requests) == 1


@pytest.mark.parametrize(
    "failure",
    [
        httpx.Response(500, text="boom"),
        httpx.Response(503, text="unavailable"),
        httpx.Response(408, text="timeout"),
        httpx.ReadTimeout("read timed out"),
        httpx.WriteTimeout("write timed out"),
        httpx.RemoteProtocolError("peer closed"),
    ],
    ids=lambda f: getattr(f, "status_code", None) or type(f).__name__,
)
def test_writes_are_not_repeated_when_the_outcome_is_unknown(failure):
    script = Script([failure, httpx.Response(200, json={"ok": True})])
    with pytest.raises((APIError, APIConnectionError)):
        adapter(script).request("POST", "/", kind=RequestKind.WRITE, parse=parse, json={})
    assert len(script.requests) == 1


@pytest.mark.parametrize(
    "failure",
    [httpx.Response(429, text="slow"), httpx.ConnectError("refused"), httpx.ConnectTimeout("ct")],
    ids=["429", "ConnectError", "ConnectTimeout"],
)
def test_writes_repeat_only_when_nothing_was_done(failure):
    script = Script([failure, httpx.Response(200, json={"ok": True})])
    result = adapter(script).request("POST", "/", kind=RequestKind.WRITE, parse=parse, json={})
    assert result == {"ok": True}
    assert len(script.requests) == 2


def test_non_retryable_errors_are_raised_at_once():
    script = Script([httpx.Response(400, text="bad")])
    with pytest.raises(APIError):
        adapter(script).request("GET", "/", kind=RequestKind.READ, parse=parse)
    assert len(script.requests) == 1


def test_retry_after_is_honoured():
    script = Script(
        [
            httpx.Response(429, text="slow", headers={"Retry-After": "0.2"}),
            httpx.Response(200, json={}),
        ]
    )
    http = adapter(script, retry_policy=RetryPolicy(max_retries=1))
    started = time.perf_counter()
    http.request("GET", "/", kind=RequestKind.READ, parse=parse)
    assert time.perf_counter() - started >= 0.2


def test_retry_after_above_the_cap_fails_fast():
    script = Script([httpx.Response(429, text="slow", headers={"Retry-After": "3600"})])
    with pytest.raises(RateLimitError):
        adapter(script, retry_policy=RetryPolicy(max_retries=2)).request(
            "GET", "/", kind=RequestKind.READ, parse=parse
        )
    assert len(script.requests) == 1


def test_retry_after_parsing():
    assert retry_after({"retry-after-ms": "1500"}) == 1.5
    assert retry_after({"Retry-After": "3"}) == 3.0
    assert retry_after({"retry-after": "Wed, 21 Oct 2015 07:28:00 GMT"}) == 0.0
    assert retry_after({"retry-after": "soon"}) is None
    assert retry_after({}) is None


def test_backoff_is_exponential_with_downward_jitter():
    policy = RetryPolicy(initial_delay=0.5, max_delay=8.0)
    for attempt, ceiling in [(0, 0.5), (1, 1.0), (2, 2.0), (5, 8.0), (9, 8.0)]:
        for _ in range(20):
            delay = policy.delay(attempt)
            assert delay is not None
            assert 0.75 * ceiling <= delay <= ceiling


def test_timeout_maps_to_api_timeout_error_naming_the_limit():
    script = Script([httpx.ReadTimeout("slow")])
    with pytest.raises(APITimeoutError, match="75 s"):
        adapter(script, retry_policy=RetryPolicy(max_retries=0)).request(
            "GET", "/p", kind=RequestKind.READ, parse=parse
        )


def test_connection_error_maps_to_api_connection_error():
    script = Script([httpx.ConnectError("refused")])
    with pytest.raises(APIConnectionError) as info:
        adapter(script, retry_policy=RetryPolicy(max_retries=0)).request(
            "GET", "/p", kind=RequestKind.READ, parse=parse
        )
    assert not isinstance(info.value, APITimeoutError)
    assert isinstance(info.value.__cause__, httpx.ConnectError)


# -- streams -----------------------------------------------------------------------------------


def check(response: httpx.Response) -> None:
    if response.status_code >= 400:
        response.read()
        raise classify(message=response.text, status_code=response.status_code)


async def acheck(response: httpx.Response) -> None:
    if response.status_code >= 400:
        await response.aread()
        raise classify(message=response.text, status_code=response.status_code)


def test_stream_retries_before_the_body_only():
    script = Script([httpx.Response(503, text="busy"), httpx.Response(200, content=b"data:1\n\n")])
    with adapter(script).stream("POST", "/s", kind=RequestKind.READ, check=check, json={}) as resp:
        assert resp.read() == b"data:1\n\n"
    assert len(script.requests) == 2


class Broken(httpx.SyncByteStream):
    def __iter__(self):
        yield b"data:first\n\n"
        raise httpx.ReadError("connection reset")


class ABroken(httpx.AsyncByteStream):
    async def __aiter__(self):
        yield b"data:first\n\n"
        raise httpx.ReadTimeout("stalled")


def test_stream_is_never_retried_after_the_first_byte():
    script = Script([httpx.Response(200, stream=Broken()), httpx.Response(200, content=b"again")])
    received = []
    with pytest.raises(StreamInterruptedError, match="already delivered"):
        with adapter(script).stream("POST", "/s", kind=RequestKind.READ, check=check) as resp:
            for chunk in resp.iter_bytes():
                received.append(chunk)
    assert received == [b"data:first\n\n"]
    assert len(script.requests) == 1


async def test_async_stream_timeout_after_first_byte_is_not_retried():
    calls = []

    async def handler(request):
        calls.append(request)
        return httpx.Response(200, stream=ABroken())

    http = HTTPAdapter(
        base_url="https://x.test",
        api_key=SecretStr("k"),
        api_key_env="K",
        timeout=default_timeout(5),
        http_async_client=httpx.AsyncClient(transport=httpx.MockTransport(handler)),
        retry_policy=FAST,
    )
    received = []
    with pytest.raises(APITimeoutError, match="stalled"):
        async with http.astream("POST", "/s", kind=RequestKind.READ, check=acheck) as resp:
            async for chunk in resp.aiter_bytes():
                received.append(chunk)
    assert received == [b"data:first\n\n"]
    assert len(calls) == 1


def test_logs_never_show_the_key(caplog):
    caplog.set_level("DEBUG", logger="langchain_zilliz_bailian")
    script = Script([httpx.Response(503, text="x"), httpx.Response(200, json={})])
    adapter(script).request("GET", "/p", kind=RequestKind.READ, parse=parse)
    assert "Retrying GET /root/p" in caplog.text
    assert "sk-secret" not in caplog.text


def test_module_has_no_framework_imports():
    source = open(_transport.__file__).read()
    assert "langchain_core" not in source and "llama_index" not in source


def test_default_pools_set_tcp_nodelay_and_keep_env_proxies(monkeypatch):
    import socket

    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.test:3128")
    monkeypatch.setenv("NO_PROXY", "localhost")
    client = _transport.new_client(default_timeout(5))
    direct: Any = client._transport
    assert (socket.IPPROTO_TCP, socket.TCP_NODELAY, 1) in direct._pool._socket_options
    proxied: Any = client._transport_for_url(httpx.URL("https://api.example.test/"))
    assert proxied is not client._transport
    assert proxied._pool._proxy_url.host == b"proxy.test"
    assert client._transport_for_url(httpx.URL("https://localhost/")) is client._transport
    monkeypatch.delenv("NO_PROXY")
    client = _transport.new_client(default_timeout(5))
    for url in ("http://127.0.0.1:8765/v1", "http://localhost:1/", "http://[::1]:2/"):
        assert client._transport_for_url(httpx.URL(url)) is client._transport
    assert (
        client._transport_for_url(httpx.URL("https://api.example.test/")) is not client._transport
    )


def test_undecodable_body_becomes_a_response_format_error():
    from langchain_zilliz_bailian.errors import ResponseFormatError

    def gzip_lie(request):
        return httpx.Response(
            200, headers={"content-encoding": "gzip"}, stream=httpx.ByteStream(b"not gzip")
        )

    http = HTTPAdapter(
        base_url="https://x.test",
        api_key=SecretStr("k"),
        api_key_env="K",
        timeout=default_timeout(5),
        http_client=httpx.Client(transport=httpx.MockTransport(gzip_lie)),
    )
    with pytest.raises(ResponseFormatError, match="could not be decoded"):
        http.request("GET", "/p", kind=RequestKind.READ, parse=parse)


def test_error_messages_keep_the_port():
    script = Script([httpx.ConnectError("refused")])
    http = HTTPAdapter(
        base_url="http://127.0.0.1:8765",
        api_key=SecretStr("k"),
        api_key_env="K",
        timeout=default_timeout(5),
        http_client=script.sync_client(),
        retry_policy=RetryPolicy(max_retries=0),
    )
    with pytest.raises(APIConnectionError, match=r"http://127\.0\.0\.1:8765/v1/x"):
        http.request("GET", "/v1/x", kind=RequestKind.READ, parse=parse)


@pytest.mark.parametrize(
    ("no_proxy", "direct", "proxied"),
    [
        ("example.org", "https://api.example.org/", "https://example.net/"),
        ("10.0.0.1", "http://10.0.0.1:8080/", "http://10.0.0.2/"),
        ("::1", "http://[::1]:8765/", "https://example.net/"),
    ],
)
def test_no_proxy_entries_go_direct(monkeypatch, no_proxy, direct, proxied):
    for name in ("HTTP_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTPS_PROXY", "proxy.test:3128")
    monkeypatch.setenv("HTTP_PROXY", "http://proxy.test:3128")
    monkeypatch.setenv("NO_PROXY", no_proxy)
    client = _transport.new_client(default_timeout(5))
    assert client._transport_for_url(httpx.URL(direct)) is client._transport
    assert client._transport_for_url(httpx.URL(proxied)) is not client._transport


def test_no_proxy_star_turns_every_proxy_off(monkeypatch):
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.test:3128")
    monkeypatch.setenv("NO_PROXY", "*")
    from langchain_zilliz_bailian._http.pools import proxy_routes

    assert proxy_routes() == {}
