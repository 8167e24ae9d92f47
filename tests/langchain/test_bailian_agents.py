"""Composition: a Bailian app as another agent's tool, and retriever + app in one streaming RAG chain."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from langchain_core.documents import Document
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage
from langchain_core.output_parsers import StrOutputParser
from langchain_core.prompts import ChatPromptTemplate
from langchain_core.runnables import Runnable, RunnablePassthrough
from langchain_core.tools import tool

from langchain_zilliz_bailian import ChatBailianApp, ZillizPipelineRetriever
from tests.fakes.bailian import (
    API_KEY,
    APP_ID,
    SSE_HEADERS,
    Recorder,
    apaced,
    event,
    incremental_stream,
    mock_http,
    paced,
    respond,
    result,
)

PIPE = "pipe-6ca5dd1b4672659d3c3487"
HITS = [
    {
        "id": 1,
        "distance": 0.91,
        "chunk_text": "Milvus Lite stores data locally.",
        "doc_name": "a.md",
    },
    {"id": 2, "distance": 0.80, "chunk_text": "Pipelines embed text.", "doc_name": "b.md"},
]


class ToolCallingFake(GenericFakeChatModel):
    """A scripted chat model that accepts tools (the agent's brain in these tests)."""

    def bind_tools(self, tools, **kwargs):
        return self


def zilliz_transport() -> dict[str, httpx.Client | httpx.AsyncClient]:
    """A Zilliz search pipeline that answers every search with :data:`HITS`."""

    def handler(request: httpx.Request) -> httpx.Response:
        data: dict[str, Any]
        if request.method == "GET":
            data = {
                "pipelineId": PIPE,
                "type": "SEARCH",
                "status": "SERVING",
                "functions": [{"action": "SEARCH_DOC_CHUNK", "inputFields": ["query_text"]}],
            }
        else:
            data = {"result": HITS, "usage": {"embedding": 4}}
        return httpx.Response(200, json={"code": 200, "data": data})

    async def ahandler(request: httpx.Request) -> httpx.Response:
        await request.aread()
        return handler(request)

    return {
        "http_client": httpx.Client(transport=httpx.MockTransport(handler)),
        "http_async_client": httpx.AsyncClient(transport=httpx.MockTransport(ahandler)),
    }


def app_model(*pieces: str) -> tuple[ChatBailianApp, Recorder]:
    recorder = Recorder([respond(200, incremental_stream(pieces), **SSE_HEADERS)])
    model = ChatBailianApp(app_id=APP_ID, api_key=API_KEY, streaming=True, **mock_http(recorder))
    return model, recorder


def format_docs(docs: list[Document]) -> str:
    return "\n".join(f"[{d.metadata['doc_name']}] {d.page_content}" for d in docs)


# -- the app as a tool ------------------------------------------------------------------------------


@pytest.mark.filterwarnings("ignore:This API is in beta")
def test_app_chain_as_a_tool_of_an_agent() -> None:
    from langchain.agents import create_agent

    app, recorder = app_model("Employees get ", "25 days.")
    ask_hr_app = (ChatPromptTemplate.from_template("{question}") | app | StrOutputParser()).as_tool(
        name="ask_hr_app", description="Ask the HR knowledge app a question."
    )
    brain = ToolCallingFake(
        messages=iter(
            [
                AIMessage(
                    content="",
                    tool_calls=[
                        {"name": "ask_hr_app", "args": {"question": "Leave days?"}, "id": "c1"}
                    ],
                ),
                AIMessage(content="You get 25 days of leave."),
            ]
        )
    )
    agent: Runnable[Any, Any] = create_agent(brain, tools=[ask_hr_app])
    state = agent.invoke({"messages": [("user", "How many leave days do I get?")]})
    tool_messages = [m for m in state["messages"] if m.type == "tool"]
    assert tool_messages[0].content == "Employees get 25 days."
    assert state["messages"][-1].content == "You get 25 days of leave."
    assert recorder.bodies[0]["input"] == {"prompt": "Leave days?"}


async def test_app_behind_a_tool_decorator_in_an_async_agent() -> None:
    from langchain.agents import create_agent

    app, recorder = app_model("It is ", "sunny.")

    @tool
    async def ask_weather_app(city: str) -> str:
        """Ask the weather workflow app about a city."""
        message = await app.ainvoke("What is the weather?", biz_params={"city": city})
        return f"{message.content} (session {message.response_metadata['session_id']})"

    brain = ToolCallingFake(
        messages=iter(
            [
                AIMessage(
                    content="",
                    tool_calls=[
                        {"name": "ask_weather_app", "args": {"city": "Hangzhou"}, "id": "c"}
                    ],
                ),
                AIMessage(content="Sunny in Hangzhou."),
            ]
        )
    )
    agent: Runnable[Any, Any] = create_agent(brain, tools=[ask_weather_app])
    state = await agent.ainvoke({"messages": [("user", "Weather in Hangzhou?")]})
    assert [m.content for m in state["messages"] if m.type == "tool"] == [
        "It is sunny. (session sess-1)"
    ]
    assert recorder.bodies[0]["input"] == {
        "prompt": "What is the weather?",
        "biz_params": {"city": "Hangzhou"},
    }


# -- retriever + app: one streaming RAG chain -------------------------------------------------------


def rag_chain(app: ChatBailianApp):
    retriever = ZillizPipelineRetriever(
        pipeline_id=PIPE, api_key="zk-test", base_url="https://zilliz.example.test", k=2,
        **zilliz_transport(),
    )  # fmt: skip
    prompt = ChatPromptTemplate.from_messages(
        [("system", "Answer from this context only:\n{context}"), ("human", "{question}")]
    )
    return (
        {"context": retriever | format_docs, "question": RunnablePassthrough()}
        | prompt
        | app
        | StrOutputParser()
    )


def test_rag_chain_streams_the_apps_deltas() -> None:
    app, recorder = app_model("Locally", ", in a ", "folder.")
    pieces = list(rag_chain(app).stream("Where is data stored?"))
    assert [p for p in pieces if p] == ["Locally", ", in a ", "folder."]
    assert recorder.bodies[0]["input"]["messages"] == [
        {
            "role": "system",
            "content": "Answer from this context only:\n"
            "[a.md] Milvus Lite stores data locally.\n[b.md] Pipelines embed text.",
        },
        {"role": "user", "content": "Where is data stored?"},
    ]
    assert recorder.bodies[0]["parameters"] == {"incremental_output": True}


async def test_rag_chain_astream() -> None:
    app, _ = app_model("Locally", ".")
    pieces = [p async for p in rag_chain(app).astream("Where is data stored?")]
    assert "".join(pieces) == "Locally."


def test_rag_chain_hands_on_the_first_delta_before_the_stream_ends() -> None:
    chunks = [event(result(w), id=i) for i, w in enumerate(["One", " two", " three"], 1)]
    chunks.append(event(result("", finish="stop"), id=4))
    sent: list[float] = []

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, headers=SSE_HEADERS, content=paced(chunks, 0.2, sent))

    async def ahandler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, headers=SSE_HEADERS, content=apaced(chunks, 0.2, sent))

    app = ChatBailianApp(
        app_id=APP_ID,
        api_key=API_KEY,
        http_client=httpx.Client(transport=httpx.MockTransport(handler)),
        http_async_client=httpx.AsyncClient(transport=httpx.MockTransport(ahandler)),
    )
    events_sent_at_first_piece = None
    for piece in rag_chain(app).stream("q"):
        if piece and events_sent_at_first_piece is None:
            events_sent_at_first_piece = len(sent)
    assert events_sent_at_first_piece == 1  # the first delta came out while the app still talked
