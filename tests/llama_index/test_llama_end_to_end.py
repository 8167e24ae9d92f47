"""LlamaIndex end to end, replayed from cassettes recorded against the local compatible server.

The reader ingests a small corpus, the retriever feeds ``RetrieverQueryEngine`` and a chat
engine, and ``BailianAppLLM`` answers through the server's extractive RAG app. Every request the
app receives is captured (httpx event hooks), so the tests assert that the retrieved chunks reach
the app's prompt as well as ``source_nodes``. ``make cassettes`` re-records them.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from llama_index.core import Settings
from llama_index.core.agent.workflow import AgentOutput, ReActAgent
from llama_index.core.base.llms.types import (
    CompletionResponse,
    CompletionResponseGen,
    LLMMetadata,
)
from llama_index.core.base.response.schema import AsyncStreamingResponse, StreamingResponse
from llama_index.core.chat_engine import ContextChatEngine
from llama_index.core.llms import CustomLLM
from llama_index.core.query_engine import RetrieverQueryEngine
from llama_index.core.schema import Document
from llama_index.core.tools import QueryEngineTool, RetrieverTool
from llama_index.core.vector_stores import FilterOperator, MetadataFilter, MetadataFilters

from langchain_zilliz_bailian.zilliz import ZillizPipelinesClient
from llama_index_ext import BailianAppLLM, ZillizPipelineReader, ZillizPipelineRetriever

pytestmark = pytest.mark.vcr

PROJECT = "proj-0123456789abcdef"
CLUSTER = "in03-0123456789abcdef"
APP_ID = "llamaindexapp"
CORPUS = [
    ("Milvus Lite keeps its data in a local directory and survives restarts.", 2024),
    ("Zilliz Cloud Pipelines turn text into vectors and store them in a collection.", 2023),
    ("A search pipeline embeds the query and returns the nearest chunks.", 2024),
    ("Deletion pipelines remove entities by id, by document name or by expression.", 2022),
]
QUESTION = "Where does Milvus Lite keep its data?"


class Capture:
    """httpx clients whose request hooks keep every JSON body sent to the Bailian app."""

    def __init__(self) -> None:
        self.bodies: list[dict[str, Any]] = []

    def _keep(self, request: httpx.Request) -> None:
        if request.url.path.endswith("/completion"):
            self.bodies.append(json.loads(request.content))

    async def _akeep(self, request: httpx.Request) -> None:
        self._keep(request)

    def clients(self) -> dict[str, Any]:
        return {
            "http_client": httpx.Client(timeout=60, event_hooks={"request": [self._keep]}),
            "http_async_client": httpx.AsyncClient(
                timeout=60, event_hooks={"request": [self._akeep]}
            ),
        }

    def texts(self, index: int = -1) -> str:
        """Everything the app was sent in one request, prompt and messages alike."""
        body = self.bodies[index]["input"]
        return body.get("prompt") or "\n".join(m["content"] for m in body["messages"])


class Corpus:
    """A text pipeline set with the corpus ingested through ``ZillizPipelineReader``."""

    def __init__(self, base_url: str, key: str, name: str) -> None:
        self.base_url, self.key = base_url, key
        with ZillizPipelinesClient(api_key=key, base_url=base_url, max_retries=0) as client:
            made = client.create_pipeline_set(
                name=name,
                project_id=PROJECT,
                cluster_id=CLUSTER,
                collection_name=f"{name}_col",
                kind="text",
                preserve={"year": "Int16"},
            )
        self.search_id = made.search.pipeline_id
        reader = ZillizPipelineReader(made.ingestion.pipeline_id, api_key=key, base_url=base_url)
        with reader.client:
            self.stored = reader.load_data(
                documents=[Document(text=text, metadata={"year": year}) for text, year in CORPUS]
            )

    def retriever(self, **kwargs: Any) -> ZillizPipelineRetriever:
        kwargs.setdefault("similarity_top_k", 2)
        kwargs.setdefault("output_fields", ["year"])
        return ZillizPipelineRetriever(
            self.search_id, api_key=self.key, base_url=self.base_url, **kwargs
        )

    def llm(self, capture: Capture, **kwargs: Any) -> BailianAppLLM:
        return BailianAppLLM(
            app_id=APP_ID,
            api_key=self.key,
            base_url=self.base_url + "/api/v1",
            rag_options={"pipeline_ids": [self.search_id]},
            max_retries=0,
            **capture.clients(),
            **kwargs,
        )


def test_reader_stores_one_document_per_text_with_int64_ids(recorded_base: tuple[str, str]):
    corpus = Corpus(*recorded_base, name="li_reader")
    # One request per distinct preserved ``year``, so the Documents come back grouped by year.
    assert [d.text for d in corpus.stored] == [CORPUS[i][0] for i in (0, 2, 1, 3)]
    assert {d.text: d.metadata["year"] for d in corpus.stored} == dict(CORPUS)
    assert all(d.id_.isdigit() and int(d.id_) > 2**53 for d in corpus.stored)
    nodes = corpus.retriever(similarity_top_k=4).retrieve("where is data kept locally?")
    assert {n.node.node_id for n in nodes} == {d.id_ for d in corpus.stored}  # ids round-trip
    assert nodes[0].node.get_content() == CORPUS[0][0]


def test_query_engine_answers_with_the_retrieved_chunks_in_the_prompt(
    recorded_base: tuple[str, str], event_log
):
    corpus = Corpus(*recorded_base, name="li_query")
    capture = Capture()
    engine = RetrieverQueryEngine.from_args(corpus.retriever(), llm=corpus.llm(capture))
    response = engine.query(QUESTION)

    sources = [n.node.get_content() for n in response.source_nodes]
    assert sources[0] == CORPUS[0][0]
    assert all(n.node.node_id.isdigit() for n in response.source_nodes)
    assert response.source_nodes[0].node.metadata == {"year": 2024}
    sent = capture.texts()
    assert len(capture.bodies) == 1
    assert all(text in sent for text in sources)  # the chunks reached the app's prompt
    assert QUESTION in sent
    assert capture.bodies[0]["parameters"]["rag_options"] == {"pipeline_ids": [corpus.search_id]}
    assert "local directory" in str(response)
    end = next(e for e in event_log.events if type(e).__name__ == "LLMChatEndEvent")
    assert end.response.additional_kwargs["doc_references"]
    assert end.response.additional_kwargs["session_id"]


def test_filters_narrow_what_the_query_engine_sees(recorded_base: tuple[str, str]):
    corpus = Corpus(*recorded_base, name="li_filters")
    capture = Capture()
    old = MetadataFilters(
        filters=[MetadataFilter(key="year", value=2023, operator=FilterOperator.LT)]
    )
    engine = RetrieverQueryEngine.from_args(
        corpus.retriever(filters=old, similarity_top_k=4), llm=corpus.llm(capture)
    )
    response = engine.query("How are entities removed?")
    assert [n.node.get_content() for n in response.source_nodes] == [CORPUS[3][0]]
    assert CORPUS[3][0] in capture.texts()
    assert CORPUS[0][0] not in capture.texts()


def test_streaming_query_engine(recorded_base: tuple[str, str], event_log):
    corpus = Corpus(*recorded_base, name="li_stream")
    capture = Capture()
    engine = RetrieverQueryEngine.from_args(
        corpus.retriever(), llm=corpus.llm(capture), streaming=True
    )
    response = engine.query(QUESTION)
    assert isinstance(response, StreamingResponse)
    tokens = list(response.response_gen)
    assert len([t for t in tokens if t]) > 3  # many deltas, not one block
    answer = "".join(tokens)
    assert "local directory" in answer
    end = next(e for e in event_log.events if type(e).__name__ == "LLMChatEndEvent")
    assert end.response.message.content == answer  # cumulative text of the last response
    assert end.response.additional_kwargs["doc_references"]
    assert capture.bodies[0]["parameters"]["incremental_output"] is True
    assert response.source_nodes[0].node.get_content() in capture.texts()


async def test_async_streaming_query_engine(recorded_base: tuple[str, str]):
    corpus = Corpus(*recorded_base, name="li_astream")
    capture = Capture()
    engine = RetrieverQueryEngine.from_args(
        corpus.retriever(), llm=corpus.llm(capture), streaming=True
    )
    response = await engine.aquery(QUESTION)
    assert isinstance(response, AsyncStreamingResponse)
    tokens = [t async for t in response.async_response_gen()]
    answer = "".join(tokens)
    assert "local directory" in answer
    assert response.source_nodes[0].node.get_content() == CORPUS[0][0]
    assert CORPUS[0][0] in capture.texts()


def test_settings_llm_drives_the_query_engine(recorded_base: tuple[str, str], clean_settings):
    corpus = Corpus(*recorded_base, name="li_settings")
    capture = Capture()
    Settings.llm = corpus.llm(capture)
    engine = RetrieverQueryEngine.from_args(corpus.retriever())
    response = engine.query(QUESTION)
    assert len(capture.bodies) == 1
    assert "local directory" in str(response)


def test_context_chat_engine_keeps_the_history(recorded_base: tuple[str, str]):
    corpus = Corpus(*recorded_base, name="li_chat")
    capture = Capture()
    engine = ContextChatEngine.from_defaults(retriever=corpus.retriever(), llm=corpus.llm(capture))
    first = engine.chat(QUESTION)
    assert "local directory" in first.response
    assert first.source_nodes[0].node.get_content() == CORPUS[0][0]
    streamed = engine.stream_chat("What does a search pipeline return?")
    answer = "".join(streamed.response_gen)
    assert "nearest chunks" in answer
    second = capture.bodies[-1]["input"]["messages"]
    assert [m["role"] for m in second] == ["system", "user", "assistant", "user"]
    assert second[1]["content"] == QUESTION
    assert second[2]["content"] == first.response
    assert CORPUS[2][0] in second[0]["content"]  # the new retrieval is in the system context


class ScriptedAgentLLM(CustomLLM):
    """A stand-in agent model: answers from a script and remembers every prompt it saw."""

    script: list[str]
    prompts: list[str] = []

    @property
    def metadata(self) -> LLMMetadata:
        return LLMMetadata(model_name="scripted", is_chat_model=False)

    def complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> CompletionResponse:
        self.prompts.append(prompt)
        return CompletionResponse(text=self.script.pop(0))

    def stream_complete(
        self, prompt: str, formatted: bool = False, **kwargs: Any
    ) -> CompletionResponseGen:
        text = self.complete(prompt, formatted=formatted).text
        yield CompletionResponse(text=text, delta=text)


def react_step(tool: str, query: str) -> str:
    return (
        "Thought: I need to look this up.\n"
        f"Action: {tool}\n"
        f"Action Input: {json.dumps({'input': query})}"
    )


# llama-index-core's agent workflow itself trips these (inspect.getmembers on pydantic models).
@pytest.mark.filterwarnings("ignore::pydantic.warnings.PydanticDeprecatedSince20")
@pytest.mark.filterwarnings("ignore::pydantic.warnings.PydanticDeprecatedSince211")
@pytest.mark.filterwarnings("ignore:is_running called from within a step:DeprecationWarning")
async def test_agent_calls_the_retriever_and_the_query_engine_as_tools(
    recorded_base: tuple[str, str],
):
    corpus = Corpus(*recorded_base, name="li_agent")
    capture = Capture()
    search = RetrieverTool.from_defaults(
        retriever=corpus.retriever(),
        name="handbook_search",
        description="Search the handbook for passages.",
    )
    qa = QueryEngineTool.from_defaults(
        query_engine=RetrieverQueryEngine.from_args(corpus.retriever(), llm=corpus.llm(capture)),
        name="handbook_qa",
        description="Answer a question from the handbook.",
    )
    agent_llm = ScriptedAgentLLM(
        script=[
            react_step("handbook_search", QUESTION),
            react_step("handbook_qa", QUESTION),
            "Thought: I can answer without using any more tools.\nAnswer: In a local directory.",
        ],
        prompts=[],
    )
    agent = ReActAgent(tools=[search, qa], llm=agent_llm)
    result: AgentOutput = await agent.run(user_msg=QUESTION)

    assert str(result.response.content) == "In a local directory."
    # The retriever's nodes reached the agent as the first observation...
    assert CORPUS[0][0] in agent_llm.prompts[1]
    # ...and the query engine's answer (our LLM over our retriever) as the second one.
    assert len(capture.bodies) == 1 and CORPUS[0][0] in capture.texts()
    assert "local directory" in agent_llm.prompts[2].split("handbook_qa")[-1]
