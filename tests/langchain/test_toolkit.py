"""``ZillizBailianToolkit``: tool names, descriptions and schemas, sessions, typed errors, and
an agent (``langchain.agents.create_agent``) that answers by calling the right tool."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import pytest
from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.documents import Document
from langchain_core.language_models.chat_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage, ToolMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from langchain_core.runnables import Runnable
from langchain_core.tools import BaseTool
from pydantic import BaseModel, ValidationError

from langchain_zilliz_bailian.agent_tools import tool_name, unique_names
from langchain_zilliz_bailian.chat_models import ChatBailianApp
from langchain_zilliz_bailian.errors import InvalidInputError, ToolCallingUnsupportedError
from langchain_zilliz_bailian.toolkits import ZillizBailianToolkit
from tests.fakes.toolkit_backend import (
    DASHSCOPE_URL,
    LEAVE_FACT,
    ZILLIZ_URL,
    ToolBackend,
    hr_pipelines,
    pipe,
)

NAME_RULE = r"^[a-zA-Z0-9_-]{1,64}$"


def toolkit(backend: ToolBackend, **fields: Any) -> ZillizBailianToolkit:
    settings: dict[str, Any] = {
        "pipeline_ids": list(backend.pipelines),
        "zilliz_api_key": "zk-secret-value",
        "zilliz_base_url": ZILLIZ_URL,
        "dashscope_api_key": "sk-secret-value",
        "dashscope_base_url": DASHSCOPE_URL,
        **backend.clients(),
        **fields,
    }
    return ZillizBailianToolkit(**settings)


def by_name(tools: Sequence[BaseTool]) -> dict[str, BaseTool]:
    return {tool.name: tool for tool in tools}


def call(tool: BaseTool, **args: Any) -> ToolMessage:
    """The tool run as an agent runs it (a tool call, so the artifact is kept)."""
    message = tool.invoke({"type": "tool_call", "name": tool.name, "id": "c1", "args": args})
    assert isinstance(message, ToolMessage)
    return message


# -- names -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("hr policies v2.1", "search_hr_policies_v2_1"),
        ("人事 handbook", "search_handbook"),
        ("人事制度", "search_pipe-0123"),  # nothing left: the id
        ("--__--", "search_pipe-0123"),
        ("x" * 80, "search_" + "x" * 57),
    ],
)
def test_tool_names_are_what_tool_calling_apis_accept(text: str, expected: str) -> None:
    name = tool_name(text, prefix="search", fallback="pipe-0123")
    assert name == expected
    assert len(name) <= 64


def test_duplicate_names_get_a_suffix_within_64_characters() -> None:
    long = "search_" + "y" * 57
    assert unique_names(["a", "a", "b", "a"], taken=["b"]) == ["a", "a_2", "b_2", "a_3"]
    assert unique_names([long, long]) == [long, long[:62] + "_2"]


def test_each_pipeline_becomes_a_tool_named_and_described_after_it() -> None:
    backend = ToolBackend(
        {
            pipe(1): ("hr_policies_search", "Leave, travel and expense rules"),
            pipe(2): ("Product Docs (EN)", ""),
            pipe(3): ("人事制度", "中文的人事制度"),
        }
    )
    tools = toolkit(backend).get_tools()
    assert [t.name for t in tools] == [
        "search_hr_policies",
        "search_Product_Docs_EN",
        f"search_{pipe(3)}",
    ]
    assert all(re.match(NAME_RULE, t.name) for t in tools)
    hr = tools[0]
    assert "'hr_policies_search' knowledge base" in hr.description
    assert "Leave, travel and expense rules." in hr.description
    schema = hr.tool_call_schema.model_json_schema()  # type: ignore[union-attr]
    assert schema["required"] == ["query"]
    assert set(schema["properties"]) == {"query", "filter", "k"}
    assert (schema["properties"]["k"]["minimum"], schema["properties"]["k"]["maximum"]) == (1, 10)
    gets = [r for r in backend.requests if r.method == "GET"]
    assert len(gets) == 3  # described once each


def test_names_stay_unique_across_pipelines_and_apps() -> None:
    backend = ToolBackend({pipe(1): ("hr", "a"), pipe(2): ("hr search", "b")})
    kit = toolkit(backend, app_ids=["hr"], app_names={"hr": "../search hr"})
    assert [t.name for t in kit.get_tools()] == ["search_hr", "search_hr_2", "ask_search_hr"]
    kit = toolkit(ToolBackend({pipe(1): ("x", "")}), app_ids=["a1", "a2"])
    assert [t.name for t in kit.get_tools()] == ["search_x", "ask_a1", "ask_a2"]


def test_app_tool_schema_and_description() -> None:
    kit = toolkit(ToolBackend({}), pipeline_ids=[], app_ids=["hrapp"],
                  app_descriptions={"hrapp": "Knows the HR handbook."})  # fmt: skip
    (tool,) = kit.get_tools()
    assert tool.name == "ask_hrapp"
    assert tool.description.startswith(
        "Ask the Bailian app hrapp a question. Knows the HR handbook."
    )
    assert "pass the session_id" in tool.description
    schema = tool.tool_call_schema.model_json_schema()  # type: ignore[union-attr]
    assert schema["required"] == ["question"]
    assert set(schema["properties"]) == {"question", "session_id"}


# -- calls -------------------------------------------------------------------------------------


def test_search_tool_sends_query_filter_and_k_and_returns_passages_and_documents() -> None:
    backend = ToolBackend({pipe(1): ("hr", "")})
    (tool,) = toolkit(backend, output_fields=["topic"]).get_tools()
    message = call(tool, query="paid leave", filter='topic == "leave"', k=3)
    assert message.content == (
        "[1] (topic: leave, id: 7, distance: 0.91)\nEmployees get 25 days of paid leave."
    )
    assert message.artifact == [
        Document(
            page_content="Employees get 25 days of paid leave.",
            metadata={"topic": "leave", "id": "7", "distance": 0.91},
        )
    ]
    (body,) = backend.searches()
    assert body["data"] == {"query_text": "paid leave"}
    assert body["params"]["limit"] == 3
    assert body["params"]["filter"] == 'topic == "leave"'
    assert body["params"]["outputFields"] == ["topic"]


async def test_search_tool_is_natively_async_with_the_default_k() -> None:
    backend = ToolBackend({pipe(1): ("hr", "")})
    (tool,) = await toolkit(backend, k=2).aget_tools()
    message = await tool.ainvoke({"type": "tool_call", "name": tool.name, "id": "c",
                                  "args": {"query": "leave", "filter": " "}})  # fmt: skip
    assert "25 days" in message.content
    (body,) = backend.searches()
    assert body["params"]["limit"] == 2
    assert body["params"]["filter"] == ""  # a blank filter from a model means none


@pytest.mark.parametrize("args", [{"query": "q", "k": 11}, {"query": "q", "k": 0}, {"query": ""}])
def test_bad_search_arguments_fail_before_any_search(args: dict[str, Any]) -> None:
    backend = ToolBackend({pipe(1): ("hr", "")})
    (tool,) = toolkit(backend).get_tools()
    with pytest.raises(ValidationError) as info:
        tool.invoke(args)
    assert info.value.errors()[0]["loc"] == (next(iter(args)) if "k" not in args else "k",)
    assert backend.searches() == []


def test_the_core_check_is_typed_even_when_the_schema_is_bypassed() -> None:
    backend = ToolBackend({pipe(1): ("hr", "")})
    (tool,) = toolkit(backend).get_tools()
    with pytest.raises(InvalidInputError, match="k must be from 1 to 10"):
        tool._run(query="q", k=50)
    assert backend.searches() == []


def test_app_tool_keeps_its_session_per_tool_instance() -> None:
    backend = ToolBackend({})
    kit = toolkit(backend, pipeline_ids=[], app_ids=["hrapp"], keep_sessions=True)
    (first,) = kit.get_tools()
    (second,) = kit.get_tools()
    answer = call(first, question="Leave days?")
    assert answer.content == (
        "Employees get 25 days of paid leave.<ref>[1]</ref>\n\n"
        "Sources:\n[1] Leave policy (hr.md)\n\nsession_id: sess-1"
    )
    assert answer.artifact["session_id"] == "sess-1"
    call(first, question="And travel?")
    call(second, question="Hello")
    call(first, question="Explicit", session_id="sess-other")
    assert backend.app_inputs == [
        {"prompt": "Leave days?"},
        {"prompt": "And travel?", "session_id": "sess-1"},
        {"prompt": "Hello"},  # another tool instance: its own session
        {"prompt": "Explicit", "session_id": "sess-other"},
    ]
    assert first.session_id == "sess-other"  # type: ignore[attr-defined]
    assert second.session_id == "sess-2"  # type: ignore[attr-defined]


async def test_app_tool_without_kept_sessions_sends_only_what_the_model_gives() -> None:
    backend = ToolBackend({})
    (tool,) = toolkit(backend, pipeline_ids=[], app_ids=["hrapp"]).get_tools()
    calls = [{"question": "One"}, {"question": "Two", "session_id": " "}]
    for args in (*calls, {"question": "3", "session_id": "s"}):
        await tool.ainvoke({"type": "tool_call", "name": tool.name, "id": "c", "args": args})
    assert backend.app_inputs == [
        {"prompt": "One"},
        {"prompt": "Two"},
        {"prompt": "3", "session_id": "s"},
    ]


# -- construction ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"pipeline_ids": []}, "toolkit is empty"),
        ({"pipeline_ids": ["pipe-1; drop"]}, "Invalid pipeline_id"),
        ({"app_ids": ["bad id"]}, "app_id"),
        ({"app_ids": ["a1"], "app_descriptions": {"a2": "x"}}, "app ids not given"),
        ({"k": 11}, r"k \(11\) must not exceed max_k"),
        ({"max_k": 0}, "max_k must be an int from 1 to 100"),
        ({"zilliz_base_url": "ftp://x"}, "base"),
    ],
)
def test_bad_settings_are_typed_errors_before_any_request(
    fields: dict[str, Any], message: str
) -> None:
    backend = ToolBackend({pipe(1): ("hr", "")})
    with pytest.raises(InvalidInputError, match=message):
        toolkit(backend, **fields)
    assert backend.requests == []


def test_keys_are_secret_and_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ZILLIZ_CLOUD_API_KEY", "zk-from-env")
    monkeypatch.setenv("DASHSCOPE_API_KEY", "sk-from-env")
    monkeypatch.setenv("DASHSCOPE_HTTP_BASE_URL", DASHSCOPE_URL)
    kit = ZillizBailianToolkit(pipeline_ids=[pipe(1)], app_ids=["a1"])
    assert kit.zilliz_api_key is not None and kit.dashscope_api_key is not None
    assert kit.zilliz_api_key.get_secret_value() == "zk-from-env"
    assert kit.dashscope_base_url == DASHSCOPE_URL
    shown = repr(kit) + str(kit.model_dump())
    assert "from-env" not in shown


# -- ChatBailianApp refuses tools --------------------------------------------------------------


class Answer(BaseModel):
    days: int


def test_bind_tools_explains_the_app_runs_its_own_tools_and_points_at_the_toolkit() -> None:
    app = ChatBailianApp(app_id="a1", api_key="k")
    with pytest.raises(ToolCallingUnsupportedError) as info:
        app.bind_tools([Answer])
    text = str(info.value)
    assert "runs its own plugins and tools" in text
    assert "ZillizBailianToolkit(app_ids=[...]).get_tools()" in text
    assert isinstance(info.value, NotImplementedError)  # what bind_tools raised before


def test_with_structured_output_fails_with_its_own_explanation() -> None:
    app = ChatBailianApp(app_id="a1", api_key="k")
    for include_raw in (False, True):
        with pytest.raises(ToolCallingUnsupportedError, match="cannot return structured output"):
            app.with_structured_output(Answer, include_raw=include_raw)


def test_an_agent_with_the_app_as_its_model_fails_on_its_first_call_with_that_error() -> None:
    from langchain.agents import create_agent

    backend = ToolBackend({pipe(1): ("hr", "")})
    tools = toolkit(backend).get_tools()
    agent: Runnable[Any, Any] = create_agent(ChatBailianApp(app_id="a1", api_key="k"), tools=tools)
    with pytest.raises(ToolCallingUnsupportedError, match="ZillizBailianToolkit"):
        agent.invoke({"messages": [("user", "hi")]})
    assert backend.searches() == []


# -- inside an agent, against the local server -------------------------------------------------


class ScriptedBrain(BaseChatModel):
    """A tool-calling chat model that follows a script: each human turn gets the next scripted
    tool call; after a tool answered, the reply is ``Answer:`` and the tool's output."""

    script: list[tuple[str, dict[str, Any]]]
    offered: list[list[str]] = []

    @property
    def _llm_type(self) -> str:
        return "scripted-brain"

    def bind_tools(self, tools: Sequence[Any], **kwargs: Any) -> ScriptedBrain:
        self.offered.append([t.name for t in tools])
        return self

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        last = messages[-1]
        if isinstance(last, ToolMessage) or not self.script:
            reply = AIMessage(content=f"Answer: {last.content}")
        else:
            name, args = self.script.pop(0)
            reply = AIMessage(content="", tool_calls=[{"name": name, "args": args, "id": name}])
        return ChatResult(generations=[ChatGeneration(message=reply)])


@pytest.fixture(scope="module")
def hr_server(local_server: Any) -> dict[str, Any]:
    """The HR pipelines on the local server, and the toolkit settings over them."""
    search, tool = hr_pipelines(local_server)
    return {
        "search": search,
        "tool": tool,
        "settings": {
            "pipeline_ids": [search],
            "app_ids": ["hr-app"],
            "app_descriptions": {"hr-app": "The HR assistant."},
            "app_options": {"rag_options": {"pipeline_ids": [search]}},
            "output_fields": ["topic"],
            "zilliz_api_key": local_server.api_key,
            "zilliz_base_url": local_server.url,
            "dashscope_api_key": local_server.api_key,
            "dashscope_base_url": local_server.bailian_base_url,
        },
    }


def tool_messages(state: dict[str, Any]) -> list[ToolMessage]:
    return [m for m in state["messages"] if isinstance(m, ToolMessage)]


@pytest.mark.server
def test_agent_answers_a_retrieval_question_with_the_pipeline_tool(hr_server: Any) -> None:
    from langchain.agents import create_agent

    kit = ZillizBailianToolkit(**hr_server["settings"])
    brain = ScriptedBrain(
        script=[(hr_server["tool"], {"query": "paid leave", "filter": 'topic == "leave"', "k": 1})],
        offered=[],
    )
    agent: Runnable[Any, Any] = create_agent(brain, tools=kit.get_tools())
    state = agent.invoke({"messages": [("user", "How many days of paid leave do I get?")]})
    (used,) = tool_messages(state)
    assert used.name == hr_server["tool"]
    assert isinstance(used.content, str)
    assert used.content.startswith("[1] (topic: leave, id: ")
    assert used.content.endswith(LEAVE_FACT)
    assert [d.metadata["topic"] for d in used.artifact] == ["leave"]
    assert brain.offered[0] == [hr_server["tool"], "ask_hr-app"]
    assert state["messages"][-1].content == f"Answer: {used.content}"
    kit.close()


@pytest.mark.server
async def test_async_agent_asks_the_app_with_the_app_tool_and_keeps_the_session(
    hr_server: Any,
) -> None:
    from langchain.agents import create_agent

    kit = ZillizBailianToolkit(**hr_server["settings"], keep_sessions=True)
    tools = await kit.aget_tools()
    ask = "ask_hr-app"
    brain = ScriptedBrain(
        script=[(ask, {"question": "How many days of paid leave?"}),
                (ask, {"question": "How are trains booked?"})],
        offered=[],
    )  # fmt: skip
    agent: Runnable[Any, Any] = create_agent(brain, tools=tools)
    first = await agent.ainvoke({"messages": [("user", "Ask HR about leave.")]})
    (answer,) = tool_messages(first)
    assert answer.name == ask
    assert "25 days of paid leave" in answer.content
    assert "Sources:\n[1]" in answer.content
    assert first["messages"][-1].content == f"Answer: {answer.content}"
    session = answer.artifact["session_id"]
    second = await agent.ainvoke({"messages": [("user", "Ask HR about trains.")]})
    (again,) = tool_messages(second)
    assert "two weeks ahead" in again.content
    assert again.artifact["session_id"] == session  # the tool continued its session
    assert tools[1].session_id == session  # type: ignore[attr-defined]
    await kit.aclose()
