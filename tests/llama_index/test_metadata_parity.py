"""One answer-metadata rule on both frameworks (issue 9): the same answer gives the same
metadata in LangChain's ``response_metadata`` / ``generation_info`` and LlamaIndex's
``additional_kwargs``, called or streamed (the rule: ``bailian/settings.py``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest

from langchain_zilliz_bailian import BailianAppLLM as LangChainLLM
from langchain_zilliz_bailian import ChatBailianApp
from langchain_zilliz_bailian.bailian.settings import answer_metadata
from llama_index_ext import BailianAppLLM as LlamaLLM
from llama_index_ext.llms import citation_kwargs
from tests.fakes.bailian import (
    API_KEY,
    APP_ID,
    JSON_HEADERS,
    SSE_HEADERS,
    Recorder,
    incremental_stream,
    respond,
    result,
)

THOUGHTS = [{"action_type": "reasoning", "thought": "..."}]
REFS = [{"index_id": "1", "doc_name": "a.md", "title": "A", "text": "alpha"}]
#: LlamaIndex's own citation keys (LangChain has them as content_blocks annotations).
CITATION_KEYS = {"citations", "text_without_markers"}
RULE = {"model_name", "app_id", "session_id", "request_id", "finish_reason", "doc_references"}


def clients(answer: Callable[[], httpx.Response]) -> dict[str, Any]:
    recorder = Recorder([answer])
    return {
        "http_client": httpx.Client(transport=httpx.MockTransport(recorder)),
        "http_async_client": httpx.AsyncClient(transport=httpx.MockTransport(recorder)),
    }


def called(**output: Any) -> Callable[[], httpx.Response]:
    return respond(200, result("An answer.", finish="stop", **output), **JSON_HEADERS)


def streamed(**output: Any) -> Callable[[], httpx.Response]:
    return respond(200, incremental_stream(["An ", "answer."], **output), **SSE_HEADERS)


def every_framework(
    answer: Callable[[], httpx.Response], *, streaming: bool, **fields: Any
) -> list[dict[str, Any]]:
    """The metadata of one answer as each class reports it (LangChain's own keys dropped)."""
    common = {"app_id": APP_ID, "api_key": API_KEY, "max_retries": 0, **fields}
    lc = {**common, "streaming": streaming}
    chat = ChatBailianApp(**clients(answer), **lc).invoke("q").response_metadata
    generation = LangChainLLM(**clients(answer), **lc).generate(["q"]).generations[0][0]
    llm_info = dict(generation.generation_info or {})
    llm_info.pop("usage_metadata")  # LangChain's typed usage, beside the rule's "usage"
    llama = LlamaLLM(**clients(answer), **common)
    last = list(llama.stream_complete("q"))[-1] if streaming else llama.complete("q")
    llama_chat = {k: v for k, v in last.additional_kwargs.items() if k not in CITATION_KEYS}
    chat = {key: chat[key] for key in llama_chat}  # LangChain adds token_usage, model_provider
    return [chat, llm_info, llama_chat]


@pytest.mark.parametrize("answer", [called, streamed], ids=["call", "stream"])
@pytest.mark.parametrize(
    ("output", "fields"),
    [
        ({"doc_references": REFS, "thoughts": THOUGHTS}, {}),  # thoughts sent, not asked for
        ({}, {"has_thoughts": True}),  # asked for, none sent
        ({}, {}),
    ],
    ids=["thoughts-sent", "thoughts-asked", "plain"],
)
def test_one_answer_one_metadata_on_both_frameworks(answer, output, fields) -> None:
    chat, llm, llama = every_framework(answer(**output), streaming=answer is streamed, **fields)
    assert chat == llm == llama
    assert RULE | {"usage"} <= set(llama)
    assert llama["app_id"] == APP_ID and llama["usage"]["total_tokens"] > 0
    assert ("thoughts" in llama) is bool(output or fields)
    assert llama["doc_references"] == [
        {**ref, "images": [], "page_number": []} for ref in output.get("doc_references", [])
    ]


def test_the_rule_is_the_core_function() -> None:
    """What the LlamaIndex LLM reports is exactly ``answer_metadata`` of its result, plus the
    citations as data."""
    llm = LlamaLLM(app_id=APP_ID, api_key=API_KEY, **clients(called(thoughts=THOUGHTS)))
    response = llm.complete("q")
    completion = llm.client.call("q")
    expected = {**answer_metadata(completion, app_id=APP_ID), **citation_kwargs(completion)}
    assert response.additional_kwargs == expected
