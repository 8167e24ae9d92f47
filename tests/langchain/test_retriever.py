"""ZillizPipelineRetriever over a scripted transport: mapping, per-call overrides, async, chains."""

from __future__ import annotations

import warnings
from typing import Any

import httpx
import pytest
from langchain_core.documents import Document
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage
from langchain_core.output_parsers import StrOutputParser
from langchain_core.prompts import ChatPromptTemplate
from langchain_core.runnables import Runnable, RunnableLambda, RunnablePassthrough
from langchain_core.tools import create_retriever_tool

from langchain_zilliz_bailian import ZillizPipelineRetriever
from langchain_zilliz_bailian.errors import (
    APIConnectionError,
    EndpointUnavailableError,
    InsecureBaseURLWarning,
    InvalidInputError,
)
from tests.fakes.zilliz import Script, ok

PIPE = "pipe-6ca5dd1b4672659d3c3487"
DESCRIBE = ok(
    {
        "pipelineId": PIPE,
        "type": "SEARCH",
        "status": "SERVING",
        "functions": [{"action": "SEARCH_DOC_CHUNK", "inputFields": ["query_text"]}],
    }
)
HITS = [
    {
        "id": 448986959321277978,
        "distance": "0.91",
        "chunk_text": "Milvus Lite stores data locally.",
        "chunk_id": 3,
        "doc_name": "lite.md",
    },
    {
        "id": 448986959321277979,
        "distance": 0.8,
        "chunk_text": "Pipelines embed text.",
        "chunk_id": 1,
        "doc_name": "pipelines.md",
    },
]


def make(script: Script, **kwargs) -> ZillizPipelineRetriever:
    return ZillizPipelineRetriever(
        pipeline_id=PIPE,
        api_key="zk-1",
        base_url="https://zilliz.example.test",
        http_client=script.sync_client(),
        http_async_client=script.async_client(),
        **kwargs,
    )


def test_hits_become_documents():
    script = Script([DESCRIBE, ok({"result": HITS, "usage": {"embedding": 4}})])
    docs = make(script).invoke("where is data stored?")
    assert docs == [
        Document(
            page_content="Milvus Lite stores data locally.",
            metadata={
                "id": "448986959321277978",
                "distance": 0.91,
                "chunk_id": 3,
                "doc_name": "lite.md",
            },
        ),
        Document(
            page_content="Pipelines embed text.",
            metadata={
                "id": "448986959321277979",
                "distance": 0.8,
                "chunk_id": 1,
                "doc_name": "pipelines.md",
            },
        ),
    ]


def test_describe_happens_once():
    script = Script([DESCRIBE, ok({"result": HITS})])
    retriever = make(script)
    retriever.invoke("a")
    retriever.invoke("b")
    assert [r.method for r in script.requests] == ["GET", "POST", "POST"]


def test_content_field_override_skips_describe():
    script = Script([ok({"result": [{"id": 1, "distance": 1, "body": "B"}]})])
    docs = make(script, content_field="body").invoke("q")
    assert docs[0].page_content == "B"
    assert [r.method for r in script.requests] == ["POST"]


def test_constructor_settings_are_sent():
    script = Script([DESCRIBE, ok({"result": HITS})])
    make(script, k=7, offset=2, filter='doc_name == "lite.md"', output_fields=["year"]).invoke("q")
    assert script.bodies()[1]["params"] == {
        "limit": 7,
        "offset": 2,
        "outputFields": ["year"],
        "filter": 'doc_name == "lite.md"',
    }


def test_per_call_overrides():
    script = Script([DESCRIBE, ok({"result": HITS})])
    make(script, k=7).invoke("q", k=1, filter="year >= 2024", offset=3)
    assert script.bodies()[1]["params"] == {
        "limit": 1,
        "offset": 3,
        "outputFields": [],
        "filter": "year >= 2024",
    }


async def test_ainvoke_is_native_async_and_takes_the_same_overrides():
    script = Script([DESCRIBE, ok({"result": HITS})])

    def no_sync(request):
        raise AssertionError("the sync client must not be used by ainvoke")

    retriever = ZillizPipelineRetriever(
        pipeline_id=PIPE,
        api_key="zk-1",
        base_url="https://zilliz.example.test",
        http_client=httpx.Client(transport=httpx.MockTransport(no_sync)),
        http_async_client=script.async_client(),
    )
    docs = await retriever.ainvoke("q", k=1, filter="year >= 2024", offset=3)
    assert len(docs) == 2  # what the server returned
    assert script.bodies()[1]["params"]["limit"] == 1


def test_image_query_type_sends_query_image_url():
    script = Script([ok({"result": [{"id": "img-1", "distance": 0.2, "image_title": "cat"}]})])
    docs = make(script, query_type="image_url", content_field="image_title").invoke(
        "https://x.test/c.png"
    )
    assert script.bodies()[0]["data"] == {"query_image_url": "https://x.test/c.png"}
    assert docs[0].page_content == "cat" and docs[0].metadata["id"] == "img-1"


def test_env_configuration(monkeypatch):
    monkeypatch.setenv("ZILLIZ_CLOUD_API_KEY", "zk-env")
    monkeypatch.setenv("ZILLIZ_CLOUD_REGION", "ali-cn-hangzhou")
    monkeypatch.delenv("ZILLIZ_PIPELINES_BASE_URL", raising=False)
    retriever = ZillizPipelineRetriever(pipeline_id=PIPE)
    assert retriever.api_key is not None and retriever.api_key.get_secret_value() == "zk-env"
    assert retriever.client.base_url == "https://controller.api.ali-cn-hangzhou.zillizcloud.com"
    monkeypatch.setenv("ZILLIZ_PIPELINES_BASE_URL", "http://127.0.0.1:8765")
    assert ZillizPipelineRetriever(pipeline_id=PIPE).client.base_url == "http://127.0.0.1:8765"


@pytest.mark.parametrize(
    "kwargs",
    [
        {"pipeline_id": "pipe-../../admin"},
        {"pipeline_id": "pipe-x/y"},
        {"pipeline_id": "not-a-pipe"},
        {"pipeline_id": PIPE, "k": 0},
        {"pipeline_id": PIPE, "k": 501},
        {"pipeline_id": PIPE, "k": 500, "offset": 600},
    ],
)
def test_bad_configuration_fails_at_construction(kwargs):
    with pytest.raises(InvalidInputError):
        ZillizPipelineRetriever(api_key="k", **kwargs)


@pytest.mark.parametrize("region", ["evil.com/x", "gcp-us-west1.attacker.io#", "UPPER", "a b"])
def test_region_cannot_move_the_request(region):
    with pytest.raises(InvalidInputError, match="cloud_region"):  # refused before any request
        ZillizPipelineRetriever(pipeline_id=PIPE, api_key="k", cloud_region=region)


def test_plain_http_off_loopback_warns_and_loopback_does_not():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ZillizPipelineRetriever(
            pipeline_id=PIPE, api_key="k", base_url="http://10.0.0.5:8765"
        ).client
        ZillizPipelineRetriever(
            pipeline_id=PIPE, api_key="k", base_url="http://127.0.0.1:8765"
        ).client
        ZillizPipelineRetriever(
            pipeline_id=PIPE, api_key="k", base_url="http://localhost:8765"
        ).client
    assert [type(w.message) for w in caught] == [InsecureBaseURLWarning]


def test_refused_connection_on_the_cloud_host_explains_the_shutdown():
    def refuse(request):
        raise httpx.ConnectError("[Errno 111] Connection refused", request=request)

    retriever = ZillizPipelineRetriever(
        pipeline_id=PIPE,
        api_key="k",
        max_retries=0,
        http_client=httpx.Client(transport=httpx.MockTransport(refuse)),
    )
    with pytest.raises(EndpointUnavailableError) as info:
        retriever.invoke("q")
    assert isinstance(info.value, APIConnectionError)
    message = str(info.value)
    assert "discontinued" in message and "zilliz-bailian serve" in message
    assert "controller.api.gcp-us-west1.zillizcloud.com" in message


def test_in_an_lcel_rag_chain():
    script = Script([DESCRIBE, ok({"result": HITS})])
    seen = []

    def fake_llm(prompt_value):
        seen.append(prompt_value.to_string())
        return AIMessage(content="Locally, in a folder.")

    def join(docs: list[Document]) -> str:
        return "\n".join(d.page_content for d in docs)

    prompt = ChatPromptTemplate.from_template("Context:\n{context}\n\nQuestion: {question}")
    chain: Runnable[Any, str] = (
        {
            "context": make(script) | RunnableLambda(join),
            "question": RunnablePassthrough(),
        }
        | prompt
        | RunnableLambda(fake_llm)
        | StrOutputParser()
    )
    assert chain.invoke("where is data stored?") == "Locally, in a folder."
    assert "Milvus Lite stores data locally." in seen[0]
    assert "Question: where is data stored?" in seen[0]


def test_as_a_retriever_tool():
    script = Script([DESCRIBE, ok({"result": HITS})])
    tool = create_retriever_tool(make(script), "search_docs", "Search the product docs.")
    output = tool.invoke({"query": "storage"})
    assert "Milvus Lite stores data locally." in output
    assert "Pipelines embed text." in output


class ToolCallingFake(GenericFakeChatModel):
    def bind_tools(self, tools, **kwargs):
        return self


def test_used_by_an_agent():
    from langchain.agents import create_agent

    script = Script([DESCRIBE, ok({"result": HITS})])
    tool = make(script).as_tool(name="search_docs", description="Search the product docs.")
    model = ToolCallingFake(
        messages=iter(
            [
                AIMessage(
                    content="",
                    tool_calls=[{"name": "search_docs", "args": {"input": "storage"}, "id": "c1"}],
                ),
                AIMessage(content="It is stored locally."),
            ]
        )
    )
    agent: Runnable[Any, Any] = create_agent(model, tools=[tool])
    result = agent.invoke({"messages": [("user", "Where is data stored?")]})
    tool_messages = [m for m in result["messages"] if m.type == "tool"]
    assert "Milvus Lite stores data locally." in str(tool_messages[0].content)
    assert result["messages"][-1].content == "It is stored locally."
    assert script.bodies()[1]["data"] == {"query_text": "storage"}
