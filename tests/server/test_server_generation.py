"""The OpenAI-compatible model client and the grounding of its prompt, against the scripted stub."""

from __future__ import annotations

import asyncio
import gzip
import time
import tracemalloc
from collections.abc import AsyncIterator

import httpx
import pytest
from pydantic import ValidationError

from langchain_zilliz_bailian.server import generation
from langchain_zilliz_bailian.server.answer import Passage
from langchain_zilliz_bailian.server.apps import ModelEndpoint
from langchain_zilliz_bailian.server.errors import BailianError
from langchain_zilliz_bailian.server.generation import ChatModelClient, ModelUsage, Reasoning
from langchain_zilliz_bailian.server.grounding import CitationMarkers, model_messages
from tests.fakes import openai_stub
from tests.fakes.openai_stub import KEY_VARIABLE, SECRET, Script, StubModel, free_port


def Endpoint(base_url: str, api_key_env: str | None = KEY_VARIABLE) -> ModelEndpoint:  # noqa: N802
    return ModelEndpoint(base_url=base_url, model="stub-model", api_key_env=api_key_env)


@pytest.fixture
async def client() -> AsyncIterator[ChatModelClient]:
    model_client = ChatModelClient()
    yield model_client
    await model_client.aclose()


Item = str | Reasoning | ModelUsage


async def collect(
    client: ChatModelClient, endpoint: ModelEndpoint, got: list[Item] | None = None
) -> list[Item]:
    """Everything the stream yields (into ``got`` as it comes, when given)."""
    items = [] if got is None else got
    async for item in client.stream(endpoint, [{"role": "user", "content": "Hi?"}]):
        items.append(item)
    return items


async def failure(client: ChatModelClient, endpoint: ModelEndpoint) -> BailianError:
    """The error the stream raises."""
    with pytest.raises(BailianError) as caught:
        await collect(client, endpoint)
    return caught.value


async def test_streams_deltas_then_the_usage(stub: StubModel, client: ChatModelClient) -> None:
    items = await collect(client, Endpoint(stub.base_url))
    assert items == ["Hello", " world", ".", ModelUsage("stub-model", 42, 7)]
    sent = stub.requests[0]
    assert sent["stream"] is True
    assert sent["stream_options"] == {"include_usage": True}
    assert sent["model"] == "stub-model"
    assert sent["messages"] == [{"role": "user", "content": "Hi?"}]
    assert stub.headers[0]["authorization"] == f"Bearer {SECRET}"


async def test_reasoning_comes_before_the_answer(stub: StubModel, client: ChatModelClient) -> None:
    stub.reset(Script(reasoning=["Think", "ing."], deltas=["Done."]))
    items = await collect(client, Endpoint(stub.base_url))
    assert items == [
        Reasoning("Think"),
        Reasoning("ing."),
        "Done.",
        ModelUsage("stub-model", 42, 7),
    ]


async def test_each_delta_is_yielded_when_it_arrives(
    stub: StubModel, client: ChatModelClient
) -> None:
    stub.reset(Script(deltas=["a", "b", "c"], delay_s=0.2))
    seen: list[float] = []
    async for item in client.stream(Endpoint(stub.base_url), [{"role": "user", "content": "x"}]):
        if isinstance(item, str):
            seen.append(time.perf_counter())
    assert len(seen) == 3
    stub.assert_relayed_live(seen)  # not after the whole stream (0.4 s later)


async def test_no_key_variable_sends_no_authorization(
    stub: StubModel, client: ChatModelClient
) -> None:
    await collect(client, Endpoint(stub.base_url, api_key_env=None))
    assert "authorization" not in stub.headers[0]


async def test_an_unset_key_variable_fails_before_any_request(
    stub: StubModel, client: ChatModelClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(KEY_VARIABLE)
    error = await failure(client, Endpoint(stub.base_url))
    assert error.code == "ModelServiceFailed"
    assert KEY_VARIABLE in error.message
    assert stub.requests == []


@pytest.mark.parametrize(("status", "code", "bailian_status"), openai_stub.ENDPOINT_STATUSES)
async def test_http_statuses_map_to_bailian_codes(
    stub: StubModel, client: ChatModelClient, status: int, code: str, bailian_status: int
) -> None:
    stub.reset(
        Script(status=status, error_body=f'{{"error":{{"message":"bad key {SECRET} given"}}}}')
    )
    error = await failure(client, Endpoint(stub.base_url))
    assert (error.code, error.status) == (code, bailian_status)
    assert f"HTTP {status}" in error.message
    assert SECRET not in error.message  # an echoed key is scrubbed
    assert "bad key *** given" in error.message


async def test_connection_refused(client: ChatModelClient) -> None:
    error = await failure(client, Endpoint(f"http://127.0.0.1:{free_port()}/v1", None))
    assert (error.code, error.status) == ("ModelUnavailable", 503)


async def test_an_idle_stream_times_out(stub: StubModel) -> None:
    stub.reset(Script(first_delay_s=1.0))
    impatient = ChatModelClient(timeout=httpx.Timeout(0.2))
    try:
        error = await failure(impatient, Endpoint(stub.base_url))
    finally:
        await impatient.aclose()
    assert (error.code, error.status) == ("InternalError.Timeout", 500)


@pytest.mark.parametrize(
    "script",
    [Script(malformed_after=1), Script(truncate_after=2)],
    ids=["not-json", "truncated"],
)
async def test_a_malformed_stream_fails_after_its_good_deltas(
    stub: StubModel, client: ChatModelClient, script: Script
) -> None:
    stub.reset(script)
    got: list[Item] = []
    with pytest.raises(BailianError) as caught:
        await collect(client, Endpoint(stub.base_url), got)
    assert got == script.deltas[: script.malformed_after or script.truncate_after]
    assert (caught.value.code, caught.value.status) == ("ModelServiceFailed", 500)
    assert "malformed model stream" in caught.value.message


async def test_a_stream_without_usage_or_done_still_ends(
    stub: StubModel, client: ChatModelClient
) -> None:
    stub.reset(Script(usage=None, send_done=False))
    assert await collect(client, Endpoint(stub.base_url)) == ["Hello", " world", "."]


async def test_usage_without_counts_is_dropped_not_fatal(
    stub: StubModel, client: ChatModelClient
) -> None:
    stub.reset(Script(usage=(None, None)))
    assert await collect(client, Endpoint(stub.base_url)) == ["Hello", " world", "."]


def mocked(transport: httpx.MockTransport, deadline_s: float = 300.0) -> ChatModelClient:
    return ChatModelClient(transport=transport, deadline_s=deadline_s)


async def _error_of(transport: httpx.MockTransport) -> BailianError:
    """The error a stream through ``transport`` raises."""
    model = mocked(transport)
    try:
        return await failure(model, Endpoint("http://model.test/v1", None))
    finally:
        await model.aclose()


async def test_a_huge_error_body_is_read_only_up_to_the_cap() -> None:
    sent: list[int] = []

    async def endless_error() -> AsyncIterator[bytes]:
        for _ in range(16 * 1024):  # 64 MiB of one error message, 4 KiB at a time
            sent.append(4096)
            yield b'{"error":{"message":"' if len(sent) == 1 else b"x" * 4096

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(500, content=endless_error())

    error = await _error_of(httpx.MockTransport(handler))
    assert sum(sent) <= generation.MAX_ERROR_BODY + 2 * 4096
    assert (error.code, error.status) == ("ModelServiceFailed", 500)
    assert len(error.message) < 400 and "HTTP 500" in error.message


def trickle(pieces: int, gap_s: float) -> httpx.MockTransport:
    """An endpoint sending one content delta every ``gap_s`` seconds, ``pieces`` times."""

    async def deltas() -> AsyncIterator[bytes]:
        for _ in range(pieces):
            yield openai_stub._chunk("stub-model", {"content": "a"})
            await asyncio.sleep(gap_s)
        yield b"data: [DONE]\n\n"

    def handler(request: httpx.Request) -> httpx.Response:
        headers = {"content-type": "text/event-stream"}
        return httpx.Response(200, content=deltas(), headers=headers)

    return httpx.MockTransport(handler)


async def test_a_trickling_stream_ends_at_the_deadline() -> None:
    model = mocked(trickle(10_000, 0.02), deadline_s=0.5)
    got: list[Item] = []
    started = time.perf_counter()
    try:
        with pytest.raises(BailianError) as caught:
            await collect(model, Endpoint("http://model.test/v1", None), got)
    finally:
        await model.aclose()
    elapsed = time.perf_counter() - started
    assert 0.5 <= elapsed < 3.0
    assert 0 < len(got) < 10_000  # the deltas before the deadline were passed on
    assert (caught.value.code, caught.value.status) == ("InternalError.Timeout", 500)
    assert "within 0.5 s" in caught.value.message


async def test_a_stream_within_the_deadline_is_whole() -> None:
    model = mocked(trickle(5, 0.02), deadline_s=5.0)
    try:
        assert await collect(model, Endpoint("http://model.test/v1", None)) == ["a"] * 5
    finally:
        await model.aclose()


async def test_an_endpoint_s_own_deadline_comes_before_the_client_s() -> None:
    model = mocked(trickle(500, 0.02), deadline_s=5.0)  # the client's own: a 10 s stream fails
    endpoint = ModelEndpoint(base_url="http://model.test/v1", model="stub-model", deadline_s=0.4)
    got: list[Item] = []
    try:
        with pytest.raises(BailianError) as caught:
            await collect(model, endpoint, got)
    finally:
        await model.aclose()
    assert 0 < len(got) < 500
    assert caught.value.code == "InternalError.Timeout"
    assert "within 0.4 s" in caught.value.message


@pytest.mark.parametrize("deadline_s", [0, -1, float("nan"), float("inf"), 86_401])
def test_an_endpoint_deadline_is_bounded(deadline_s: float) -> None:
    with pytest.raises(ValidationError, match="deadline_s"):
        ModelEndpoint(base_url="http://model.test/v1", model="m", deadline_s=deadline_s)


def test_the_deadline_must_be_positive() -> None:
    with pytest.raises(ValueError, match="deadline_s"):
        ChatModelClient(deadline_s=0)


def test_the_client_repr_shows_no_key() -> None:
    assert SECRET not in repr(ChatModelClient())


# -- grounding -------------------------------------------------------------------------------------


def test_messages_carry_prompt_numbered_passages_and_conversation() -> None:
    passages = [
        Passage("1", "Milvus Lite stores data in a local file.", "lite.md", "Storage", "d1", 0.9),
        Passage("2", "Zilliz Cloud is managed.", "cloud.md", "Cloud", "d2", 0.5),
    ]
    conversation = [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Where is data kept?"},
        {"role": "assistant", "content": "In a file."},
        {"role": "user", "content": "And where?"},
    ]
    messages = model_messages("You are the handbook bot.", passages, conversation)
    assert [m["role"] for m in messages] == ["system", "user", "assistant", "user"]
    system = messages[0]["content"]
    assert system.startswith("You are the handbook bot.\n\nBe brief.")
    assert "[1] Storage\nMilvus Lite stores data in a local file." in system
    assert "[2] Cloud\nZilliz Cloud is managed." in system
    assert "[1]" in system and "cite" in system
    assert messages[-1] == {"role": "user", "content": "And where?"}


def test_no_prompt_and_no_passages_send_the_conversation_alone() -> None:
    assert model_messages(None, [], [{"role": "user", "content": "Hi"}]) == [
        {"role": "user", "content": "Hi"}
    ]


def rewrite(
    pieces: list[str], numbers: tuple[str, ...] = ("1", "2", "12")
) -> tuple[str, list[str]]:
    markers = CitationMarkers(numbers)
    out = "".join(markers.feed(p) for p in pieces) + markers.flush()
    return out, markers.cited


def test_citations_become_markers_even_when_split_across_deltas() -> None:
    assert rewrite(["Kept in a file [", "1", "]. Also [1", "2] and [2]."]) == (
        "Kept in a file <ref>[1]</ref>. Also <ref>[12]</ref> and <ref>[2]</ref>.",
        ["1", "12", "2"],
    )


def test_unknown_numbers_brackets_and_existing_markers_are_left_alone() -> None:
    text, cited = rewrite(["a[7] b [x] c <ref>[", "1]</ref> d [", "2"])
    assert text == "a[7] b [x] c <ref>[1]</ref> d [2"
    assert cited == ["1"]


def test_text_without_brackets_is_never_held_back() -> None:
    markers = CitationMarkers(["1"])
    assert markers.feed("Hello ") == "Hello "
    assert markers.feed("[") == ""
    assert markers.feed("1] ok") == "<ref>[1]</ref> ok"


def test_without_passages_brackets_pass_at_once() -> None:
    markers = CitationMarkers([])
    assert markers.feed("a [") == "a ["
    assert markers.feed("1]") == "1]"
    assert markers.cited == []


def _error_response(body: bytes, encoding: str) -> httpx.MockTransport:
    """An endpoint answering 500 with ``body`` (sent in 16 KiB pieces) in ``encoding``."""

    async def pieces() -> AsyncIterator[bytes]:
        for start in range(0, len(body), 16 * 1024):
            yield body[start : start + 16 * 1024]

    def handler(request: httpx.Request) -> httpx.Response:
        assert request.headers["accept-encoding"] == "identity"
        return httpx.Response(500, content=pieces(), headers={"content-encoding": encoding})

    return httpx.MockTransport(handler)


async def test_a_compressed_error_body_is_decoded() -> None:
    body = gzip.compress(b'{"error": {"message": "model overloaded, retry later"}}')
    error = await _error_of(_error_response(body, "gzip"))
    assert "model overloaded, retry later" in error.message


async def test_a_compressed_error_body_inflates_only_up_to_the_cap() -> None:
    # 64 MiB of message in about 64 KiB on the wire: decoding it whole would take 64 MiB
    bomb = gzip.compress(b'{"error":{"message":"' + b"x" * (64 * 1024 * 1024) + b'"}}')
    transport = _error_response(bomb, "gzip")
    tracemalloc.start()
    try:
        error = await _error_of(transport)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 4 * 1024 * 1024, f"peak {peak:,} bytes"
    assert (error.code, error.status) == ("ModelServiceFailed", 500)
    assert len(error.message) < 400 and "xxxx" in error.message


@pytest.mark.parametrize("encoding", ["br", "gzip"])
async def test_an_error_body_that_cannot_be_decoded_is_named_not_shown(encoding: str) -> None:
    error = await _error_of(_error_response(b"\x00\x01 not compressed at all", encoding))
    assert f"an error body in {encoding} encoding" in error.message
