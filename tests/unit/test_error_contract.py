"""One error contract, both frameworks: the same bad input raises the same typed error.

The LangChain classes are pydantic models and the LlamaIndex ones partly plain classes; pydantic
wraps a validator's ``InvalidInputError`` in its own ``ValidationError``, so each pair is fed the
same bad arguments here and must raise the same class, a ``ZillizBailianError``.
"""

from __future__ import annotations

from typing import Any

import pytest

from langchain_zilliz_bailian.chat_models import ChatBailianApp
from langchain_zilliz_bailian.document_loaders import ZillizPipelineLoader
from langchain_zilliz_bailian.errors import InvalidInputError, ZillizBailianError
from langchain_zilliz_bailian.llms import BailianAppLLM as LangChainLLM
from langchain_zilliz_bailian.retrievers import ZillizPipelineRetriever as LangChainRetriever
from llama_index_ext import BailianAppLLM as LlamaLLM
from llama_index_ext import ZillizPipelineReader
from llama_index_ext import ZillizPipelineRetriever as LlamaRetriever

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
