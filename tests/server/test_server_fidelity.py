"""The local app answers in the shapes the real service was recorded answering.

For each recorded exchange in ``tests/fixtures/bailian-recordings/`` (JSON and SSE, thoughts,
document references, usage, an error) the local app is asked the same kind of question and the
field sets of both answers are compared: keys, nesting and value types, never values. Thoughts
are compared per ``action_type`` (the recordings hold ``agentRag``, ``api``/memory and
``reasoning`` thoughts), including the JSON inside ``observation``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from langchain_zilliz_bailian.bailian.models import WorkflowMessage
from langchain_zilliz_bailian.server import LocalServer
from langchain_zilliz_bailian.server.apps import AppRegistry, AppSpec
from tests.fakes.bailian import read_recording
from tests.fakes.openai_stub import Script, StubModel
from tests.server.conftest import parse_sse, unique
from tests.server.kb import doc_kb
from tests.server.test_server_bailian import APP, QUESTION, rag_body

JSON_RECORDINGS = (
    "application-single-generation-text-nosse",
    "application-conversation-generation-message-nosse",
    "application-conversation-generation-session-id-nosse",
)
SSE_RECORDING = "application-single-generation-text-sse"
#: Thought fields that hold JSON in a string; their inner shape is compared too.
JSON_STRING_FIELDS = ("observation",)


@pytest.fixture(scope="module")
def kb(http: httpx.Client) -> dict[str, str]:
    """A document knowledge base (the recordings' apps searched documents)."""
    return doc_kb(http)


def shape(value: Any) -> Any:
    """Keys, nesting and types of ``value``: a dict keeps its keys, a list the shape of its items
    (the set of their distinct shapes), a scalar its JSON type."""
    if isinstance(value, dict):
        return {key: shape(item) for key, item in value.items()}
    if isinstance(value, list):
        shapes: list[Any] = []
        for item in value:
            if shape(item) not in shapes:
                shapes.append(shape(item))
        return ["list", *shapes]
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    if value is None:
        return "null"
    return type(value).__name__


def conforms(ours: Any, real: Any) -> bool:
    """Whether shape ``ours`` has the keys, nesting and types of shape ``real``: the same keys at
    every level, and each list item like some recorded item (an empty list fits any list)."""
    if isinstance(real, dict):
        return (
            isinstance(ours, dict)
            and set(ours) == set(real)
            and all(conforms(ours[key], real[key]) for key in real)
        )
    if isinstance(real, list):
        return (
            isinstance(ours, list)
            and ours[0] == "list"
            and all(any(conforms(item, seen) for seen in real[1:]) for item in ours[1:])
        )
    return bool(ours == real)


def without_thoughts(body: dict[str, Any]) -> Any:
    """The shape of ``body`` with thoughts compared separately (their kinds vary by app)."""
    output = {k: v for k, v in body["output"].items() if k != "thoughts"}
    return shape({**body, "output": output})


def thought_shapes(body: dict[str, Any]) -> dict[str, Any]:
    """``action_type`` → the shape of that thought, with JSON strings opened."""
    found: dict[str, Any] = {}
    for thought in body["output"].get("thoughts") or []:
        opened = dict(thought)
        for key in JSON_STRING_FIELDS:
            if isinstance(opened.get(key), str) and opened[key].strip().startswith("["):
                items = json.loads(opened[key])
                opened[key] = shape(items[:1])
        found[thought["action_type"]] = shape(opened)
    return found


def recorded(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(read_recording(f"{name}.response.body.txt"))
    return data


def recorded_events(name: str) -> list[dict[str, Any]]:
    return [e["data"] for e in parse_sse(read_recording(f"{name}.response.body.txt"))]


def recorded_thought_shapes() -> dict[str, list[Any]]:
    """Every recorded shape of each thought kind."""
    kinds: dict[str, list[Any]] = {}
    for name in JSON_RECORDINGS:
        for kind, found in thought_shapes(recorded(name)).items():
            kinds.setdefault(kind, [])
            if found not in kinds[kind]:
                kinds[kind].append(found)
    return kinds


def test_the_shape_helpers_tell_types_and_keys_apart() -> None:
    assert shape({"a": 1, "b": [{"c": "x"}]}) == {"a": "number", "b": ["list", {"c": "str"}]}
    assert not conforms(shape({"a": 1}), shape({"a": "1"}))
    assert not conforms(shape({"a": 1}), shape({"a": 1, "b": 2}))
    assert not conforms(shape({"a": True}), shape({"a": 1}))
    assert not conforms(shape({"a": [{"c": 1}]}), shape({"a": [{"c": "x"}]}))
    assert conforms(shape({"a": []}), shape({"a": ["x"]}))


@pytest.mark.parametrize("name", JSON_RECORDINGS[:1])
def test_json_rag_answer_has_the_recorded_fields(
    http: httpx.Client, kb: dict[str, str], name: str
) -> None:
    real = recorded(name)
    request = rag_body(kb, has_thoughts=True)
    request["input"]["memory_id"] = unique("memory")  # nothing recalled yet, as recorded
    body = http.post(APP, json=request).json()
    assert conforms(without_thoughts(body), without_thoughts(real))
    ours = thought_shapes(body)
    assert set(ours) == {"agentRag", "api"}  # retrieval and memory, as in the recording
    known = recorded_thought_shapes()
    for kind, found in ours.items():
        assert any(conforms(found, seen) for seen in known[kind]), kind


def test_json_answer_to_messages_has_the_recorded_fields(
    http: httpx.Client, kb: dict[str, str]
) -> None:
    real = recorded("application-conversation-generation-message-nosse")
    request = rag_body(kb, has_thoughts=True)
    request["input"] = {
        "messages": [
            {"role": "system", "content": "You are a helpful assistant."},
            {"role": "user", "content": "Who are you?"},
            {"role": "assistant", "content": "A local app."},
            {"role": "user", "content": "Where does Milvus Lite keep its data?"},
        ]
    }
    body = http.post(APP, json=request).json()
    # The recorded answer cited nothing (no doc_references); ours may cite its passages.
    ours = without_thoughts(body)
    ours["output"].pop("doc_references", None)
    assert conforms(ours, without_thoughts(real))
    known = recorded_thought_shapes()
    for kind, found in thought_shapes(body).items():
        assert any(conforms(found, seen) for seen in known[kind]), kind


def test_incremental_stream_events_have_the_recorded_fields(
    http: httpx.Client, kb: dict[str, str]
) -> None:
    real = [shape(e) for e in recorded_events(SSE_RECORDING)]
    response = http.post(
        APP, json=rag_body(kb, incremental_output=True), headers={"Accept": "text/event-stream"}
    )
    ours = [shape(e["data"]) for e in parse_sse(response.content)]
    for event in ours:
        assert any(conforms(event, seen) for seen in real), event
    # Both kinds the recording shows: before and after the references appear.
    assert {"doc_references" in e["output"] for e in ours} == {True, False}


def test_error_envelope_has_the_recorded_fields(http: httpx.Client) -> None:
    real = recorded("auth-error-nosse")
    response = httpx.post(
        str(http.base_url) + APP,
        json={"input": {"prompt": "hi"}},
        headers={"Authorization": "Bearer sk-wrong"},
    )
    assert response.status_code == 401
    assert conforms(shape(response.json()), shape(real))


# -- apps answering through a model, and workflows -------------------------------------------------


@pytest.fixture(scope="module")
def model_app(server: LocalServer, kb: dict[str, str]) -> Iterator[tuple[str, StubModel]]:
    """A RAG app whose answers come from the scripted OpenAI-compatible stub."""
    with StubModel() as stub:
        spec = AppSpec.build(
            app_id=unique("fidelity_model"),
            pipeline_ids=[kb["search"]],
            model={"base_url": stub.base_url, "model": "qwen-stub"},
        )
        AppRegistry(server.data_dir).create(spec)
        yield f"/api/v1/apps/{spec.app_id}/completion", stub


def test_model_app_json_has_the_recorded_fields(
    http: httpx.Client, model_app: tuple[str, StubModel]
) -> None:
    path, stub = model_app
    stub.reset(Script(deltas=["It keeps data ", "in a local folder [1]."]))
    body = http.post(
        path, json={"input": {"prompt": QUESTION}, "parameters": {"has_thoughts": True}}
    )
    real = recorded(JSON_RECORDINGS[0])
    assert "doc_references" in body.json()["output"]
    assert conforms(without_thoughts(body.json()), without_thoughts(real))
    known = recorded_thought_shapes()
    for kind, found in thought_shapes(body.json()).items():
        assert any(conforms(found, seen) for seen in known[kind]), kind


@pytest.mark.parametrize("incremental", [True, False])
def test_model_app_stream_has_the_recorded_fields(
    http: httpx.Client, model_app: tuple[str, StubModel], incremental: bool
) -> None:
    """The recorded stream is incremental; a cumulative stream differs only in its values."""
    path, stub = model_app
    stub.reset(Script(deltas=["It keeps data ", "in a local folder [1]", "."]))
    real = [shape(e) for e in recorded_events(SSE_RECORDING)]
    request = {"input": {"prompt": QUESTION}, "parameters": {"incremental_output": incremental}}
    response = http.post(path, json=request, headers={"Accept": "text/event-stream"})
    ours = [shape(e["data"]) for e in parse_sse(response.content)]
    for event in ours:
        assert any(conforms(event, seen) for seen in real), event
    assert {"doc_references" in e["output"] for e in ours} == {True, False}


def test_workflow_events_have_the_documented_fields(
    http: httpx.Client, server: LocalServer, kb: dict[str, str]
) -> None:
    """No workflow stream was recorded: ``workflow_message`` is checked against the documented
    fields (the SDKs' model; ``parent_node_id`` exists only in the Java one), the rest of each
    event against the recorded stream, with ``usage`` ``{}`` as the recorded workflow app."""
    spec = AppSpec.build(
        app_id=unique("fidelity_flow"), type="workflow", pipeline_ids=[kb["search"]]
    )
    AppRegistry(server.data_dir).create(spec)
    request = {
        "input": {"prompt": QUESTION},
        "parameters": {"incremental_output": True, "flow_stream_mode": "message_format_plus"},
    }
    response = http.post(
        f"/api/v1/apps/{spec.app_id}/completion",
        json=request,
        headers={"Accept": "text/event-stream"},
    )
    real = [shape(e) for e in recorded_events(SSE_RECORDING)]
    documented = set(WorkflowMessage.model_fields) - {"parent_node_id"}
    for event in (e["data"] for e in parse_sse(response.content)):
        node = event["output"].pop("workflow_message")
        assert set(node) == documented
        assert shape(node["message"]) == {"role": "str", "content": "str"}
        assert event.pop("usage") == {}
        assert any(
            conforms(shape(event), {k: v for k, v in seen.items() if k != "usage"}) for seen in real
        )


def test_a_thinking_models_reasoning_thought_has_the_recorded_fields(
    http: httpx.Client, model_app: tuple[str, StubModel]
) -> None:
    """The recorded deepseek-r1 app returned its thinking as a ``reasoning`` thought."""
    path, stub = model_app
    stub.reset(Script(reasoning=["Let me look at the passages."], deltas=["A folder [1]."]))
    request = {"input": {"prompt": QUESTION}, "parameters": {"has_thoughts": True}}
    body = http.post(path, json=request).json()
    ours = thought_shapes(body)
    assert set(ours) == {"agentRag", "reasoning"}
    known = recorded_thought_shapes()
    for kind, found in ours.items():
        assert any(conforms(found, seen) for seen in known[kind]), kind
