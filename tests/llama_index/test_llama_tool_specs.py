"""``ZillizPipelineToolSpec`` and ``BailianAppToolSpec``: the tools they list, their sessions and
typed errors, and a LlamaIndex ``FunctionAgent`` that answers by calling the right tool."""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap
from typing import Any, cast

import pytest
from llama_index.core.agent.workflow import AgentOutput, FunctionAgent, ToolCallResult
from llama_index.core.tools import FunctionTool

from langchain_zilliz_bailian.errors import InvalidInputError
from llama_index_ext.tools import BailianAppToolSpec, ZillizPipelineToolSpec
from tests.conftest import ROOT
from tests.fakes.llama_index import ScriptedToolCaller
from tests.fakes.toolkit_backend import (
    DASHSCOPE_URL,
    LEAVE_FACT,
    TRAVEL_FACT,
    ZILLIZ_URL,
    ToolBackend,
    hr_pipelines,
    pipe,
)

#: A workflow inspects the agent's members, pydantic models included (not this package's doing).
pytestmark = pytest.mark.filterwarnings("ignore:.*deprecated.*:DeprecationWarning:inspect")


def pipeline_spec(backend: ToolBackend, **options: Any) -> ZillizPipelineToolSpec:
    return ZillizPipelineToolSpec(
        list(backend.pipelines), api_key="zk", base_url=ZILLIZ_URL, **backend.clients(), **options
    )


def app_spec(backend: ToolBackend, app_ids: list[str], **options: Any) -> BailianAppToolSpec:
    return BailianAppToolSpec(
        app_ids, api_key="sk", base_url=DASHSCOPE_URL, **backend.clients(), **options
    )


def test_one_tool_per_pipeline_named_described_and_typed_after_it() -> None:
    backend = ToolBackend({pipe(1): ("hr_search", "Leave rules"), pipe(2): ("hr", "More")})
    spec = pipeline_spec(backend, k=3, max_k=5)
    tools = spec.to_tool_list()
    assert all(isinstance(t, FunctionTool) for t in tools)
    assert [t.metadata.name for t in tools] == ["search_hr", "search_hr_2"]
    assert spec.spec_functions == [
        ("search_hr", "search_hr__async"),
        ("search_hr_2", "search_hr_2__async"),
    ]
    assert "'hr_search' knowledge base. It holds: Leave rules." in tools[0].metadata.description
    params = tools[0].metadata.get_parameters_dict()
    assert params["required"] == ["query"]
    assert params["properties"]["k"] == {
        "default": 3,
        "description": "How many passages to return (1 to 5).",
        "maximum": 5,
        "minimum": 1,
        "title": "K",
        "type": "integer",
    }
    spec.to_tool_list()
    assert len([r for r in backend.requests if r.method == "GET"]) == 2  # described once each


async def test_search_tools_run_sync_and_natively_async() -> None:
    backend = ToolBackend({pipe(1): ("hr", "")})
    (tool,) = pipeline_spec(backend, output_fields=["topic"]).to_tool_list()
    sync = tool.call(query="leave", filter='topic == "leave"', k=2)
    together = await tool.acall(query="leave")
    expected = "[1] (topic: leave, id: 7, distance: 0.91)\nEmployees get 25 days of paid leave."
    assert sync.content == together.content == expected
    first, second = backend.searches()
    assert (first["params"]["limit"], first["params"]["filter"]) == (2, 'topic == "leave"')
    assert second["params"]["limit"] == 4


def test_a_search_outside_the_bounds_is_refused_before_any_request() -> None:
    backend = ToolBackend({pipe(1): ("hr", "")})
    (tool,) = pipeline_spec(backend).to_tool_list()
    with pytest.raises(InvalidInputError, match="k must be from 1 to 10"):
        tool.call(query="leave", k=11)
    assert backend.searches() == []


def test_app_tools_keep_a_session_per_tool_list() -> None:
    backend = ToolBackend({})
    spec = app_spec(backend, ["hr-app", "it"], keep_sessions=True,
                    descriptions={"it": "IT helpdesk."})  # fmt: skip
    hr, it = spec.to_tool_list()
    assert [hr.metadata.name, it.metadata.name] == ["ask_hr-app", "ask_it"]
    assert "IT helpdesk. The app answers" in it.metadata.description
    assert set(hr.metadata.get_parameters_dict()["properties"]) == {"question", "session_id"}
    assert "session_id: sess-1" in hr.call(question="Leave?").content
    hr.call(question="And travel?")
    it.call(question="VPN?")
    (fresh_hr, _) = spec.to_tool_list()
    fresh_hr.call(question="New")
    assert backend.app_inputs == [
        {"prompt": "Leave?"},
        {"prompt": "And travel?", "session_id": "sess-1"},
        {"prompt": "VPN?"},
        {"prompt": "New"},
    ]


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda b: ZillizPipelineToolSpec([]), "non-empty list"),
        (lambda b: ZillizPipelineToolSpec(pipe(1)), "non-empty list"),
        (lambda b: ZillizPipelineToolSpec(["pipe 1"]), "Invalid pipeline_id"),
        (lambda b: ZillizPipelineToolSpec([pipe(1)], k=20), "must not exceed max_k"),
        (lambda b: ZillizPipelineToolSpec([pipe(1)], region="x"), "Unknown"),  # type: ignore[call-arg]
        (lambda b: app_spec(b, []), "non-empty list"),
        (lambda b: app_spec(b, ["a b"]), "app_id"),
        (lambda b: app_spec(b, ["a1"], names={"a2": "x"}), "app ids not given"),
    ],
)
def test_bad_settings_are_typed_errors_before_any_request(make: Any, message: str) -> None:
    backend = ToolBackend({})
    with pytest.raises(InvalidInputError, match=message):
        make(backend)
    assert backend.requests == []


def test_the_tool_module_never_imports_langchain() -> None:
    code = """
        import sys
        sys.modules["langchain_core"] = None  # importing it now raises ImportError
        sys.modules["langchain"] = None
        from llama_index_ext.tools import BailianAppToolSpec, ZillizPipelineToolSpec
        ZillizPipelineToolSpec(["pipe-0123456789abcdef012345"], api_key="k")
        BailianAppToolSpec(["app1"], api_key="k").to_tool_list()
        print("ok")
    """
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True, text=True, cwd=ROOT, timeout=120, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"


# -- a FunctionAgent against the local server --------------------------------------------------


@pytest.fixture(scope="module")
def hr_tools(local_server: Any) -> tuple[str, list[FunctionTool]]:
    """The HR pipeline's search tool and the app's question tool (keeping its session)."""
    search, name = hr_pipelines(local_server)
    pipelines = ZillizPipelineToolSpec(
        [search], api_key=local_server.api_key, base_url=local_server.url, output_fields=["topic"]
    )
    apps = BailianAppToolSpec(
        ["hr-app"],
        api_key=local_server.api_key,
        base_url=local_server.bailian_base_url,
        rag_options={"pipeline_ids": [search]},
        keep_sessions=True,
    )
    return name, [*pipelines.to_tool_list(), *apps.to_tool_list()]


def results(output: AgentOutput) -> list[ToolCallResult]:
    """The tool calls an agent run made, with their outputs (typed as selections upstream)."""
    calls = cast(list[Any], output.tool_calls)
    assert all(isinstance(call, ToolCallResult) for call in calls)
    return calls


@pytest.mark.server
async def test_function_agent_answers_a_retrieval_question_with_the_pipeline_tool(
    hr_tools: tuple[str, list[FunctionTool]],
) -> None:
    name, tools = hr_tools
    llm = ScriptedToolCaller(script=[(name, {"query": "paid leave", "k": 1})])
    agent = FunctionAgent(tools=tools, llm=llm)
    response = cast(AgentOutput, await agent.run(user_msg="How many days of paid leave do I get?"))
    assert llm.calls == [name]
    assert llm.offered[0] == [name, "ask_hr-app"]
    (call,) = results(response)
    assert call.tool_name == name
    assert re.fullmatch(r"\[1\] \(topic: leave, id: \d+, distance: [\d.]+\)\n" + LEAVE_FACT,
                        call.tool_output.content)  # fmt: skip
    assert str(response) == f"Answer: {call.tool_output.content}"


@pytest.mark.server
async def test_function_agent_asks_the_app_and_the_tool_keeps_its_session(
    hr_tools: tuple[str, list[FunctionTool]],
) -> None:
    _, tools = hr_tools
    ask = "ask_hr-app"
    llm = ScriptedToolCaller(
        script=[(ask, {"question": "How many days of paid leave?"}),
                (ask, {"question": "How are trains booked?"})]
    )  # fmt: skip
    agent = FunctionAgent(tools=tools, llm=llm)
    first = cast(AgentOutput, await agent.run(user_msg="Ask HR about leave."))
    second = cast(AgentOutput, await agent.run(user_msg="Ask HR about trains."))
    assert llm.calls == [ask, ask]
    answers = [results(r)[0].tool_output.content for r in (first, second)]
    assert LEAVE_FACT in answers[0] and TRAVEL_FACT in answers[1]
    sessions = [re.search(r"session_id: (\w+)", a).group(1) for a in answers]  # type: ignore[union-attr]
    assert sessions[0] == sessions[1]
    assert str(first) == f"Answer: {answers[0]}"
