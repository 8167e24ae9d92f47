"""One error contract, both frameworks: the same bad input raises the same typed error.

The LangChain classes are pydantic models and the LlamaIndex ones partly plain classes; pydantic
wraps a validator's ``InvalidInputError`` in its own ``ValidationError``, so each pair is fed the
same bad arguments here and must raise the same class, a ``ZillizBailianError``.
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from langchain_zilliz_bailian.chat_models import ChatBailianApp
from langchain_zilliz_bailian.document_loaders import ZillizPipelineLoader
from langchain_zilliz_bailian.errors import (
    AuthenticationError,
    InvalidInputError,
    NotFoundError,
    PartialBatchError,
    ZillizBailianError,
)
from langchain_zilliz_bailian.llms import BailianAppLLM as LangChainLLM
from langchain_zilliz_bailian.retrievers import ZillizPipelineRetriever as LangChainRetriever
from llama_index_ext import BailianAppLLM as LlamaLLM
from llama_index_ext import ZillizPipelineReader
from langchain_zilliz_bailian.zilliz import ZillizPipelinesClient
from llama_index_ext import ZillizPipelineRetriever as LlamaRetriever
from tests.helpers import Script, fail, ok

PIPE = "pipe-0123456789abcdef012345"
ZILLIZ = {"api_key": "zk-1", "base_url": "https://zilliz.example.test"}
BAILIAN = {"app_id": "app1", "api_key": "sk-1"}


def langchain_retriever(top_k: int = 4, **kwargs: Any) -> object:
    return LangChainRetriever(**{**ZILLIZ, "pipeline_id": PIPE, "k": top_k, **kwargs})


def llama_retriever(top_k: int = 4, **kwargs: Any) -> object:
    return LlamaRetriever(**{**ZILLIZ, "pipeline_id": PIPE, "similarity_top_k": top_k, **kwargs})


def langchain_loader(**kwargs: Any) -> object:
    return ZillizPipelineLoader(**{**ZILLIZ, "pipeline_id": PIPE, "texts": ["a"], **kwargs})


def llama_reader(**kwargs: Any) -> object:
    return ZillizPipelineReader(**{**ZILLIZ, "pipeline_id": PIPE, **kwargs})


def langchain_chat(**kwargs: Any) -> object:
    return ChatBailianApp(**{**BAILIAN, **kwargs})


def langchain_llm(**kwargs: Any) -> object:
    return LangChainLLM(**{**BAILIAN, **kwargs})


def llama_llm(**kwargs: Any) -> object:
    return LlamaLLM(**{**BAILIAN, **kwargs})


RETRIEVERS = [
    {"pipeline_id": "not-a-pipe"},
    {"pipeline_id": "pipe-../../admin"},
    {"pipeline_id": 5},
    {"top_k": 0},
    {"top_k": 501},
    {"top_k": "many"},
    {"top_k": 500, "offset": 600},
    {"offset": -1},
]
WRITERS = [
    {"pipeline_id": "not-a-pipe"},
    {"pipeline_id": None},
    {"deletion_pipeline_id": "pipe-x/y"},
    {"batch_size": 0},
    {"max_concurrency": 0},
    {"cloud_region": "evil.com/x"},
    {"base_url": "ftp://zilliz.example.test"},
]
APPS = [
    {"app_id": ""},
    {"app_id": "../other"},
    {"workspace": "ws/../x"},
    {"base_url": "ftp://dashscope.example.test"},
    {"base_url": "https://dashscope.example.test/api/v1?x=1"},
    {"temperature": "hot"},
]
PAIRS = (
    [
        pytest.param(langchain_retriever, llama_retriever, bad, id=f"retriever-{bad}")
        for bad in RETRIEVERS
    ]
    + [pytest.param(langchain_loader, llama_reader, bad, id=f"loader-{bad}") for bad in WRITERS]
    + [pytest.param(langchain_chat, llama_llm, bad, id=f"chat-{bad}") for bad in APPS]
    + [pytest.param(langchain_llm, llama_llm, bad, id=f"llm-{bad}") for bad in APPS]
)


@pytest.mark.parametrize(("langchain", "llama_index", "bad"), PAIRS)
def test_the_same_bad_argument_raises_the_same_typed_error_in_both_frameworks(
    langchain: Any, llama_index: Any, bad: dict[str, Any]
) -> None:
    with pytest.raises(ZillizBailianError) as in_langchain:
        langchain(**bad)
    with pytest.raises(ZillizBailianError) as in_llama_index:
        llama_index(**bad)
    assert type(in_langchain.value) is type(in_llama_index.value) is InvalidInputError
    assert isinstance(in_langchain.value, ValueError)  # ``except ValueError`` keeps working


def test_a_validator_error_surfaces_as_raised_and_a_wrong_type_names_the_field() -> None:
    with pytest.raises(InvalidInputError, match=r"^Invalid pipeline_id 'nope'") as info:
        langchain_retriever(pipeline_id="nope")
    assert info.value.__suppress_context__  # no pydantic ValidationError printed under it
    with pytest.raises(InvalidInputError, match="ChatBailianApp.*temperature") as typed:
        langchain_chat(temperature="hot", api_key=12345)
    assert "api_key" in str(typed.value) and "12345" not in str(typed.value)  # no input echoed


# -- an ingestion that stores nothing raises its cause ---------------------------------------------

TEXTS = ["a", "b", "c"]
#: The first answer each cause gets (repeated for every later request).
CAUSES: dict[str, tuple[Callable[[], httpx.Response] | None, type[ZillizBailianError]]] = {
    "wrong-key": (lambda: fail(200, "The token is illegal."), AuthenticationError),
    "missing-key": (None, InvalidInputError),
    "no-such-pipeline": (lambda: fail(80020, "pipeline not found", status=404), NotFoundError),
}
#: (framework, method): how each entry point of the loader and the reader is driven.
LOADS = [
    ("langchain", "load"),
    ("langchain", "lazy_load"),
    ("langchain", "aload"),
    ("langchain", "alazy_load"),
    ("llama_index", "load_data"),
    ("llama_index", "lazy_load_data"),
    ("llama_index", "aload_data"),
    ("llama_index", "alazy_load_data"),
    ("llama_index", "aiter_data"),
]


def writer(framework: str, script: Script, api_key: str | None) -> Any:
    """The loader (its texts given up front) or the reader, on ``script``'s transports."""
    common: dict[str, Any] = {
        "api_key": api_key,
        "base_url": "https://zilliz.example.test",
        "batch_size": 2,
        "max_retries": 0,
        "http_client": script.sync_client(),
        "http_async_client": script.async_client(),
    }
    if framework == "langchain":
        return ZillizPipelineLoader(PIPE, texts=TEXTS, **common)
    return ZillizPipelineReader(PIPE, **common)


async def drive(framework: str, method: str, target: Any) -> list[Any]:
    """Call ``method`` and consume what it returns, sync or async, list or iterator."""
    args = {} if framework == "langchain" else {"texts": TEXTS}
    result = getattr(target, method)(**args)
    if inspect.isawaitable(result):
        result = await result
    if hasattr(result, "__aiter__"):
        return [item async for item in result]
    return list(result)


@pytest.mark.parametrize("cause", list(CAUSES))
@pytest.mark.parametrize(("framework", "method"), LOADS)
async def test_an_ingestion_that_stores_nothing_raises_its_cause_with_the_unsent_items(
    framework: str, method: str, cause: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ZILLIZ_CLOUD_API_KEY", raising=False)
    answer, expected = CAUSES[cause]
    script = Script([answer()] if answer is not None else [])
    target = writer(framework, script, None if answer is None else "zk-1")
    with pytest.raises(expected) as info:
        await drive(framework, method, target)
    error = info.value
    assert not isinstance(error, PartialBatchError)
    assert error.failed == TEXTS  # every item handed in, resendable as given
    assert [unit.items for unit in error.failed_units] == [("a", "b"), ("c",)]
    assert error.unknown_outcome == []  # a refused request certainly stored nothing


@pytest.mark.parametrize(("framework", "method"), LOADS)
async def test_an_ingestion_that_stored_something_raises_partial_batch_error(
    framework: str, method: str
) -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        if json.loads(request.content)["data"]["text_list"] == ["a", "b"]:
            return ok({"num_entities": 2, "ids": [1, 2]})
        return fail(200, "The token is illegal.")

    script = Script([answer])
    with pytest.raises(PartialBatchError) as info:
        await drive(framework, method, writer(framework, script, "zk-1"))
    assert [r["id"] for r in info.value.stored] == ["1", "2"]
    assert info.value.failed == ["c"]
    assert isinstance(info.value.cause, AuthenticationError)


async def test_a_pipeline_set_that_creates_nothing_raises_its_cause() -> None:
    script = Script([fail(200, "The token is illegal.")])
    client = ZillizPipelinesClient(
        api_key="zk-1",
        base_url="https://zilliz.example.test",
        http_client=script.sync_client(),
        http_async_client=script.async_client(),
    )
    names = ["demo_ingestion", "demo_search", "demo_deletion"]
    args = {"name": "demo", "project_id": "proj-1", "cluster_id": "in03-1", "collection_name": "c"}
    with pytest.raises(AuthenticationError) as info:
        client.create_pipeline_set(**args)
    assert info.value.failed == names
    with pytest.raises(AuthenticationError) as async_info:
        await client.acreate_pipeline_set(**args)
    assert async_info.value.failed == names
