"""Concurrent first uses of a cold retriever describe its pipeline once (issue 9, item 3).

``DescribedPipelines`` is single-flight: async callers share one in-flight describe per pipeline
and event loop, sync callers queue on a lock per pipeline; a failed describe is not remembered.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from langchain_zilliz_bailian import ZillizPipelineRetriever
from langchain_zilliz_bailian.errors import APIConnectionError
from tests.fakes.zilliz import describe_path, described, ok

PIPE = "pipe-6ca5dd1b4672659d3c3487"
HITS = [{"id": 1, "distance": 0.9, "chunk_text": "Milvus Lite stores data locally."}]
N = 40


class Counting:
    """Answers describes (slowly, so first uses overlap) and searches; counts both."""

    def __init__(self, *, fail_first: int = 0, describe_s: float = 0.05) -> None:
        self.describe_s = describe_s
        self.describes = 0
        self.searches = 0
        self.fail_first = fail_first
        self._lock = threading.Lock()

    def answer(self, request: httpx.Request) -> httpx.Response:
        with self._lock:
            if describe_path(request) is not None:
                self.describes += 1
                if self.describes <= self.fail_first:
                    raise httpx.ReadError("connection reset")
                return described(PIPE, "SEARCH")
            self.searches += 1
        return ok({"result": HITS})

    def sync_client(self) -> httpx.Client:
        def handler(request: httpx.Request) -> httpx.Response:
            if describe_path(request) is not None:
                time.sleep(self.describe_s)
            return self.answer(request)

        return httpx.Client(transport=httpx.MockTransport(handler))

    def async_client(self) -> httpx.AsyncClient:
        async def handler(request: httpx.Request) -> httpx.Response:
            await request.aread()
            if describe_path(request) is not None:
                await asyncio.sleep(self.describe_s)
            return self.answer(request)

        return httpx.AsyncClient(transport=httpx.MockTransport(handler))


def langchain_retriever(server: Counting) -> ZillizPipelineRetriever:
    return ZillizPipelineRetriever(
        pipeline_id=PIPE,
        api_key="zk-1",
        base_url="https://zilliz.example.test",
        max_retries=0,
        http_client=server.sync_client(),
        http_async_client=server.async_client(),
    )


def llama_retriever(server: Counting) -> Any:
    from llama_index_ext import ZillizPipelineRetriever as LlamaRetriever

    return LlamaRetriever(
        PIPE,
        api_key="zk-1",
        base_url="https://zilliz.example.test",
        max_retries=0,
        http_client=server.sync_client(),
        http_async_client=server.async_client(),
    )


async def test_concurrent_ainvokes_on_a_cold_langchain_retriever_describe_once() -> None:
    server = Counting()
    retriever = langchain_retriever(server)
    results = await asyncio.gather(*(retriever.ainvoke(f"q{i}") for i in range(N)))
    assert all(len(docs) == 1 for docs in results)
    assert (server.describes, server.searches) == (1, N)


async def test_concurrent_aretrieves_on_a_cold_llama_index_retriever_describe_once() -> None:
    server = Counting()
    retriever = llama_retriever(server)
    results = await asyncio.gather(*(retriever.aretrieve(f"q{i}") for i in range(N)))
    assert all(len(nodes) == 1 for nodes in results)
    assert (server.describes, server.searches) == (1, N)


@pytest.mark.parametrize("make", [langchain_retriever, llama_retriever], ids=["lc", "llama"])
def test_concurrent_sync_first_calls_describe_once(make: Callable[[Counting], Any]) -> None:
    server = Counting()
    retriever = make(server)
    call = retriever.invoke if hasattr(retriever, "invoke") else retriever.retrieve
    barrier = threading.Barrier(8)
    errors: list[BaseException] = []

    def run() -> None:
        barrier.wait()
        try:
            assert len(call("q")) == 1
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert errors == []
    assert (server.describes, server.searches) == (1, 8)


async def test_a_failed_describe_is_shared_then_tried_again() -> None:
    # A describe long enough for every caller to join it (a late one would describe again).
    server = Counting(fail_first=1, describe_s=1.0)
    retriever = langchain_retriever(server)
    results = await asyncio.gather(
        *(retriever.ainvoke("q") for _ in range(5)), return_exceptions=True
    )
    assert all(isinstance(r, APIConnectionError) for r in results)  # all waited on the one call
    assert server.describes == 1
    assert len(await retriever.ainvoke("q")) == 1  # not remembered: described again
    assert (server.describes, server.searches) == (2, 1)


def test_a_failed_sync_describe_is_tried_again() -> None:
    server = Counting(fail_first=1)
    retriever = langchain_retriever(server)
    with pytest.raises(APIConnectionError):
        retriever.invoke("q")
    assert len(retriever.invoke("q")) == 1
    assert (server.describes, server.searches) == (2, 1)


async def test_a_cancelled_waiter_does_not_cancel_the_describe_for_the_others() -> None:
    server = Counting()
    retriever = langchain_retriever(server)
    first = asyncio.ensure_future(retriever.ainvoke("q"))
    others = [asyncio.ensure_future(retriever.ainvoke("q")) for _ in range(3)]
    await asyncio.sleep(0.01)
    first.cancel()
    assert all(len(docs) == 1 for docs in await asyncio.gather(*others))
    assert (server.describes, server.searches) == (1, 3)


def test_describes_in_two_event_loops_do_not_mix() -> None:
    server = Counting()
    retriever = langchain_retriever(server)
    assert len(asyncio.run(retriever.ainvoke("q"))) == 1
    assert len(asyncio.run(retriever.ainvoke("q"))) == 1  # known by then: no second describe
    assert (server.describes, server.searches) == (1, 2)
