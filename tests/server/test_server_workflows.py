"""Workflow apps: start-node values from ``biz_params``, ``flow_stream_mode`` and node messages."""

from __future__ import annotations

import json
from dataclasses import dataclass

import pytest

from langchain_zilliz_bailian.server.answer import Passage
from langchain_zilliz_bailian.server.errors import BailianError
from langchain_zilliz_bailian.server.workflows import (
    WorkflowTrace,
    fill_prompt,
    flow_mode,
    start_values,
)


@dataclass(frozen=True)
class Param:
    name: str
    required: bool = False


DECLARED = [Param("city", required=True), Param("date")]


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
