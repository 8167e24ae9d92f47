"""Replays of real DashScope exchanges (cassettes made by ``scripts/convert_bailian_recordings.py``).

Each test sends exactly the recorded request (the body is matched) and checks the parsed result
against the recording: text, session id, references, usage, request ids. The cassettes are never
re-recorded (``record_mode`` is pinned to ``none``): they hold the real service's answers.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from langchain_core.messages import AIMessage, AIMessageChunk, HumanMessage, SystemMessage

from langchain_zilliz_bailian import BailianAppLLM, ChatBailianApp
from langchain_zilliz_bailian.bailian import BailianAppClient
from langchain_zilliz_bailian.errors import AuthenticationError
from tests.fakes.bailian import read_recording

SSE = "application-single-generation-text-sse"
SSE_APP = "010aa085cc9943268731861c9511bb0c"
RAG_APP = "5ccc140108fd4b2ea5e6101fbada7583"
KEY = "sk-recorded-exchanges-carry-no-key"
GENERATION: dict[str, Any] = {"top_k": 100, "top_p": 0.8, "seed": 1234, "temperature": 0.85}
SSE_RAG = {"pipeline_ids": ["thie5bysoj"], "tags": ["xUnit"]}
SSE_PROMPT = "总结xUnit Test Patterns中的内容"


@pytest.fixture(scope="module")
def vcr_config(vcr_config: dict[str, Any]) -> dict[str, Any]:
    """The shared config, but never recording: these cassettes are the real service's answers."""
    return {**vcr_config, "record_mode": "none"}


def recorded_events(name: str) -> list[dict[str, Any]]:
    """The data of each recorded event, parsed independently of the package's SSE decoder."""
    text = read_recording(f"{name}.response.body.txt").decode()
    blocks = [b for b in text.split("\n\n") if b.strip()]
    return [
        json.loads(next(line[5:] for line in block.split("\n") if line.startswith("data:")))
        for block in blocks
    ]


def recorded_json(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(read_recording(f"{name}.response.body.txt"))
    return data


# -- the incremental SSE stream (65 events) -------------------------------------------------------


def test_recorded_stream_is_what_the_readme_says() -> None:
    events = recorded_events(SSE)
    assert len(events) == 65
    assert [e["output"]["finish_reason"] for e in events[:-1]] == ["null"] * 64
    assert events[-1]["output"]["finish_reason"] == "stop"
    assert events[-1]["output"]["text"] == ""


@pytest.mark.vcr
@pytest.mark.default_cassette(SSE)
def test_client_stream_replays_every_delta_in_order() -> None:
    events = recorded_events(SSE)
    expected_text = "".join(e["output"]["text"] for e in events)
    with BailianAppClient(SSE_APP, api_key=KEY) as client:
        stream = client.stream(SSE_PROMPT, rag_options=SSE_RAG, **GENERATION)
        deltas = [chunk.delta for chunk in stream]
    assert deltas == [e["output"]["text"] for e in events]
    completion = stream.completion
    assert completion.text == expected_text
    assert completion.text.startswith("xUnit Test Patterns这本书讨论了测试自动化的目标")
    assert completion.finish_reason == "stop"
    assert completion.session_id == "069db8223d514dab91185954dc5108de"
    assert completion.request_id == "44862941-b743-9332-b49f-5f3db75a4873"
    assert completion.header_request_id == "fec856c6-c146-99bc-940c-fd6c36939a16"
    # usage: the last event's cumulative values, never a sum over events
    assert [m.model_dump() for m in completion.usage.models] == [
        {"model_id": "qwen-max-latest", "input_tokens": 2304, "output_tokens": 244}
    ]
    # references: the final event's list, replaced (never appended) on every event
    final_refs = events[-1]["output"]["doc_references"]
    assert [r.model_dump(exclude_defaults=True) for r in completion.doc_references] == [
        {k: v for k, v in ref.items() if v != []} for ref in final_refs
    ]
    assert [r.index_id for r in completion.doc_references] == ["2", "3", "4", "5"]
    assert completion.citations == ["4", "2", "3", "5"]


@pytest.mark.vcr
@pytest.mark.default_cassette(SSE)
async def test_client_astream_replays_every_delta_in_order() -> None:
    events = recorded_events(SSE)
    async with BailianAppClient(SSE_APP, api_key=KEY) as client:
        stream = client.astream(SSE_PROMPT, rag_options=SSE_RAG, **GENERATION)
        deltas = [chunk.delta async for chunk in stream]
    assert deltas == [e["output"]["text"] for e in events]
    assert stream.completion.usage.output_tokens == 244
    assert stream.completion.session_id == "069db8223d514dab91185954dc5108de"


@pytest.mark.vcr
@pytest.mark.default_cassette(SSE)
def test_chat_model_stream_over_recorded_exchange() -> None:
    events = recorded_events(SSE)
    model = ChatBailianApp(app_id=SSE_APP, api_key=KEY, rag_options=SSE_RAG, **GENERATION)
    chunks = list(model.stream(SSE_PROMPT))
    texts = [c.content for c in chunks if c.content]
    recorded = [e["output"]["text"] for e in events if e["output"]["text"]]
    # the deltas as recorded, except that a citation marker cut across events is handed on whole
    assert "<ref>[4]</" in recorded and "<ref>[4]</" not in texts
    assert [t for t in texts if "<ref" in t or "ref>" in t] == [
        "<ref>[4]</ref>，理解",  # noqa: RUF001
        "<ref>[2]</ref>，并说明",  # noqa: RUF001
        "<ref>[3]</ref>",
        "<ref>[5]</ref>",
    ]
    # the text before a cut marker is not delayed ("装置的方法<ref" gives "装置的方法" at once)
    assert {"装置的方法", "的重要性", "等问题"} <= set(texts)
    full = chunks[0]
    for chunk in chunks[1:]:
        full += chunk
    assert isinstance(full, AIMessageChunk)
    assert full.content == "".join(e["output"]["text"] for e in events)
    assert full.usage_metadata == {"input_tokens": 2304, "output_tokens": 244, "total_tokens": 2548}
    assert chunks[-1].chunk_position == "last"
    meta = full.response_metadata
    assert meta["model_name"] == "qwen-max-latest"
    assert meta["session_id"] == "069db8223d514dab91185954dc5108de"
    assert meta["request_id"] == "44862941-b743-9332-b49f-5f3db75a4873"
    assert meta["finish_reason"] == "stop"
    assert meta["app_id"] == SSE_APP
    assert [r["index_id"] for r in meta["doc_references"]] == ["2", "3", "4", "5"]
    assert "thoughts" not in meta  # not asked for
    (text,) = full.content_blocks
    assert text["type"] == "text" and "<ref>" not in text["text"]
    refs = {r["index_id"]: r for r in meta["doc_references"]}
    notes: list[dict[str, Any]] = [dict(n) for n in text.get("annotations", [])]
    assert [n["extras"]["index_id"] for n in notes] == ["4", "2", "3", "5"]
    for note in notes:
        ref = refs[note["extras"]["index_id"]]
        assert (note["title"], note["cited_text"]) == (ref["title"], ref["text"])
    assert text["text"][notes[0]["start_index"] : notes[0]["end_index"]].endswith("提高质量")


@pytest.mark.vcr
@pytest.mark.default_cassette(SSE)
async def test_llm_astream_over_recorded_exchange() -> None:
    events = recorded_events(SSE)
    llm = BailianAppLLM(app_id=SSE_APP, api_key=KEY, rag_options=SSE_RAG, **GENERATION)
    pieces = [piece async for piece in llm.astream(SSE_PROMPT)]
    assert "".join(pieces) == "".join(e["output"]["text"] for e in events)


# -- JSON answers -------------------------------------------------------------------------------


@pytest.mark.vcr
@pytest.mark.default_cassette("application-single-generation-text-nosse")
def test_client_call_single_generation() -> None:
    recorded = recorded_json("application-single-generation-text-nosse")
    rag = {
        "pipeline_ids": ["thie5bysoj"],
        "file_ids": ["file_d129d632800c45aa9e7421b30561f447_10207234"],
    }
    with BailianAppClient(RAG_APP, api_key=KEY) as client:
        completion = client.call(SSE_PROMPT, rag_options=rag, **GENERATION)
    output = recorded["output"]
    assert completion.text == output["text"]
    assert completion.finish_reason == "stop"
    assert completion.session_id == output["session_id"]
    assert completion.request_id == recorded["request_id"] == completion.header_request_id
    assert [m.model_dump() for m in completion.usage.models] == recorded["usage"]["models"]
    assert [r.model_dump(exclude_defaults=True) for r in completion.doc_references] == [
        {k: v for k, v in ref.items() if v != []} for ref in output["doc_references"]
    ]
    # thoughts arrive although has_thoughts was not sent (B15)
    assert [t.action_type for t in completion.thoughts] == [
        t["action_type"] for t in output["thoughts"]
    ]


@pytest.mark.vcr
@pytest.mark.default_cassette("application-conversation-generation-message-nosse")
def test_chat_model_sends_history_as_messages() -> None:
    recorded = recorded_json("application-conversation-generation-message-nosse")
    model = ChatBailianApp(
        app_id=RAG_APP,
        api_key=KEY,
        has_thoughts=True,
        rag_options={"pipeline_ids": ["e6md69132k"], "structured_filter": {"年龄": 14}},
        **GENERATION,
    )
    message = model.invoke(
        [
            SystemMessage("You are a helpful assistant."),
            HumanMessage("你是谁？"),
            AIMessage("我是阿里云开发的大规模语言模型，我叫通义千问。"),
            HumanMessage("哪些人的主食偏好是米饭？"),
        ]
    )
    assert message.content == recorded["output"]["text"]
    assert message.usage_metadata == {
        "input_tokens": 344,
        "output_tokens": 311,
        "total_tokens": 655,
    }
    meta = message.response_metadata
    assert meta["session_id"] == "9e2cf8c81f9a4fbe900a1f04b8522244"
    assert meta["request_id"] == "d42335b3-fcb2-9d11-b651-29562ac02abe"
    assert meta["model_name"] == "qwen-plus"
    assert meta["doc_references"] == []
    thoughts = meta["thoughts"]
    assert [(t["action_type"], t["action"]) for t in thoughts] == [
        ("agentRag", "rag"),
        ("api", "memory"),
    ]
    assert thoughts[1]["arguments"] == recorded["output"]["thoughts"][1]["arguments"]


@pytest.mark.vcr
@pytest.mark.default_cassette("application-conversation-generation-session-id-nosse")
def test_chat_model_with_session_sends_only_the_last_turn() -> None:
    recorded = recorded_json("application-conversation-generation-session-id-nosse")
    model = ChatBailianApp(
        app_id="010aa085cc9943268731861c9511bb0c",
        api_key=KEY,
        session_id="9995da2046a04b448dc5a562563f4835",
        has_thoughts=True,
        rag_options={"pipeline_ids": ["ll6yfcnxjg"], "metadata_filter": {"docType": "电子书"}},
        **GENERATION,
    )
    history = [
        HumanMessage("an earlier turn the server already remembers"),
        AIMessage("an earlier answer"),
        HumanMessage("总结一下第一本书的内容"),
    ]
    message = model.invoke(history)
    output = recorded["output"]
    assert message.content == output["text"]
    assert message.response_metadata["session_id"] == output["session_id"]
    assert message.response_metadata["doc_references"] == []  # none in this answer
    assert message.response_metadata["model_name"] == "deepseek-r1"
    assert [t["action_type"] for t in message.response_metadata["thoughts"]] == [
        t["action_type"] for t in output["thoughts"]
    ]
    # the model's thinking is a reasoning block; the retrieval a server tool call and its result
    blocks = message.content_blocks
    assert [b["type"] for b in blocks] == [
        "server_tool_call",
        "server_tool_result",
        "reasoning",
        "text",
    ]
    assert blocks[2] == {
        "type": "reasoning",
        "reasoning": output["thoughts"][1]["thought"],
        "extras": {"action_type": "reasoning", "action_name": "思考过程", "action": "reasoning"},
    }
    assert blocks[3] == {"type": "text", "text": output["text"]}  # no markers, no citations
    usage = recorded["usage"]["models"][0]
    assert message.usage_metadata == {
        "input_tokens": usage["input_tokens"],
        "output_tokens": usage["output_tokens"],
        "total_tokens": usage["input_tokens"] + usage["output_tokens"],
    }


# -- the recorded 401 (no Content-Type header) ---------------------------------------------------


@pytest.mark.vcr(match_on=["method"])
@pytest.mark.default_cassette("auth-error-nosse")
def test_recorded_invalid_api_key_is_authentication_error() -> None:
    client = BailianAppClient(RAG_APP, api_key="sk-wrong-key-0000")
    with pytest.raises(AuthenticationError) as caught:
        client.call("1+1?")
    error = caught.value
    assert error.status_code == 401
    assert error.code == "InvalidApiKey"
    assert error.message == "Invalid API-key provided."
    assert error.request_id == "a1c0561c-1dfe-98a6-a62f-983577b8bc5e"
    assert "sk-wrong-key-0000" not in str(error)
    assert not error.retryable
