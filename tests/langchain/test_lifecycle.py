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
from langchain_zilliz_bailian.bailian import BailianAppClient
from langchain_zilliz_bailian.zilliz import ZillizPipelinesClient
from tests.fakes.bailian import API_KEY, APP_ID
from tests.fakes.zilliz import Script, ok

PIPE = "pipe-0123456789abcdef012345"
ZILLIZ = {"api_key": "zk-1", "base_url": "https://zilliz.example.test"}

MAKERS: dict[str, Callable[[], Any]] = {
    "retriever": lambda: ZillizPipelineRetriever(pipeline_id=PIPE, **ZILLIZ),
    "loader": lambda: ZillizPipelineLoader(PIPE, texts=["a"], **ZILLIZ),
    "chat": lambda: ChatBailianApp(app_id=APP_ID, api_key=API_KEY),
    "llm": lambda: BailianAppLLM(app_id=APP_ID, api_key=API_KEY),
}


@pytest.fixture
def closed(monkeypatch) -> list[tuple[str, str]]:
    """Every ``close``/``aclose`` of a Zilliz or Bailian client, as (client class, method)."""
    calls: list[tuple[str, str]] = []
    for cls in (ZillizPipelinesClient, BailianAppClient):

        def close(self: Any, name: str = cls.__name__) -> None:
            calls.append((name, "close"))

        async def aclose(self: Any, name: str = cls.__name__) -> None:
            calls.append((name, "aclose"))

        monkeypatch.setattr(cls, "close", close)
        monkeypatch.setattr(cls, "aclose", aclose)
    return calls


@pytest.mark.parametrize("kind", MAKERS)
async def test_with_and_async_with_close_the_client(kind: str, closed) -> None:
    thing = MAKERS[kind]()
    client_class = type(thing.client).__name__  # connect (the Bailian and search clients lazily)
    with thing as entered:
        assert entered is thing
    async with thing as entered:
        assert entered is thing
    thing.close()
    await thing.aclose()
    assert closed == [(client_class, m) for m in ("close", "aclose", "close", "aclose")]


@pytest.mark.parametrize("kind", ["retriever", "chat", "llm"])
def test_closing_an_object_that_never_connected_builds_nothing(kind: str, closed) -> None:
    thing = MAKERS[kind]()
    with thing:
        pass
    assert closed == []


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
