"""Workflow apps: start-node values from ``biz_params``, ``flow_stream_mode`` and node messages."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from langchain_zilliz_bailian.server import LocalServer
from langchain_zilliz_bailian.server.answer import Passage
from langchain_zilliz_bailian.server.apps import AppRegistry, AppSpec, WorkflowParameter
from langchain_zilliz_bailian.server.errors import BailianError
from langchain_zilliz_bailian.server.workflows import (
    WorkflowTrace,
    fill_prompt,
    flow_mode,
    start_values,
)
from tests.fakes.openai_stub import Script, StubModel
from tests.server.conftest import parse_sse, unique
from tests.server.kb import doc_kb
from tests.server.test_server_bailian import QUESTION

SSE = {"Accept": "text/event-stream"}


DECLARED = [WorkflowParameter(name="city", required=True), WorkflowParameter(name="date")]


def test_biz_params_fill_the_declared_parameters_and_query() -> None:
    values = start_values(DECLARED, {"city": "Hangzhou", "date": "2025-03-01"}, "Weather?")
    assert values == {"query": "Weather?", "city": "Hangzhou", "date": "2025-03-01"}


def test_undeclared_and_reserved_keys_are_ignored() -> None:
    values = start_values(
        DECLARED,
        {"city": "Hangzhou", "mood": "fine", "user_defined_params": {"plugin": {"k": "v"}}},
        "q",
    )
    assert values == {"query": "q", "city": "Hangzhou"}


@pytest.mark.parametrize("biz_params", [{}, {"date": "today"}, {"city": None}])
def test_a_missing_required_parameter_is_400_invalid_parameter(
    biz_params: dict[str, object],
) -> None:
    with pytest.raises(BailianError) as caught:
        start_values(DECLARED, biz_params, "q")
    assert (caught.value.code, caught.value.status) == ("InvalidParameter", 400)
    assert "'city'" in caught.value.message and "biz_params" in caught.value.message


def test_placeholders_take_the_start_values() -> None:
    prompt = fill_prompt("Answer for ${city} on ${date}. ${unknown}!", {"city": "Hangzhou", "n": 1})
    assert prompt == "Answer for Hangzhou on . !"
    assert fill_prompt("${spec}", {"spec": {"a": 1}}) == '{"a": 1}'


@pytest.mark.parametrize(
    ("mode", "expected"),
    [
        (None, None),
        ("agent_format", "agent_format"),
        ("message_format_plus", "message_format_plus"),
    ],
)
def test_supported_flow_stream_modes(mode: str | None, expected: str | None) -> None:
    assert flow_mode(mode) == expected


@pytest.mark.parametrize("mode", ["full_thoughts", "message_format"])
def test_documented_but_unsupported_modes_are_refused(mode: str) -> None:
    with pytest.raises(BailianError) as caught:
        flow_mode(mode)
    assert (caught.value.code, caught.value.status) == ("InvalidParameter", 400)
    assert "not supported by the local server" in caught.value.message


@pytest.mark.parametrize("incremental", [True, False])
def test_node_messages_follow_the_text_mode(incremental: bool) -> None:
    trace = WorkflowTrace(incremental)
    start = trace.start({"query": "q", "city": "Hangzhou"})
    found = trace.retrieved([Passage("1", "text", "a.md", "Title", "d1", 0.5)])
    first = trace.generating("Hel", "Hel")
    second = trace.generating("lo", "Hello")
    done = trace.generated("Hello")
    end = trace.end("Hello")
    keys = {
        "node_id",
        "node_name",
        "node_type",
        "node_status",
        "node_is_completed",
        "node_msg_seq_id",
        "message",
    }
    for message in (start, found, first, second, done, end):
        assert set(message) == keys
        assert message["message"]["role"] == "assistant"
    assert [m["node_type"] for m in (start, found, first, done, end)] == [
        "Start",
        "Retrieval",
        "LLM",
        "LLM",
        "End",
    ]
    assert json.loads(start["message"]["content"])["city"] == "Hangzhou"
    assert json.loads(found["message"]["content"])[0]["index_id"] == "1"
    assert (first["node_status"], first["node_is_completed"]) == ("executing", False)
    assert (done["node_status"], done["node_is_completed"]) == ("success", True)
    assert [first["node_msg_seq_id"], second["node_msg_seq_id"], done["node_msg_seq_id"]] == [
        1,
        2,
        3,
    ]
    assert second["message"]["content"] == ("lo" if incremental else "Hello")
    assert end["message"]["content"] == "Hello"


# -- workflow apps over HTTP -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def kb(http: httpx.Client) -> dict[str, str]:
    return doc_kb(http)


def workflow(server: LocalServer, kb: dict[str, str], **fields: Any) -> str:
    """Register a workflow app (start parameters ``city`` required, ``date`` optional)."""
    spec = AppSpec.build(
        app_id=unique("flow"),
        type="workflow",
        pipeline_ids=[kb["search"]],
        parameters=[{"name": "city", "required": True}, {"name": "date"}],
        **fields,
    )
    AppRegistry(server.data_dir).create(spec)
    return f"/api/v1/apps/{spec.app_id}/completion"


def flow_body(mode: str | None = "message_format_plus", **biz: Any) -> dict[str, Any]:
    params: dict[str, Any] = {"incremental_output": True}
    if mode:
        params["flow_stream_mode"] = mode
    return {"input": {"prompt": QUESTION, "biz_params": biz}, "parameters": params}


@pytest.mark.parametrize("streaming", [False, True])
def test_a_missing_required_start_parameter_is_the_400_envelope(
    http: httpx.Client, server: LocalServer, kb: dict[str, str], streaming: bool
) -> None:
    path = workflow(server, kb)
    body = flow_body(date="today") if streaming else {"input": {"prompt": QUESTION}}
    response = http.post(path, json=body, headers=SSE if streaming else {})
    assert response.status_code == 400
    error = parse_sse(response.content)[0]["data"] if streaming else response.json()
    assert error["code"] == "InvalidParameter" and "'city'" in error["message"]


@pytest.mark.parametrize("mode", ["full_thoughts", "message_format"])
def test_unsupported_flow_stream_modes_are_refused(
    http: httpx.Client, server: LocalServer, kb: dict[str, str], mode: str
) -> None:
    response = http.post(workflow(server, kb), json=flow_body(mode, city="Hangzhou"), headers=SSE)
    assert response.status_code == 400
    assert parse_sse(response.content)[0]["data"]["code"] == "InvalidParameter"


def test_message_format_plus_streams_the_nodes_in_order(
    http: httpx.Client, server: LocalServer, kb: dict[str, str]
) -> None:
    path = workflow(server, kb)
    response = http.post(path, json=flow_body(city="Hangzhou", extra="ignored"), headers=SSE)
    assert response.status_code == 200, response.text
    events = [e["data"] for e in parse_sse(response.content)]
    nodes = [e["output"]["workflow_message"] for e in events]
    kinds = [n["node_type"] for n in nodes]
    assert kinds[:2] == ["Start", "Retrieval"] and kinds[-2:] == ["LLM", "End"]
    assert set(kinds[2:-2]) == {"LLM"} and len(kinds) > 4
    assert json.loads(nodes[0]["message"]["content"]) == {"query": QUESTION, "city": "Hangzhou"}
    assert json.loads(nodes[1]["message"]["content"])  # the passages it found
    streaming = nodes[2:-2]
    assert all(n["node_status"] == "executing" and not n["node_is_completed"] for n in streaming)
    assert [n["node_msg_seq_id"] for n in streaming] == list(range(1, len(streaming) + 1))
    text = "".join(e["output"]["text"] for e in events)
    assert "".join(n["message"]["content"] for n in streaming) == text
    assert nodes[-1]["message"]["content"] == text and "local folder" in text
    assert [e["output"]["finish_reason"] for e in events] == ["null"] * (len(events) - 1) + ["stop"]
    assert all(e["usage"] == {} for e in events)


def test_without_node_messages_a_workflow_streams_text_only(
    http: httpx.Client, server: LocalServer, kb: dict[str, str]
) -> None:
    for mode in (None, "agent_format"):
        response = http.post(
            workflow(server, kb), json=flow_body(mode, city="Hangzhou"), headers=SSE
        )
        events = [e["data"] for e in parse_sse(response.content)]
        assert all("workflow_message" not in e["output"] for e in events)
        assert "local folder" in "".join(e["output"]["text"] for e in events)


def test_json_workflow_answer_has_empty_usage(
    http: httpx.Client, server: LocalServer, kb: dict[str, str]
) -> None:
    body = {"input": {"prompt": QUESTION, "biz_params": {"city": "Hangzhou"}}}
    response = http.post(workflow(server, kb), json=body)
    assert response.status_code == 200
    assert response.json()["usage"] == {}
    assert "local folder" in response.json()["output"]["text"]


def test_start_values_reach_the_models_prompt(
    http: httpx.Client,
    server: LocalServer,
    kb: dict[str, str],
    stub: StubModel,
) -> None:
    stub.reset(Script(deltas=["Sunny", " in Hangzhou."]))
    path = workflow(
        server,
        kb,
        system_prompt="You forecast for ${city} on ${date}.",
        model={"base_url": stub.base_url, "model": "stub-model"},
    )
    response = http.post(path, json=flow_body(city="Hangzhou", date="May 1"), headers=SSE)
    events = [e["data"] for e in parse_sse(response.content)]
    system = stub.requests[0]["messages"][0]["content"]
    assert system.startswith("You forecast for Hangzhou on May 1.")
    llm = [e["output"]["workflow_message"]["message"]["content"] for e in events[2:-2]]
    assert llm == ["Sunny", " in Hangzhou."]
    assert events[-1]["output"]["workflow_message"]["message"]["content"] == "Sunny in Hangzhou."
