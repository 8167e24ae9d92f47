"""Apps whose answers come from an OpenAI-compatible model (the scripted stub), over real HTTP:
what the model is sent, deltas streamed as they arrive, usage, and every endpoint failure."""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from langchain_zilliz_bailian._http.sse import SSEvent, iter_events
from langchain_zilliz_bailian.server import LocalServer
from langchain_zilliz_bailian.server.apps import AppRegistry, AppSpec
from langchain_zilliz_bailian.server.generation import ChatModelClient
from langchain_zilliz_bailian.server.model_responder import ModelResponder
from tests.fakes.openai_stub import (
    ENDPOINT_STATUSES,
    KEY_VARIABLE,
    SECRET,
    Script,
    StubModel,
    free_port,
)
from tests.server.conftest import parse_sse, unique
from tests.server.kb import doc_kb
from tests.server.test_server_bailian import QUESTION

SSE = {"Accept": "text/event-stream"}
CITED = ["Milvus Lite keeps", " its data in a local folder [", "1]", "."]


@pytest.fixture(scope="module")
def kb(http: httpx.Client) -> dict[str, str]:
    return doc_kb(http)


def define(server: LocalServer, base_url: str, **fields: Any) -> str:
    """Register an app answering through the model at ``base_url``; its completion path."""
    spec = AppSpec.build(
        app_id=unique("model_app"),
        model={"base_url": base_url, "model": "stub-model", "api_key_env": KEY_VARIABLE},
        **fields,
    )
    AppRegistry(server.data_dir).create(spec)
    return f"/api/v1/apps/{spec.app_id}/completion"


@pytest.fixture
def rag_app(server: LocalServer, stub: StubModel, kb: dict[str, str]) -> str:
    return define(
        server,
        stub.base_url,
        type="rag",
        system_prompt="You answer from the Milvus handbook.",
        pipeline_ids=[kb["search"]],
    )


def test_the_model_gets_prompt_passages_and_conversation(
    http: httpx.Client, stub: StubModel, rag_app: str
) -> None:
    body = {
        "input": {
            "messages": [
                {"role": "user", "content": "What is Milvus Lite?"},
                {"role": "assistant", "content": "An embedded Milvus."},
                {"role": "user", "content": QUESTION},
            ]
        }
    }
    assert http.post(rag_app, json=body).status_code == 200
    (sent,) = stub.requests
    assert sent["stream"] is True and sent["stream_options"] == {"include_usage": True}
    assert sent["model"] == "stub-model"
    system, *turns = sent["messages"]
    assert system["role"] == "system"
    assert system["content"].startswith("You answer from the Milvus handbook.")
    assert "[1] " in system["content"] and "local folder" in system["content"]
    assert turns == body["input"]["messages"]
    assert stub.headers[0]["authorization"] == f"Bearer {SECRET}"


def test_json_answer_is_the_models_text_with_markers_references_and_usage(
    http: httpx.Client, stub: StubModel, rag_app: str
) -> None:
    stub.reset(Script(deltas=CITED, usage=(321, 12)))
    response = http.post(rag_app, json={"input": {"prompt": QUESTION}})
    assert response.status_code == 200, response.text
    out = response.json()["output"]
    assert out["text"] == "Milvus Lite keeps its data in a local folder <ref>[1]</ref>."
    assert [ref["index_id"] for ref in out["doc_references"]] == ["1"]
    assert response.json()["usage"] == {
        "models": [{"input_tokens": 321, "output_tokens": 12, "model_id": "stub-model"}]
    }


@pytest.mark.parametrize("incremental", [True, False])
def test_stream_relays_the_deltas_in_both_text_modes(
    http: httpx.Client, stub: StubModel, rag_app: str, incremental: bool
) -> None:
    stub.reset(Script(deltas=CITED, usage=(321, 12)))
    body = {"input": {"prompt": QUESTION}, "parameters": {"incremental_output": incremental}}
    response = http.post(rag_app, json=body, headers=SSE)
    assert response.status_code == 200
    events = [e["data"]["output"] for e in parse_sse(response.content)]
    texts = [e["text"] for e in events]
    whole = "Milvus Lite keeps its data in a local folder <ref>[1]</ref>."
    if incremental:
        assert texts == [
            "Milvus Lite keeps",
            " its data in a local folder ",
            "<ref>[1]</ref>",
            ".",
            "",
        ]
    else:
        assert texts[-1] == whole
        assert all(whole.startswith(t) for t in texts)
    assert [e["finish_reason"] for e in events] == ["null"] * 4 + ["stop"]
    assert "doc_references" not in events[1] and events[2]["doc_references"][0]["index_id"] == "1"
    last = parse_sse(response.content)[-1]["data"]["usage"]["models"][0]
    assert (last["input_tokens"], last["output_tokens"], last["model_id"]) == (
        321,
        12,
        "stub-model",
    )


@contextlib.contextmanager
def events_of(server: LocalServer, path: str) -> Iterator[Iterator[SSEvent]]:
    """The events of an incremental stream of ``path``, read as they arrive."""
    with (
        httpx.Client(base_url=server.url, timeout=30) as client,
        client.stream(
            "POST",
            path,
            json={"input": {"prompt": "Talk."}, "parameters": {"incremental_output": True}},
            headers={**SSE, "Authorization": f"Bearer {server.api_key}"},
        ) as response,
    ):
        yield iter_events(response)


def test_each_delta_leaves_the_server_when_the_model_sends_it(
    server: LocalServer, stub: StubModel
) -> None:
    path = define(server, stub.base_url, type="model")
    stub.reset(Script(deltas=["one", " two", " three", " four"], delay_s=0.25))
    with events_of(server, path) as events:
        arrived = [time.perf_counter() for e in events if e.json()["output"]["text"]]
    assert len(arrived) == 4
    stub.assert_relayed_live(arrived)  # while the model spends 250 ms between deltas


def test_a_client_that_leaves_stops_the_model_stream(server: LocalServer, stub: StubModel) -> None:
    path = define(server, stub.base_url, type="model")
    stub.reset(Script(deltas=["w"] * 20, delay_s=0.05))
    with events_of(server, path) as events:
        next(events)
    time.sleep(1.5)  # the whole script would be sent in 1 s
    assert len(stub.sent_at) < 20


@pytest.mark.parametrize(("status", "code", "answered"), ENDPOINT_STATUSES)
@pytest.mark.parametrize("streaming", [False, True])
def test_an_endpoint_status_becomes_an_envelope(
    http: httpx.Client,
    stub: StubModel,
    rag_app: str,
    status: int,
    code: str,
    answered: int,
    streaming: bool,
    caplog: pytest.LogCaptureFixture,
) -> None:
    stub.reset(Script(status=status, error_body=f'{{"error":{{"message":"key {SECRET} bad"}}}}'))
    with caplog.at_level(logging.DEBUG):
        response = http.post(
            rag_app, json={"input": {"prompt": QUESTION}}, headers=SSE if streaming else {}
        )
    assert response.status_code == answered
    if streaming:
        (event,) = parse_sse(response.content)
        assert (event["event"], event["status"]) == ("error", answered)
        error = event["data"]
    else:
        error = response.json()
    assert set(error) == {"code", "message", "request_id"}
    assert error["code"] == code and f"HTTP {status}" in error["message"]
    assert SECRET not in response.text and SECRET not in caplog.text


def test_connection_refused_is_503_model_unavailable(
    http: httpx.Client, server: LocalServer, stub: StubModel
) -> None:
    """(``stub`` only sets the key variable; nothing listens at the app's address.)"""
    path = define(server, f"http://127.0.0.1:{free_port()}/v1", type="model")
    response = http.post(path, json={"input": {"prompt": "Hi"}})
    assert response.status_code == 503
    assert response.json()["code"] == "ModelUnavailable"


@contextlib.contextmanager
def model_client(server: LocalServer, client: ChatModelClient) -> Iterator[None]:
    """The server's apps answer through ``client`` while inside."""
    apps = server.app.state.context.apps
    saved = apps.model_responder
    apps.model_responder = ModelResponder(client)
    try:
        yield
    finally:
        apps.model_responder = saved


@pytest.fixture
def short_timeout(server: LocalServer) -> Iterator[None]:
    """The server's model client with a 0.8 s idle limit, for the duration of one test (the
    stalls below are 2.5 s; a loaded machine's pauses stay well under the limit)."""
    with model_client(server, ChatModelClient(timeout=httpx.Timeout(5, read=0.8))):
        yield


def test_a_model_that_never_starts_times_out(
    http: httpx.Client, stub: StubModel, server: LocalServer, short_timeout: None
) -> None:
    path = define(server, stub.base_url, type="model")
    stub.reset(Script(first_delay_s=2.5))
    response = http.post(path, json={"input": {"prompt": "Hi"}})
    assert response.status_code == 500
    assert response.json()["code"] == "InternalError.Timeout"


@pytest.mark.parametrize(
    ("script", "code"),
    [
        (Script(deltas=["a", "b", "c", "d"], malformed_after=2), "ModelServiceFailed"),
        (Script(deltas=["a", "b", "c", "d"], truncate_after=2), "ModelServiceFailed"),
        (Script(deltas=["a", "b", "c", "d"], delay_s=2.5), "InternalError.Timeout"),
    ],
    ids=["not-json", "truncated", "stalled"],
)
def test_a_failure_mid_stream_is_an_error_event(
    http: httpx.Client,
    stub: StubModel,
    server: LocalServer,
    short_timeout: None,
    script: Script,
    code: str,
) -> None:
    path = define(server, stub.base_url, type="model")
    stub.reset(script)
    body = {"input": {"prompt": "Hi"}, "parameters": {"incremental_output": True}}
    response = http.post(path, json=body, headers=SSE)
    assert response.status_code == 200
    events = parse_sse(response.content)
    assert [e["event"] for e in events] == ["result"] * (len(events) - 1) + ["error"]
    assert "".join(e["data"]["output"]["text"] for e in events[:-1]) == "ab"[: len(events) - 1]
    error = events[-1]
    assert error["status"] == 500 and error["id"] == str(len(events))
    assert set(error["data"]) == {"code", "message", "request_id"}
    assert error["data"]["code"] == code


@pytest.fixture
def short_deadline(server: LocalServer) -> Iterator[None]:
    """The server's model client with a 0.6 s total stream deadline, for one test."""
    with model_client(server, ChatModelClient(deadline_s=0.6)):
        yield


def test_a_trickling_model_hits_the_stream_deadline(
    http: httpx.Client, stub: StubModel, server: LocalServer, short_deadline: None
) -> None:
    path = define(server, stub.base_url, type="model")
    stub.reset(Script(deltas=["a"] * 200, delay_s=0.05))  # 10 s, never idle for long
    body = {"input": {"prompt": "Hi"}, "parameters": {"incremental_output": True}}
    started = time.perf_counter()
    response = http.post(path, json=body, headers=SSE)
    assert time.perf_counter() - started < 5.0
    assert response.status_code == 200
    events = parse_sse(response.content)
    assert [e["event"] for e in events] == ["result"] * (len(events) - 1) + ["error"]
    assert len(events) > 1
    error = events[-1]
    assert error["status"] == 500 and error["id"] == str(len(events))
    assert set(error["data"]) == {"code", "message", "request_id"}
    assert error["data"]["code"] == "InternalError.Timeout"
    assert error["data"]["request_id"] == response.headers["x-request-id"]
    # The server is free again: the next answer arrives whole.
    stub.reset(Script())
    assert http.post(path, json={"input": {"prompt": "Hi"}}).json()["output"]["text"]


def test_an_unset_key_variable_is_named_not_guessed(
    http: httpx.Client, rag_app: str, stub: StubModel, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(KEY_VARIABLE)
    response = http.post(rag_app, json={"input": {"prompt": QUESTION}})
    assert response.status_code == 500
    assert response.json()["code"] == "ModelServiceFailed"
    assert KEY_VARIABLE in response.json()["message"]
    assert stub.requests == []


THINKING = Script(reasoning=["The folder", " is named in the handbook."], deltas=["In a folder."])


@pytest.fixture
def thinking(server: LocalServer, stub: StubModel) -> str:
    """A model app whose model thinks before it answers."""
    stub.reset(THINKING)
    return define(server, stub.base_url, type="model")


def outputs(http: httpx.Client, path: str, **parameters: bool) -> list[dict[str, Any]]:
    """The ``output`` of each event of an incremental stream asking "Where?"."""
    body = {"input": {"prompt": "Where?"}, "parameters": {"incremental_output": True, **parameters}}
    response = http.post(path, json=body, headers=SSE)
    return [e["data"]["output"] for e in parse_sse(response.content)]


def test_a_thinking_models_reasoning_is_a_reasoning_thought(
    http: httpx.Client, thinking: str
) -> None:
    body = {"input": {"prompt": "Where?"}, "parameters": {"has_thoughts": True}}
    out = http.post(thinking, json=body).json()["output"]
    assert out["text"] == "In a folder."
    assert out["thoughts"] == [
        {
            "thought": "The folder is named in the handbook.",
            "action_type": "reasoning",
            "response": "The folder is named in the handbook.",
            "action_name": "思考过程",
            "action": "reasoning",
        }
    ]


def test_reasoning_streams_in_text_less_events_before_the_answer(
    http: httpx.Client, thinking: str
) -> None:
    events = outputs(http, thinking, has_thoughts=True)
    assert [e["text"] for e in events] == ["", "", "In a folder.", ""]
    reasoning = [e["thoughts"][-1]["thought"] for e in events]
    assert reasoning[:2] == ["The folder", "The folder is named in the handbook."]
    assert reasoning[-1] == "The folder is named in the handbook."


def test_without_has_thoughts_reasoning_stays_out(http: httpx.Client, thinking: str) -> None:
    events = outputs(http, thinking)
    assert [e["text"] for e in events] == ["In a folder.", ""]
    assert all("thoughts" not in e for e in events)


def test_temperature_top_p_and_seed_reach_the_model_and_top_k_does_not(
    http: httpx.Client, stub: StubModel, rag_app: str
) -> None:
    sampling = {"temperature": 0.3, "top_p": 0.8, "seed": 1234, "top_k": 5}
    body = {"input": {"prompt": QUESTION}, "parameters": sampling}
    assert http.post(rag_app, json=body).status_code == 200
    assert http.post(rag_app, json={"input": {"prompt": QUESTION}}).status_code == 200
    given, default = stub.requests
    assert (given["temperature"], given["top_p"], given["seed"]) == (0.3, 0.8, 1234)
    assert "top_k" not in given
    assert not {"temperature", "top_p", "seed", "top_k"} & set(default)  # the model's defaults


@pytest.mark.parametrize(
    ("parameters", "message"),
    [
        ({"temperature": 2}, "parameters.temperature must be in [0, 2)."),
        ({"temperature": -0.1}, "parameters.temperature must be in [0, 2)."),
        ({"temperature": "0.5"}, "parameters.temperature must be a number."),
        ({"top_p": 0}, "parameters.top_p must be in (0, 1]."),
        ({"top_p": 1.5}, "parameters.top_p must be in (0, 1]."),
        ({"top_p": True}, "parameters.top_p must be a number."),
        ({"seed": -1}, "parameters.seed must be an integer in [0, 2147483647]."),
        ({"seed": 2**31}, "parameters.seed must be an integer in [0, 2147483647]."),
        ({"seed": 1.5}, "parameters.seed must be an integer in [0, 2147483647]."),
    ],
)
def test_sampling_out_of_range_is_refused_before_the_model(
    http: httpx.Client, stub: StubModel, rag_app: str, parameters: dict[str, Any], message: str
) -> None:
    response = http.post(rag_app, json={"input": {"prompt": QUESTION}, "parameters": parameters})
    assert response.status_code == 400
    assert response.json()["code"] == "InvalidParameter"
    assert response.json()["message"] == message
    assert response.json()["request_id"]
    assert stub.requests == []
