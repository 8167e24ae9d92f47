"""Bailian app completion over real HTTP: JSON shapes and byte-exact SSE framing."""

from __future__ import annotations

import json
import re
from typing import Any

import httpx
import pytest

from langchain_zilliz_bailian.server import LocalServer
from tests.server.conftest import make_doc_pipelines, ok, parse_sse, unique

KB = """# Milvus Lite

## Storage

Milvus Lite keeps all data in a local folder on disk. The folder is a directory, not a single file.
Only one process may open the data folder at a time because of a lock file.

## Search

Search returns the nearest vectors by cosine similarity. Filters use boolean expressions on fields.

## Deployment

Milvus Lite runs inside the Python process and needs no separate server.
"""
QUESTION = "Where does Milvus Lite keep its data folder on disk?"
APP = "/api/v1/apps/0123456789abcdef0123456789abcdef/completion"
MARKER = re.compile(r"<ref>\[(\d+)\]</ref>")


@pytest.fixture(scope="module")
def kb(http: httpx.Client) -> dict[str, str]:
    pipes = make_doc_pipelines(http, unique("kb"), chunk_size=60)
    ok(
        http.post(
            f"/v1/pipelines/{pipes['ingestion']}/run_ingestion_with_file",
            files={"file": ("milvus-lite.md", KB.encode(), "text/markdown")},
            data={"data": json.dumps({"year": 2025})},
        )
    )
    return pipes


def rag_body(kb: dict[str, str], prompt: str = QUESTION, **params: Any) -> dict[str, Any]:
    return {
        "input": {"prompt": prompt},
        "parameters": {"rag_options": {"pipeline_ids": [kb["search"]]}, **params},
        "debug": {},
    }


def stream(http: httpx.Client, body: dict[str, Any], **headers: str) -> httpx.Response:
    hdrs = headers or {"X-DashScope-SSE": "enable"}
    return http.post(APP, json=body, headers=hdrs)


def test_json_completion_with_references(http: httpx.Client, kb: dict[str, str]) -> None:
    r = http.post(APP, json=rag_body(kb))
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/json"
    body = r.json()
    assert r.headers["x-request-id"] == body["request_id"]
    assert set(body) == {"output", "usage", "request_id"}
    out = body["output"]
    assert out["finish_reason"] == "stop" and out["session_id"]
    assert "local folder" in out["text"]
    cited = set(MARKER.findall(out["text"]))
    refs = out["doc_references"]
    assert cited and cited == {ref["index_id"] for ref in refs}
    for ref in refs:
        assert isinstance(ref["index_id"], str)
        assert ref["doc_name"] == "milvus-lite.md"
        assert {"title", "text", "doc_id", "images"} <= set(ref)
    assert any("local folder" in ref["text"] and ref["title"] == "Storage" for ref in refs)
    (model,) = body["usage"]["models"]
    assert set(model) == {"model_id", "input_tokens", "output_tokens"}
    assert model["input_tokens"] > 0 and model["output_tokens"] > 0
    assert "code" not in body and "thoughts" not in out


def _check_framing(raw: bytes) -> list[dict[str, Any]]:
    events = parse_sse(raw)
    for n, ev in enumerate(events, start=1):
        assert ev["lines"][:3] == [f"id:{n}", "event:result", ":HTTP_STATUS/200"]
        assert len(ev["lines"]) == 4 and ev["lines"][3].startswith("data:{")
    return events


def test_sse_incremental_is_byte_exact_and_matches_json(
    http: httpx.Client, kb: dict[str, str]
) -> None:
    full = http.post(APP, json=rag_body(kb)).json()
    r = stream(http, rag_body(kb, incremental_output=True))
    assert r.status_code == 200
    assert r.headers["content-type"] == "text/event-stream;charset=UTF-8"
    assert r.headers["x-dashscope-finished"] == "false"
    raw = r.content
    assert raw.startswith(b"id:1\nevent:result\n:HTTP_STATUS/200\ndata:{")
    assert b"data: " not in raw and b"[DONE]" not in raw
    events = _check_framing(raw)
    assert len(events) >= 6
    outs = [ev["data"]["output"] for ev in events]
    assert [o["finish_reason"] for o in outs] == ["null"] * (len(outs) - 1) + ["stop"]
    assert outs[-1]["text"] == ""
    assert "".join(o["text"] for o in outs) == full["output"]["text"]
    # A marker is split across events (B8).
    assert any(o["text"].endswith("</") or o["text"].endswith("<ref>[") for o in outs)
    # doc_references appear once the first marker is complete, then repeat in full.
    first_ref = next(i for i, o in enumerate(outs) if "doc_references" in o)
    assert "</ref>" in "".join(o["text"] for o in outs[: first_ref + 1])
    assert all(o["doc_references"] == outs[-1]["doc_references"] for o in outs[first_ref:])
    assert outs[-1]["doc_references"] == full["output"]["doc_references"]
    # Usage is cumulative per event; one session and request id throughout.
    usage = [ev["data"]["usage"]["models"][0] for ev in events]
    tokens = [u["output_tokens"] for u in usage]
    assert tokens == sorted(tokens) and tokens[0] < tokens[-1]
    assert tokens[-1] == full["usage"]["models"][0]["output_tokens"]
    assert len({u["input_tokens"] for u in usage}) == 1
    assert len({o["session_id"] for o in outs}) == 1
    assert {ev["data"]["request_id"] for ev in events} == {r.headers["x-request-id"]}


def test_sse_cumulative_default_via_accept_header(http: httpx.Client, kb: dict[str, str]) -> None:
    r = stream(http, rag_body(kb), Accept="text/event-stream")
    events = _check_framing(r.content)
    texts = [ev["data"]["output"]["text"] for ev in events]
    assert len(texts) >= 6
    for prev, cur in zip(texts, texts[1:]):
        assert cur.startswith(prev)
    assert events[-1]["data"]["output"]["finish_reason"] == "stop"
    assert texts[-1] == texts[-2] and MARKER.search(texts[-1])


def test_sse_events_are_flushed_one_by_one(server: LocalServer, kb: dict[str, str]) -> None:
    """Events arrive as separate reads while the stream is still open (no buffering)."""
    with (
        httpx.Client(
            base_url=server.url, headers={"Authorization": f"Bearer {server.api_key}"}
        ) as client,
        client.stream(
            "POST",
            APP,
            json=rag_body(kb, incremental_output=True),
            headers={"X-DashScope-SSE": "enable"},
        ) as r,
    ):
        chunks = [c for c in r.iter_raw() if c]
    assert len(chunks) >= 4
    assert all(c.endswith(b"\n\n") for c in chunks)


def test_has_thoughts_returns_rag_thought(http: httpx.Client, kb: dict[str, str]) -> None:
    out = http.post(APP, json=rag_body(kb, has_thoughts=True)).json()["output"]
    (thought,) = out["thoughts"]
    assert thought["action_type"] == "agentRag" and thought["action"] == "rag"
    assert isinstance(thought["observation"], str)
    observation = json.loads(thought["observation"])
    assert observation and observation[0]["referenceIndex"] == 1
    assert any("local folder" in item["content"] for item in observation)


def test_session_memory_across_turns(http: httpx.Client) -> None:
    first = http.post(APP, json={"input": {"prompt": "My name is Ada."}}).json()["output"]
    assert (
        first["text"].startswith('You said: "My name is Ada."') and "Earlier" not in first["text"]
    )
    sid = first["session_id"]
    second = http.post(APP, json={"input": {"prompt": "What is my name?", "session_id": sid}})
    out = second.json()["output"]
    assert out["session_id"] == sid
    assert 'Earlier in this conversation you said: "My name is Ada."' in out["text"]
    # Streaming turns are remembered too.
    r = stream(
        http,
        {
            "input": {"prompt": "Third turn.", "session_id": sid},
            "parameters": {"incremental_output": True},
        },
    )
    assert parse_sse(r.content)[-1]["data"]["output"]["session_id"] == sid
    fourth = http.post(APP, json={"input": {"prompt": "Again?", "session_id": sid}}).json()
    assert '"Third turn."' in fourth["output"]["text"]
    # Longer history means more input tokens.
    assert fourth["usage"]["models"][0]["input_tokens"] > 10
    other = http.post(APP, json={"input": {"prompt": "What is my name?"}}).json()["output"]
    assert "Earlier" not in other["text"] and other["session_id"] != sid


def test_messages_history_and_prompt_appended(http: httpx.Client) -> None:
    messages = [
        {"role": "system", "content": "You are a helpful assistant."},
        {"role": "user", "content": "Who are you?"},
        {"role": "assistant", "content": "A local app."},
        {"role": "user", "content": "Which staple food do people prefer?"},
    ]
    out = http.post(APP, json={"input": {"messages": messages}}).json()["output"]
    assert out["text"].startswith('You said: "Which staple food do people prefer?"')
    assert '"Who are you?"' in out["text"]
    out = http.post(APP, json={"input": {"messages": messages, "prompt": "And rice?"}}).json()
    assert out["output"]["text"].startswith('You said: "And rice?"')
    assert '"Which staple food do people prefer?"' in out["output"]["text"]


@pytest.mark.parametrize(
    ("body", "headers", "message"),
    [
        ({"input": {}}, {}, 'Either "prompt" or "messages" must exist'),
        ({"parameters": {}}, {}, 'Either "prompt" or "messages" must exist'),
        (
            {"input": {"prompt": "hi"}, "parameters": {"incremental_output": True}},
            {},
            "parameter incremental_output only support stream call",
        ),
        ({"input": {"messages": [{"role": "robot", "content": "x"}]}}, {}, "role"),
        (
            {"input": {"prompt": "hi"}, "parameters": {"rag_options": {"pipeline_ids": ["nope"]}}},
            {},
            "nope",
        ),
    ],
)
def test_invalid_parameter_errors(
    http: httpx.Client, body: dict[str, Any], headers: dict[str, str], message: str
) -> None:
    r = http.post(APP, json=body, headers=headers)
    assert r.status_code == 400
    err = r.json()
    assert err["code"] == "InvalidParameter" and message in err["message"]
    assert err["request_id"] == r.headers["x-request-id"]


def test_sse_request_errors_are_framed_as_error_events(http: httpx.Client) -> None:
    r = stream(http, {"input": {}})
    assert r.status_code == 400 and r.headers["content-type"].startswith("text/event-stream")
    (ev,) = parse_sse(r.content)
    assert ev["lines"][:3] == ["id:1", "event:error", ":HTTP_STATUS/400"]
    assert ev["data"]["code"] == "InvalidParameter"


def test_invalid_app_id_and_unknown_parameters(http: httpx.Client) -> None:
    r = http.post("/api/v1/apps/bad.app/completion", json={"input": {"prompt": "hi"}})
    assert r.status_code == 400 and r.json()["code"] == "InvalidParameter"
    body = {
        "input": {"prompt": "hi", "biz_params": {"city": "Hangzhou"}},
        "parameters": {"workspace": None, "stream": True, "top_k": 100, "seed": 1234, "x": [1]},
        "debug": {},
    }
    assert http.post(APP, json=body).status_code == 200


def test_bad_api_key_is_401_invalid_api_key(server: LocalServer) -> None:
    url = server.bailian_base_url + "/apps/abc/completion"
    r = httpx.post(url, json={"input": {"prompt": "hi"}}, headers={"Authorization": "Bearer nope"})
    assert r.status_code == 401
    body = r.json()
    assert body["code"] == "InvalidApiKey" and body["message"] == "Invalid API-key provided."
    assert body["request_id"] == r.headers["x-request-id"]
    r = httpx.post(url, json={"input": {"prompt": "hi"}})
    assert r.status_code == 401 and r.json()["code"] == "InvalidApiKey"


def test_chinese_prompt_gets_chinese_echo(http: httpx.Client) -> None:
    out = http.post(APP, json={"input": {"prompt": "你好，世界"}}).json()["output"]
    assert out["text"].startswith("你说")
