"""Streaming: deltas handed on as events arrive, cumulative text diffed, errors raised in order."""

from __future__ import annotations

import socket
import threading
import time
import warnings
from typing import Any, cast

import httpx
import pytest

from langchain_zilliz_bailian.bailian import BailianAppClient, CumulativeStreamWarning
from langchain_zilliz_bailian.errors import (
    APITimeoutError,
    BadRequestError,
    PermissionDeniedError,
    RateLimitError,
    StreamInterruptedError,
)
from tests.fakes.bailian import (
    API_KEY,
    APP_ID,
    JSON_HEADERS,
    SSE_HEADERS,
    apaced,
    event,
    incremental_stream,
    paced,
    respond,
    result,
    sse,
)

PAUSE = 0.3


def stream_of(body: bytes, status: int = 200, **headers: str):
    return respond(status, body, **{**SSE_HEADERS, **headers})


# -- nothing is buffered ------------------------------------------------------------------------


def _paced_client(asynchronous: bool) -> tuple[BailianAppClient, list[float]]:
    chunks = [event(result(word), id=i) for i, word in enumerate(["one", " two", " three"], 1)]
    chunks.append(event(result("", finish="stop"), id=4))
    sent: list[float] = []

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, headers=SSE_HEADERS, content=paced(chunks, PAUSE, sent))

    async def ahandler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, headers=SSE_HEADERS, content=apaced(chunks, PAUSE, sent))

    client = BailianAppClient(
        APP_ID,
        api_key=API_KEY,
        http_client=httpx.Client(transport=httpx.MockTransport(handler)),
        http_async_client=httpx.AsyncClient(transport=httpx.MockTransport(ahandler)),
    )
    return client, sent


def _report(label: str, latency: float, capsys) -> None:
    with capsys.disabled():
        print(f"\n[{label}] first event -> first delta: {latency * 1000:.2f} ms")


def test_each_delta_is_handed_on_when_its_event_arrives(capsys) -> None:
    client, sent = _paced_client(asynchronous=False)
    received: list[tuple[str, float]] = []
    for chunk in client.stream("count"):
        received.append((chunk.delta, time.perf_counter()))
    assert [d for d, _ in received] == ["one", " two", " three", ""]
    latency = received[0][1] - sent[0]
    _report("sync", latency, capsys)
    assert latency < PAUSE / 3  # the first delta did not wait for the next event
    for (_, got), emitted in zip(received, sent, strict=True):
        assert 0 <= got - emitted < PAUSE / 3


async def test_each_delta_is_handed_on_when_its_event_arrives_async(capsys) -> None:
    client, sent = _paced_client(asynchronous=True)
    received: list[tuple[str, float]] = []
    async for chunk in client.astream("count"):
        received.append((chunk.delta, time.perf_counter()))
    assert [d for d, _ in received] == ["one", " two", " three", ""]
    latency = received[0][1] - sent[0]
    _report("async", latency, capsys)
    assert latency < PAUSE / 3
    for (_, got), emitted in zip(received, sent, strict=True):
        assert 0 <= got - emitted < PAUSE / 3


def test_chat_model_token_callbacks_fire_per_event(capsys) -> None:
    from langchain_core.callbacks import BaseCallbackHandler

    from langchain_zilliz_bailian import ChatBailianApp

    client, sent = _paced_client(asynchronous=False)
    tokens: list[tuple[str | list[Any], float]] = []

    class Tokens(BaseCallbackHandler):
        def on_llm_new_token(self, token: str | list[Any], **kwargs: Any) -> None:
            tokens.append((token, time.perf_counter()))

    model = ChatBailianApp(
        app_id=APP_ID, api_key=API_KEY, http_client=client._adapter.client, callbacks=[Tokens()]
    )
    assert "".join(cast("str", c.content) for c in model.stream("count")) == "one two three"
    assert [t for t, _ in tokens] == ["one", " two", " three", ""]  # "" is the closing chunk
    latency = tokens[0][1] - sent[0]
    _report("ChatBailianApp.stream", latency, capsys)
    assert latency < PAUSE / 3


# -- cumulative text ----------------------------------------------------------------------------


def test_cumulative_text_despite_the_flag_becomes_deltas(make_client) -> None:
    body = sse(
        result("土豆"), result("土豆炖"), result("土豆炖猪脚"), result("土豆炖猪脚", finish="stop")
    )
    client, _ = make_client(stream_of(body))
    stream = client.stream("菜谱")
    with pytest.warns(CumulativeStreamWarning, match="cumulative"):
        deltas = [c.delta for c in stream]
    # "土豆炖" could be a delta after "土豆": held back one event, until "土豆炖猪脚" settles it
    assert deltas == ["土豆", "", "炖猪脚", ""]
    assert stream.completion.text == "土豆炖猪脚"


def test_cumulative_when_asked_for_is_diffed_silently(make_client) -> None:
    body = sse(result("a"), result("ab"), result("abc", finish="stop"))
    client, _ = make_client(stream_of(body))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        stream = client.stream("x", incremental_output=False)
        assert [c.delta for c in stream] == ["a", "b", "c"]


def test_incremental_deltas_that_start_like_the_text_are_not_diffed(make_client) -> None:
    # the second delta does not repeat the first, so the stream is incremental from then on
    body = sse(result("Hel"), result("lo"), result("Hello again"), result("", finish="stop"))
    client, _ = make_client(stream_of(body))
    stream = client.stream("x")
    assert [c.delta for c in stream] == ["Hel", "lo", "Hello again", ""]
    assert stream.completion.text == "HelloHello again"


# -- citations ----------------------------------------------------------------------------------


def test_citation_marker_split_across_events(make_client) -> None:
    refs = [{"index_id": "1", "doc_id": "d1", "title": "Storage", "text": "..."}]
    body = sse(
        result("Milvus Lite keeps data"),
        result(" in a local folder<ref>[1]</", doc_references=refs),
        result("ref>.", doc_references=refs),
        result("", finish="stop", doc_references=refs),
    )
    client, _ = make_client(stream_of(body))
    stream = client.stream("where?")
    deltas = [c.delta for c in stream]
    assert deltas == ["Milvus Lite keeps data", " in a local folder<ref>[1]</", "ref>.", ""]
    completion = stream.completion
    assert completion.text == "Milvus Lite keeps data in a local folder<ref>[1]</ref>."
    assert completion.citations == ["1"]
    assert [r.index_id for r in completion.doc_references] == ["1"]


# -- usage ----------------------------------------------------------------------------------------


def test_usage_is_the_last_value_never_a_sum(make_client) -> None:
    client, _ = make_client(stream_of(incremental_stream(["a", "b", "c", "d"])))
    stream = client.stream("x")
    list(stream)
    assert stream.completion.usage.output_tokens == 4
    assert stream.completion.usage.input_tokens == 10


def test_empty_usage(make_client) -> None:
    body = sse(result("a", usage={}), result("", finish="stop", usage={}))
    client, _ = make_client(stream_of(body))
    stream = client.stream("x")
    list(stream)
    assert stream.completion.usage.models == []
    assert stream.completion.usage.total_tokens == 0


# -- errors ---------------------------------------------------------------------------------------


def test_error_event_mid_stream_after_the_deltas(make_client) -> None:
    error = {
        "request_id": "req-e",
        "code": "DataInspectionFailed",
        "message": "Output data may ...",
    }
    body = sse(result("first"), result(" second")) + event(error, name="error", id=3, status=400)
    client, recorder = make_client(stream_of(body))
    got = []
    with pytest.raises(BadRequestError) as caught:
        for chunk in client.stream("x"):
            got.append(chunk.delta)
    assert got == ["first", " second"]
    assert caught.value.code == "DataInspectionFailed"
    assert caught.value.status_code == 400  # from the :HTTP_STATUS comment
    assert caught.value.request_id == "req-e"
    assert len(recorder.requests) == 1  # never retried after the first byte


async def test_error_event_mid_stream_async(make_client) -> None:
    error = {"request_id": "req-e", "code": "Throttling.AllocationQuota", "message": "TPM"}
    body = sse(result("first")) + event(error, name="error", id=2, status=429)
    client, recorder = make_client(stream_of(body))
    got = []
    with pytest.raises(RateLimitError):
        async for chunk in client.astream("x"):
            got.append(chunk.delta)
    assert got == ["first"]
    assert len(recorder.requests) == 1


def test_billing_429_mid_stream_is_not_throttling(make_client) -> None:
    error = {"code": "PrepaidBillOverdue", "message": "Bill overdue."}
    body = sse(result("a")) + event(error, name="error", id=2, status=429)
    client, _ = make_client(stream_of(body))
    with pytest.raises(PermissionDeniedError) as caught:
        list(client.stream("x"))
    assert not caught.value.retryable


def test_non_2xx_sse_body(make_client) -> None:
    error = {"code": "Arrearage", "message": "Access denied, account overdue.", "type": "Arrearage"}
    body = event(error, name="error", status=400)
    client, recorder = make_client(stream_of(body, status=400, **{"x-request-id": "hdr-9"}))
    with pytest.raises(PermissionDeniedError) as caught:
        list(client.stream("x"))
    assert caught.value.code == "Arrearage"
    assert caught.value.status_code == 400
    assert caught.value.request_id == "hdr-9"
    assert len(recorder.requests) == 1


def test_json_error_before_the_stream(make_client) -> None:
    body = {"code": "InvalidParameter", "message": 'Either "prompt" or "messages" must exist'}
    client, recorder = make_client(respond(400, body, **JSON_HEADERS))
    with pytest.raises(BadRequestError, match="prompt"):
        list(client.stream("x"))
    assert len(recorder.requests) == 1


def test_eof_without_stop_event_is_interrupted(make_client) -> None:
    client, _ = make_client(stream_of(sse(result("a"), result("b"))))
    got = []
    with pytest.raises(StreamInterruptedError, match="without a final"):
        for chunk in client.stream("x"):
            got.append(chunk.delta)
    assert got == ["a", "b"]


def test_connection_drop_mid_stream_is_interrupted(make_client) -> None:
    def body():
        yield event(result("a"))
        raise httpx.RemoteProtocolError("peer closed connection without sending complete message")

    client, recorder = make_client(lambda: httpx.Response(200, headers=SSE_HEADERS, content=body()))
    got = []
    with pytest.raises(StreamInterruptedError, match="broke off"):
        for chunk in client.stream("x"):
            got.append(chunk.delta)
    assert got == ["a"]
    assert len(recorder.requests) == 1


def test_read_timeout_mid_stream(make_client) -> None:
    def body():
        yield event(result("a"))
        raise httpx.ReadTimeout("timed out")

    client, recorder = make_client(lambda: httpx.Response(200, headers=SSE_HEADERS, content=body()))
    got = []
    with pytest.raises(APITimeoutError, match="stalled"):
        for chunk in client.stream("x"):
            got.append(chunk.delta)
    assert got == ["a"]
    assert len(recorder.requests) == 1


def _loopback_server(
    chunks: list[bytes], pause: float, sent: list[float]
) -> tuple[str, threading.Thread]:
    """A loopback HTTP/1.1 server: one chunked SSE answer, pausing ``pause`` s after each chunk."""
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]

    def serve() -> None:
        conn, _ = listener.accept()
        with conn, listener:
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            conn.recv(65536)
            conn.sendall(
                b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream;charset=UTF-8\r\n"
                b"transfer-encoding: chunked\r\n\r\n"
            )
            for chunk in chunks:
                sent.append(time.perf_counter())
                conn.sendall(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
                time.sleep(pause)
            conn.sendall(b"0\r\n\r\n")

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    return f"http://127.0.0.1:{port}/api/v1", thread


def test_deltas_arrive_per_event_over_a_real_socket(capsys) -> None:
    chunks = [event(result(w), id=i) for i, w in enumerate(["one", " two"], 1)]
    chunks.append(event(result("", finish="stop"), id=3))
    sent: list[float] = []
    base_url, thread = _loopback_server(chunks, PAUSE, sent)
    with BailianAppClient(APP_ID, api_key=API_KEY, base_url=base_url) as client:
        received = [(c.delta, time.perf_counter()) for c in client.stream("count")]
    thread.join(5)
    assert [d for d, _ in received] == ["one", " two", ""]
    latency = received[0][1] - sent[0]
    _report("loopback TCP", latency, capsys)
    assert latency < PAUSE / 3


def test_read_timeout_is_the_idle_time_between_reads_on_a_real_socket() -> None:
    base_url, thread = _loopback_server([event(result("a"))], pause=1.5, sent=[])
    client = BailianAppClient(APP_ID, api_key=API_KEY, base_url=base_url, timeout=0.3)
    got = []
    started = time.perf_counter()
    with pytest.raises(APITimeoutError):
        for chunk in client.stream("x"):
            got.append(chunk.delta)
    assert got == ["a"]
    assert time.perf_counter() - started < 1.2
    client.close()
    thread.join(2)


# -- odd but valid answers ----------------------------------------------------------------------


def test_json_answer_to_a_stream_request(make_client) -> None:
    client, _ = make_client(respond(200, result("whole", finish="stop"), **JSON_HEADERS))
    stream = client.stream("x")
    chunks = list(stream)
    assert [(c.delta, c.done) for c in chunks] == [("whole", True)]
    assert stream.completion.text == "whole"


def _tracked(responses: list[httpx.Response], body: bytes):
    def make() -> httpx.Response:
        response = httpx.Response(200, headers=SSE_HEADERS, content=body)
        responses.append(response)
        return response

    return make


def test_leaving_early_closes_the_response(make_client) -> None:
    responses: list[httpx.Response] = []
    body = sse(result("a"), result("b"), result("", finish="stop"))
    client, _ = make_client(_tracked(responses, body))
    with client.stream("x") as stream:
        for chunk in stream:
            assert chunk.delta == "a"
            break
    assert responses[0].is_closed


async def test_async_leaving_early_closes_the_response(make_client) -> None:
    responses: list[httpx.Response] = []
    body = sse(result("a"), result("b"), result("", finish="stop"))
    client, _ = make_client(_tracked(responses, body))
    async with client.astream("x") as stream:
        async for chunk in stream:
            assert chunk.delta == "a"
            break
    assert responses[0].is_closed
