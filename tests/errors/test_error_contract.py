"""One error contract, both frameworks: the same bad input raises the same typed error.

The LangChain classes are pydantic models and the LlamaIndex ones partly plain classes; pydantic
wraps a validator's ``InvalidInputError`` in its own ``ValidationError``, so each pair is fed the
same bad arguments here and must raise the same class, a ``ZillizBailianError``.
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Callable
from typing import Any, cast

import httpx
import pytest

from langchain_zilliz_bailian.chat_models import ChatBailianApp
from langchain_zilliz_bailian.document_loaders import ZillizPipelineLoader
from langchain_zilliz_bailian.errors import (
    AuthenticationError,
    InvalidInputError,
    NotFoundError,
    PartialBatchError,
    PipelineNotServingError,
    PipelineTypeError,
    ZillizBailianError,
)
from langchain_zilliz_bailian.llms import BailianAppLLM as LangChainLLM
from langchain_zilliz_bailian.retrievers import ZillizPipelineRetriever as LangChainRetriever
from langchain_zilliz_bailian.zilliz import ZillizPipelinesClient
from llama_index_ext import BailianAppLLM as LlamaLLM
from llama_index_ext import ZillizPipelineReader
from llama_index_ext import ZillizPipelineRetriever as LlamaRetriever
from tests.fakes.zilliz import Script, described, fail, ok

PIPE = "pipe-0123456789abcdef012345"
ZILLIZ: dict[str, Any] = {"api_key": "zk-1", "base_url": "https://zilliz.example.test"}
BAILIAN: dict[str, Any] = {"app_id": "app1", "api_key": "sk-1"}


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


#: Connection options every class takes: refused at construction, never at the first request.
CONNECTION = [
    {"timeout": "x"},
    {"timeout": 0},
    {"timeout": float("nan")},
    {"max_retries": -1},
    {"http_client": "x"},
    {"http_async_client": httpx.Client()},
    {"base_url": "ftp://host.example.test"},
]
RETRIEVERS = [
    *CONNECTION,
    {"cloud_region": "evil.com/x"},
    {"api_key": 123},
    {"output_fields": "year"},
    {"top_k": "3"},
    {"top_k": True},
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
    *CONNECTION,
    {"pipeline_id": "not-a-pipe"},
    {"pipeline_id": None},
    {"deletion_pipeline_id": "pipe-x/y"},
    {"batch_size": 0},
    {"max_concurrency": 0},
    {"cloud_region": "evil.com/x"},
    {"base_url": "ftp://zilliz.example.test"},
]
APPS = [
    *CONNECTION,
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


@pytest.mark.parametrize("bad", CONNECTION, ids=str)
def test_the_framework_free_clients_refuse_the_same_options(bad: dict[str, Any]) -> None:
    from langchain_zilliz_bailian.bailian import BailianAppClient

    with pytest.raises(InvalidInputError):
        ZillizPipelinesClient(**{**ZILLIZ, **bad})
    with pytest.raises(InvalidInputError):
        BailianAppClient("app1", **{"api_key": "sk-1", **bad})


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


@pytest.mark.parametrize("failing", ["describe", "first-run"])
@pytest.mark.parametrize("cause", list(CAUSES))
@pytest.mark.parametrize(("framework", "method"), LOADS)
async def test_an_ingestion_that_stores_nothing_raises_its_cause_with_the_unsent_items(
    framework: str, method: str, cause: str, failing: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ZILLIZ_CLOUD_API_KEY", raising=False)
    answer, expected = CAUSES[cause]
    described = {PIPE: "INGESTION"} if failing == "first-run" else {}
    script = Script([answer()] if answer is not None else [], pipelines=described)
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

    script = Script([answer], pipelines={PIPE: "INGESTION"})
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
    args: dict[str, Any] = {
        "name": "demo",
        "project_id": "proj-1",
        "cluster_id": "in03-1",
        "collection_name": "c",
    }
    with pytest.raises(AuthenticationError) as info:
        client.create_pipeline_set(**args)
    assert info.value.failed == names
    with pytest.raises(AuthenticationError) as async_info:
        await client.acreate_pipeline_set(**args)
    assert async_info.value.failed == names


# -- a pipeline of the wrong type fails before any run ---------------------------------------------

OTHER = "pipe-fedcba9876543210fedcba"


def clients(script: Script) -> dict[str, Any]:
    return {"http_client": script.sync_client(), "http_async_client": script.async_client()}


async def search(framework: str, mode: str, script: Script) -> object:
    """One query through either framework's retriever, sync or async."""
    if framework == "langchain":
        retriever: Any = LangChainRetriever(pipeline_id=PIPE, **ZILLIZ, **clients(script))
        return retriever.invoke("q") if mode == "sync" else await retriever.ainvoke("q")
    llama: Any = LlamaRetriever(PIPE, **ZILLIZ, **clients(script))
    return llama.retrieve("q") if mode == "sync" else await llama.aretrieve("q")


@pytest.mark.parametrize("actual", ["INGESTION", "DELETION"])
@pytest.mark.parametrize("mode", ["sync", "async"])
@pytest.mark.parametrize("framework", ["langchain", "llama_index"])
async def test_a_retriever_refuses_a_pipeline_that_is_not_a_search_one(
    framework: str, mode: str, actual: str
) -> None:
    script = Script([ok({"result": []})], pipelines={PIPE: actual})
    with pytest.raises(PipelineTypeError) as info:
        await search(framework, mode, script)
    assert (info.value.expected, info.value.actual, info.value.pipeline_id) == (
        "SEARCH",
        actual,
        PIPE,
    )
    assert f"{PIPE} is of type {actual}, but SEARCH is expected" in str(info.value)
    assert script.requests == []  # described, never run


@pytest.mark.parametrize("actual", ["SEARCH", "DELETION"])
@pytest.mark.parametrize(("framework", "method"), LOADS)
async def test_a_loader_refuses_a_pipeline_that_is_not_an_ingestion_one(
    framework: str, method: str, actual: str
) -> None:
    script = Script([ok({"num_entities": 1, "ids": [1]})], pipelines={PIPE: actual})
    with pytest.raises(PipelineTypeError) as info:
        await drive(framework, method, writer(framework, script, "zk-1"))
    assert (info.value.expected, info.value.actual) == ("INGESTION", actual)
    assert info.value.failed == TEXTS  # nothing stored: the items ride on the error
    assert script.requests == []


@pytest.mark.parametrize("actual", ["SEARCH", "INGESTION"])
@pytest.mark.parametrize("mode", ["sync", "async"])
@pytest.mark.parametrize("framework", ["langchain", "llama_index"])
@pytest.mark.parametrize("given", ["deletion_pipeline_id", "per-call pipeline_id"])
async def test_deleting_refuses_a_pipeline_that_is_not_a_deletion_one(
    framework: str, mode: str, actual: str, given: str
) -> None:
    script = Script([ok({"num_deleted_entities": 1})], pipelines={OTHER: actual})
    target = writer(framework, script, "zk-1")
    call: dict[str, Any] = {"ids": [1]}
    if given == "deletion_pipeline_id":
        target.deletion_pipeline_id = OTHER
    else:
        call["pipeline_id"] = OTHER
    with pytest.raises(PipelineTypeError) as info:
        if mode == "sync":
            target.delete(**call)
        else:
            await target.adelete(**call)
    assert (info.value.expected, info.value.actual, info.value.pipeline_id) == (
        "DELETION",
        actual,
        OTHER,
    )
    assert script.requests == []


@pytest.mark.parametrize("framework", ["langchain", "llama_index"])
async def test_each_pipeline_is_described_once_per_loader(framework: str) -> None:
    def store(request: httpx.Request) -> httpx.Response:
        data = json.loads(request.content)["data"]
        if "text_list" not in data:
            return ok({"num_deleted_entities": 1})
        return ok({"num_entities": 1, "ids": list(range(len(data["text_list"])))})

    script = Script([store], pipelines={PIPE: "INGESTION", OTHER: "DELETION"})
    target = writer(framework, script, "zk-1")
    for method in ("load", "aload") if framework == "langchain" else ("load_data", "aload_data"):
        await drive(framework, method, target)
    target.delete(ids=[1], pipeline_id=OTHER)
    await target.adelete(ids=[2], pipeline_id=OTHER)
    assert script.described == [PIPE, OTHER]


async def test_bad_delete_input_fails_before_the_describe_call() -> None:
    script = Script([], pipelines={OTHER: "DELETION"})
    for framework in ("langchain", "llama_index"):
        target = writer(framework, script, "zk-1")
        with pytest.raises(InvalidInputError, match="exactly one"):
            target.delete(ids=[1], expression="year > 1", pipeline_id=OTHER)
        with pytest.raises(InvalidInputError, match="exactly one"):
            await target.adelete(pipeline_id=OTHER)
    assert script.described == [] and script.requests == []


def test_the_type_is_read_from_the_action_when_describe_leaves_it_out() -> None:
    untyped = ok({"pipelineId": PIPE, "functions": [{"action": "INDEX_DOC"}]})
    script = Script([untyped, ok({"result": []})])
    with pytest.raises(PipelineTypeError, match="of type INGESTION, but SEARCH"):
        LangChainRetriever(pipeline_id=PIPE, **ZILLIZ, **clients(script)).invoke("q")
    unknown = ok({"pipelineId": PIPE, "status": "SERVING"})  # nothing to tell: not refused
    script = Script([unknown, ok({"result": []})])
    assert LangChainRetriever(pipeline_id=PIPE, **ZILLIZ, **clients(script)).invoke("q") == []


def test_a_loader_refuses_a_pipeline_that_is_not_serving_and_describes_it_again() -> None:
    script = Script([described(PIPE, "INGESTION", status="INDEXING")])
    loader = writer("langchain", script, "zk-1")
    with pytest.raises(PipelineNotServingError, match="INDEXING"):
        loader.load()
    script.answers = [described(PIPE, "INGESTION"), ok({"num_entities": 2, "ids": [1, 2]})]
    script.answers.append(ok({"num_entities": 1, "ids": [3]}))
    assert [d.metadata["id"] for d in loader.load()] == ["1", "2", "3"]


def test_pipeline_type_error_is_an_invalid_input_error_that_pickles() -> None:
    import pickle

    from langchain_zilliz_bailian import errors

    assert "PipelineTypeError" in errors.__all__
    error = PipelineTypeError(PIPE, "SEARCH", "INGESTION")
    error.failed = ["a"]
    copy = cast(PipelineTypeError, pickle.loads(pickle.dumps(error)))
    assert isinstance(copy, InvalidInputError) and isinstance(copy, ValueError)
    assert (copy.pipeline_id, copy.expected, copy.actual, copy.failed) == (
        PIPE,
        "SEARCH",
        "INGESTION",
        ["a"],
    )
    assert str(copy) == str(error)
