"""Against the live local compatible server (loopback): native async end to end, real SSE."""

from __future__ import annotations

import pytest
from llama_index.core.base.llms.types import ChatMessage, MessageRole
from llama_index.core.base.response.schema import AsyncStreamingResponse
from llama_index.core.query_engine import RetrieverQueryEngine
from llama_index.core.schema import Document

from langchain_zilliz_bailian.zilliz import ZillizPipelinesClient
from llama_index_ext import BailianAppLLM, ZillizPipelineReader, ZillizPipelineRetriever

pytestmark = pytest.mark.server

PROJECT = "proj-0123456789abcdef"
CLUSTER = "in03-0123456789abcdef"
TEXTS = [
    "Milvus Lite keeps its data in a local directory and survives restarts.",
    "A search pipeline embeds the query and returns the nearest chunks.",
    "Bailian apps answer with citations to the passages they used.",
]


async def test_async_reader_retriever_and_streaming_llm(local_server):
    async with ZillizPipelinesClient(
        api_key=local_server.api_key, base_url=local_server.url
    ) as client:
        made = await client.acreate(
            {
                "projectId": PROJECT,
                "name": "li_live_ingestion",
                "type": "INGESTION",
                "clusterId": CLUSTER,
                "collectionName": "li_live_col",
                "functions": [
                    {"name": "index", "action": "INDEX_TEXT", "language": "ENGLISH"},
                    {
                        "name": "keep_topic",
                        "action": "PRESERVE",
                        "inputField": "topic",
                        "outputField": "topic",
                        "fieldType": "VarChar",
                    },
                ],
            }
        )
        search = await client.acreate(
            {
                "projectId": PROJECT,
                "name": "li_live_search",
                "type": "SEARCH",
                "functions": [
                    {
                        "name": "search",
                        "action": "SEARCH_TEXT",
                        "clusterId": CLUSTER,
                        "collectionName": "li_live_col",
                    }
                ],
            }
        )
    reader = ZillizPipelineReader(
        made.pipeline_id,
        api_key=local_server.api_key,
        base_url=local_server.url,
        batch_size=1,
        max_concurrency=3,
    )
    stored = await reader.aload_data(
        documents=[Document(text=t, metadata={"topic": f"t{i}"}) for i, t in enumerate(TEXTS)]
    )
    assert [d.text for d in stored] == TEXTS
    assert all(d.id_.isdigit() for d in stored)

    retriever = ZillizPipelineRetriever(
        search.pipeline_id,
        api_key=local_server.api_key,
        base_url=local_server.url,
        similarity_top_k=1,
        output_fields=["topic"],
    )
    llm = BailianAppLLM(
        app_id="liveapp",
        api_key=local_server.api_key,
        base_url=local_server.bailian_base_url,
        rag_options={"pipeline_ids": [search.pipeline_id]},
    )
    engine = RetrieverQueryEngine.from_args(retriever, llm=llm, streaming=True)
    response = await engine.aquery("Where does Milvus Lite keep its data?")
    assert isinstance(response, AsyncStreamingResponse)
    deltas = [t async for t in response.async_response_gen()]
    assert len(deltas) > 3
    assert "local directory" in "".join(deltas)
    assert response.source_nodes[0].node.node_id == stored[0].id_
    assert response.source_nodes[0].node.metadata == {"topic": "t0"}
    await reader.aclose()
    await retriever.aclose()
    await llm.aclose()


async def test_session_history_is_kept_by_the_server(local_server):
    llm = BailianAppLLM(
        app_id="liveapp", api_key=local_server.api_key, base_url=local_server.bailian_base_url
    )
    first = await llm.achat([ChatMessage(role=MessageRole.USER, content="My name is Ada.")])
    session = first.additional_kwargs["session_id"]
    assert session
    chunks = [
        r
        async for r in await llm.astream_chat(
            [
                ChatMessage(role=MessageRole.USER, content="My name is Ada."),
                ChatMessage(role=MessageRole.ASSISTANT, content=first.message.content),
                ChatMessage(role=MessageRole.USER, content="What is my name?"),
            ],
            session_id=session,
        )
    ]
    assert all(c.delta is not None for c in chunks)
    answer = chunks[-1].message.content
    assert answer is not None
    assert "My name is Ada." in answer  # the server remembered the earlier turn
    assert chunks[-1].additional_kwargs["session_id"] == session
    await llm.aclose()
