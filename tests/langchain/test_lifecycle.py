"""Every LangChain class that owns a client closes it: ``close``/``aclose``, ``with`` and
``async with`` (issue 9); the object stays usable afterwards and reopens its pool on demand."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from langchain_zilliz_bailian import (
    BailianAppLLM,
    ChatBailianApp,
    ZillizPipelineLoader,
    ZillizPipelineRetriever,
)
from tests.fakes.bailian import API_KEY, APP_ID
from tests.fakes.zilliz import Script, assert_closes_its_client, ok

PIPE = "pipe-0123456789abcdef012345"
ZILLIZ: dict[str, Any] = {"api_key": "zk-1", "base_url": "https://zilliz.example.test"}

MAKERS: dict[str, Callable[[], Any]] = {
    "retriever": lambda: ZillizPipelineRetriever(pipeline_id=PIPE, **ZILLIZ),
    "loader": lambda: ZillizPipelineLoader(PIPE, texts=["a"], **ZILLIZ),
    "chat": lambda: ChatBailianApp(app_id=APP_ID, api_key=API_KEY),
    "llm": lambda: BailianAppLLM(app_id=APP_ID, api_key=API_KEY),
}


@pytest.mark.parametrize("kind", MAKERS)
async def test_close_aclose_with_and_async_with_close_the_client(kind: str, monkeypatch) -> None:
    await assert_closes_its_client(monkeypatch, MAKERS[kind], lazy=kind != "loader")


async def test_a_closed_retriever_searches_again() -> None:
    script = Script([ok({"result": [{"id": 1, "distance": 0.5, "text": "x"}]})])
    retriever = ZillizPipelineRetriever(
        pipeline_id=PIPE,
        content_field="text",
        http_client=script.sync_client(),
        http_async_client=script.async_client(),
        **ZILLIZ,
    )
    async with retriever:
        assert [d.page_content for d in await retriever.ainvoke("q")] == ["x"]
    with retriever:
        assert [d.page_content for d in retriever.invoke("q")] == ["x"]
    assert [d.page_content for d in retriever.invoke("q")] == ["x"]
