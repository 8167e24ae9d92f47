"""LlamaIndex classes that own a client close it (``close``/``aclose``, ``with``/``async with``);
the reader shows progress like the LangChain loader; the LLM honours ``total_timeout`` (issue 9)."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest

from langchain_zilliz_bailian.errors import APITimeoutError
from llama_index_ext import BailianAppLLM, ZillizPipelineReader, ZillizPipelineRetriever
from tests.fakes.bailian import API_KEY, APP_ID, event, result
from tests.fakes.zilliz import Script, assert_closes_its_client, ok

PIPE = "pipe-0123456789abcdef012345"
ZILLIZ: dict[str, Any] = {"api_key": "zk-1", "base_url": "https://zilliz.example.test"}

MAKERS: dict[str, Callable[[], Any]] = {
    "retriever": lambda: ZillizPipelineRetriever(PIPE, **ZILLIZ),
    "reader": lambda: ZillizPipelineReader(PIPE, **ZILLIZ),
    "llm": lambda: BailianAppLLM(app_id=APP_ID, api_key=API_KEY),
}


@pytest.mark.parametrize("kind", MAKERS)
async def test_close_aclose_with_and_async_with_close_the_client(kind: str, monkeypatch) -> None:
    await assert_closes_its_client(monkeypatch, MAKERS[kind], lazy=kind != "reader")


def store(request: httpx.Request) -> httpx.Response:
    texts = json.loads(request.content)["data"]["text_list"]
    return ok({"num_entities": len(texts), "ids": list(range(1, len(texts) + 1))})


@pytest.mark.parametrize("show_progress", [True, False])
def test_the_reader_shows_progress_like_the_loader(show_progress: bool, capsys) -> None:
    script = Script([store], pipelines={PIPE: "INGESTION"})
    reader = ZillizPipelineReader(
        PIPE, batch_size=2, show_progress=show_progress, http_client=script.sync_client(), **ZILLIZ
    )
    assert len(reader.load_data(texts=["a", "b", "c"])) == 3
    err = capsys.readouterr().err
    assert (f"Ingesting into {PIPE}" in err and "3/3" in err) is show_progress


# -- total_timeout --------------------------------------------------------------------------------


def slow_llm(total_timeout: float, handler: Any) -> BailianAppLLM:
    return BailianAppLLM(
        app_id=APP_ID,
        api_key=API_KEY,
        total_timeout=total_timeout,
        max_retries=0,
        http_async_client=httpx.AsyncClient(transport=httpx.MockTransport(handler)),
    )


def test_total_timeout_reaches_the_client() -> None:
    assert (
        BailianAppLLM(app_id=APP_ID, api_key=API_KEY, total_timeout=2.5).client.total_timeout == 2.5
    )
    assert (
        BailianAppLLM(app_id=APP_ID, api_key=API_KEY, total_timeout=None).client.total_timeout
        is None
    )


async def test_a_call_past_total_timeout_raises_api_timeout_error() -> None:
    async def answer_late(request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(5)
        return httpx.Response(200, json=result("late", finish="stop"))

    llm = slow_llm(0.4, answer_late)
    started = time.monotonic()
    with pytest.raises(APITimeoutError):
        await llm.acomplete("q")
    assert time.monotonic() - started < 0.4 + 0.5


async def test_a_stream_that_trickles_past_total_timeout_raises_api_timeout_error() -> None:
    async def trickle() -> AsyncIterator[bytes]:
        for n in range(1, 100):
            yield event(result("tok "), id=n)
            await asyncio.sleep(0.1)

    async def stream(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, headers={"content-type": "text/event-stream"}, content=trickle())

    llm = slow_llm(0.5, stream)
    started = time.monotonic()
    deltas: list[str] = []
    with pytest.raises(APITimeoutError):
        async for response in await llm.astream_complete("q"):
            deltas.append(response.delta or "")
    assert deltas  # it was streaming when the deadline struck
    assert time.monotonic() - started < 0.5 + 0.5
