"""ChatBailianApp: message mapping, sessions, metadata, usage, stop, callbacks, secrets, clients."""

from __future__ import annotations

import json
import logging
import warnings
from typing import Any

import httpx
import pytest
from langchain_core.callbacks import AsyncCallbackHandler, BaseCallbackHandler
from langchain_core.load import dumpd, dumps, load
from langchain_core.messages import (
    AIMessage,
    AIMessageChunk,
    ChatMessage,
    HumanMessage,
    SystemMessage,
    ToolMessage,
)

from langchain_zilliz_bailian import ChatBailianApp
from langchain_zilliz_bailian.errors import AuthenticationError, InvalidInputError
from tests.compat import LOAD_HAS_ALLOW_LIST
from tests.fakes.bailian import (
    API_KEY,
    APP_ID,
    JSON_HEADERS,
    SSE_HEADERS,
    incremental_stream,
    respond,
    result,
    sse,
)

THOUGHTS = [
    {"action_type": "agentRag", "action": "rag", "action_name": "知识检索", "observation": "[]"},
    {"action_type": "reasoning", "action_name": "思考过程", "thought": "..."},
]
REFS = [{"index_id": "1", "doc_id": "d1", "doc_name": "a.md", "title": "A", "text": "alpha"}]


def ok(text: str = "Fine, thanks.", **output):
    return respond(200, result(text, finish="stop", **output), **JSON_HEADERS)


def streamed(*pieces: str, **final_output):
    return respond(200, incremental_stream(pieces, **final_output), **SSE_HEADERS)


def merged(chunks: list[AIMessageChunk]) -> AIMessageChunk:
    full = chunks[0]
    for chunk in chunks[1:]:
        full += chunk
    return full


# -- construction ---------------------------------------------------------------------------------


def test_client_is_built_lazily_and_reused(make_model) -> None:
    model, recorder = make_model(ok(), ok())
    assert model._app_client is None
    model.invoke("a")
    client = model._app_client
    model.invoke("b")
    assert model._app_client is client
    assert len(recorder.requests) == 2


def test_missing_or_bad_app_id(monkeypatch) -> None:
    monkeypatch.delenv("DASHSCOPE_APP_ID", raising=False)
    with pytest.raises(InvalidInputError, match="DASHSCOPE_APP_ID"):
        ChatBailianApp(api_key=API_KEY)
    with pytest.raises(InvalidInputError, match="app_id"):
        ChatBailianApp(app_id="../other", api_key=API_KEY)


def test_env_configuration(monkeypatch) -> None:
    monkeypatch.setenv("DASHSCOPE_APP_ID", APP_ID)
    monkeypatch.setenv("DASHSCOPE_API_KEY", "sk-env")
    monkeypatch.setenv("DASHSCOPE_HTTP_BASE_URL", "https://dashscope-intl.aliyuncs.com/api/v1/")
    model = ChatBailianApp()
    assert model.app_id == APP_ID
    assert model.api_key is not None
    assert model.api_key.get_secret_value() == "sk-env"
    assert model.base_url == "https://dashscope-intl.aliyuncs.com/api/v1"


def test_unknown_constructor_arguments_become_parameters(make_model) -> None:
    with pytest.warns(UserWarning, match="enable_thinking"):
        model, recorder = make_model(ok(), enable_thinking=True)
    assert model.model_kwargs == {"enable_thinking": True}
    model.invoke("hi")
    assert recorder.bodies[0]["parameters"] == {"enable_thinking": True}


def test_standard_parameters_and_max_tokens(make_model) -> None:
    model, recorder = make_model(
        ok(), temperature=0.2, top_p=0.9, top_k=40, seed=3, max_tokens=64, timeout=12, stop=[]
    )
    model.invoke("hi")
    assert recorder.bodies[0]["parameters"] == {
        "temperature": 0.2,
        "top_p": 0.9,
        "top_k": 40,
        "seed": 3,
    }  # max_tokens is accepted but apps take no such parameter
    assert model.client._adapter.timeout.read == 12
    params = model._get_ls_params()
    assert params["ls_provider"] == "bailian"
    assert params["ls_model_name"] == f"bailian-app-{APP_ID}"
    assert params["ls_max_tokens"] == 64
    assert model._get_ls_params(model="other")["ls_model_name"] == "other"


# -- messages -------------------------------------------------------------------------------------


def test_single_human_turn_goes_out_as_prompt(make_model) -> None:
    model, recorder = make_model(ok())
    model.invoke("What is Milvus Lite?")
    assert recorder.bodies[0]["input"] == {"prompt": "What is Milvus Lite?"}


def test_history_goes_out_as_messages(make_model) -> None:
    model, recorder = make_model(ok())
    model.invoke(
        [
            SystemMessage("Be brief."),
            HumanMessage("hi", name="example_user"),
            AIMessage("hello"),
            ChatMessage(role="user", content="and?"),
        ]
    )
    assert recorder.bodies[0]["input"] == {
        "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "hi"},
            {"role": "assistant", "content": "hello"},
            {"role": "user", "content": "and?"},
        ]
    }


def test_consecutive_turns_of_one_role_are_merged(make_model) -> None:
    model, recorder = make_model(ok())
    model.invoke([HumanMessage("a"), HumanMessage("b"), AIMessage("c"), AIMessage("d")])
    assert recorder.bodies[0]["input"]["messages"] == [
        {"role": "user", "content": "a\n\nb"},
        {"role": "assistant", "content": "c\n\nd"},
    ]


def test_text_blocks_are_joined(make_model) -> None:
    model, recorder = make_model(ok())
    model.invoke([HumanMessage(content=[{"type": "text", "text": "one "}, "two"])])
    assert recorder.bodies[0]["input"] == {"prompt": "one two"}


def test_inline_images_and_tools_are_refused_before_any_request(make_model) -> None:
    model, recorder = make_model(ok())
    image = {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}}
    with pytest.raises(InvalidInputError, match="URLs"):
        model.invoke([HumanMessage(content=[{"type": "text", "text": "see"}, image])])
    with pytest.raises(InvalidInputError, match="ToolMessage"):
        model.invoke([HumanMessage("x"), ToolMessage("42", tool_call_id="t1")])
    assert recorder.requests == []


def test_session_sends_only_the_last_human_turn(make_model) -> None:
    model, recorder = make_model(ok(session_id="sess-1"), ok(session_id="sess-2"))
    history = [SystemMessage("sys"), HumanMessage("first"), AIMessage("ok"), HumanMessage("second")]
    model.invoke(history, session_id="sess-1")
    assert recorder.bodies[0]["input"] == {"prompt": "second", "session_id": "sess-1"}
    with_field = model.model_copy(update={"session_id": "sess-2"})
    with_field.invoke(history)
    assert recorder.bodies[1]["input"] == {"prompt": "second", "session_id": "sess-2"}


def test_multi_turn_with_the_returned_session_id(make_model) -> None:
    model, recorder = make_model(ok("one", session_id="srv-1"), ok("two", session_id="srv-1"))
    first = model.invoke("remember 7")
    model.invoke("what did I say?", session_id=first.response_metadata["session_id"])
    assert recorder.bodies[1]["input"] == {"prompt": "what did I say?", "session_id": "srv-1"}


def test_per_call_options_and_pass_through(make_model) -> None:
    model, recorder = make_model(ok(), rag_options={"pipeline_ids": ["p1"]})
    model.invoke(
        "hi",
        rag_options={"pipeline_ids": ["p2"]},
        biz_params={"city": "Hangzhou"},
        image_list=["https://x/a.png"],
        memory_id="m1",
        enable_web_search=True,
        parameters={"dialog_round": 3},
    )
    assert recorder.bodies[0] == {
        "input": {
            "prompt": "hi",
            "memory_id": "m1",
            "biz_params": {"city": "Hangzhou"},
            "image_list": ["https://x/a.png"],
        },
        "parameters": {
            "rag_options": {"pipeline_ids": ["p2"]},
            "enable_web_search": True,
            "dialog_round": 3,
        },
    }


# -- results --------------------------------------------------------------------------------------


def test_invoke_metadata_and_usage(make_model) -> None:
    usage = {
        "models": [
            {"model_id": "qwen-max", "input_tokens": 100, "output_tokens": 20},
            {"model_id": "qwen-turbo", "input_tokens": 5, "output_tokens": 2},
        ]
    }
    body = result(
        "Answer<ref>[1]</ref>", finish="stop", usage=usage, doc_references=REFS, thoughts=THOUGHTS
    )
    model, _ = make_model(respond(200, body, **JSON_HEADERS), has_thoughts=True)
    message = model.invoke("q")
    assert message.content == "Answer<ref>[1]</ref>"
    assert message.usage_metadata == {"input_tokens": 105, "output_tokens": 22, "total_tokens": 127}
    meta = message.response_metadata
    assert meta["model_name"] == "qwen-max"
    assert meta["app_id"] == APP_ID
    assert meta["session_id"] == "sess-1"
    assert meta["request_id"] == "req-1"
    assert meta["finish_reason"] == "stop"
    assert meta["doc_references"] == [{**REFS[0], "images": [], "page_number": []}]
    assert [t["action_type"] for t in meta["thoughts"]] == ["agentRag", "reasoning"]


def test_thoughts_when_asked_or_sent(make_model) -> None:
    """The one metadata rule (bailian/settings.py): thoughts the app sent are kept, asked or not;
    asked for and not sent, they are an empty list; neither, the key is absent."""
    model, _ = make_model(ok(thoughts=THOUGHTS), ok(), ok())
    sent = model.invoke("q").response_metadata["thoughts"]
    assert [t["action_type"] for t in sent] == ["agentRag", "reasoning"]
    assert model.invoke("q", has_thoughts=True).response_metadata["thoughts"] == []
    assert "thoughts" not in model.invoke("q").response_metadata


def test_empty_usage_means_no_usage_metadata_and_an_app_model_name(make_model) -> None:
    model, _ = make_model(respond(200, result("ok", finish="stop", usage={}), **JSON_HEADERS))
    message = model.invoke("q")
    assert message.usage_metadata is None
    assert message.response_metadata["model_name"] == f"bailian-app-{APP_ID}"


def test_stream_chunks_metadata_once_on_the_last(make_model) -> None:
    model, recorder = make_model(streamed("Hel", "lo", doc_references=REFS))
    chunks = list(model.stream("hi"))
    assert [c.content for c in chunks] == ["Hel", "lo", ""]
    assert [c.chunk_position for c in chunks] == [None, None, "last"]
    # text chunks carry only the provider name (for content_blocks); metadata comes once, last
    assert all(c.response_metadata == {"model_provider": "bailian"} for c in chunks[:-1])
    assert all(c.usage_metadata is None for c in chunks[:-1])
    full = merged(chunks)
    assert full.content == "Hello"
    assert full.usage_metadata == {"input_tokens": 10, "output_tokens": 2, "total_tokens": 12}
    assert full.response_metadata["model_name"] == "qwen-plus"
    assert full.response_metadata["doc_references"][0]["index_id"] == "1"
    assert recorder.bodies[0]["parameters"] == {"incremental_output": True}


async def test_astream_and_ainvoke_are_native(make_model) -> None:
    model, recorder = make_model(streamed("a", "b"), ok("c"))
    chunks = [c async for c in model.astream("x")]
    assert merged(chunks).content == "ab"
    assert (await model.ainvoke("y")).content == "c"
    assert len(recorder.requests) == 2


def test_streaming_flag_makes_invoke_stream(make_model) -> None:
    model, recorder = make_model(streamed("a", "b"), streaming=True)
    message = model.invoke("x")
    assert message.content == "ab"
    assert message.usage_metadata["output_tokens"] == 2
    assert recorder.requests[0].headers["accept"] == "text/event-stream"


def test_batch_and_abatch(make_model) -> None:
    model, _ = make_model(ok("same"))
    assert [m.content for m in model.batch(["a", "b", "c"])] == ["same"] * 3


async def test_abatch(make_model) -> None:
    model, _ = make_model(ok("same"))
    assert [m.content for m in await model.abatch(["a", "b"])] == ["same", "same"]


async def test_astream_events(make_model) -> None:
    model, _ = make_model(streamed("x", "y"))
    kinds = [e["event"] async for e in model.astream_events("q", version="v2")]
    assert kinds[0] == "on_chat_model_start"
    assert kinds.count("on_chat_model_stream") >= 2
    assert kinds[-1] == "on_chat_model_end"


def test_token_callbacks_sync_and_async(make_model) -> None:
    tokens = []

    class Tokens(BaseCallbackHandler):
        def on_llm_new_token(self, token, **kwargs) -> None:
            tokens.append(token)

    model, _ = make_model(streamed("a", "b", "c"), callbacks=[Tokens()])
    list(model.stream("x"))
    assert tokens == ["a", "b", "c", ""]


async def test_token_callbacks_async(make_model) -> None:
    tokens = []

    class Tokens(AsyncCallbackHandler):
        async def on_llm_new_token(self, token, **kwargs) -> None:
            tokens.append(token)

    model, _ = make_model(streamed("a", "b"), callbacks=[Tokens()])
    assert (await model.ainvoke("x", stream=True)).content == "ab"
    assert tokens == ["a", "b", ""]


# -- stop -----------------------------------------------------------------------------------------


def test_stop_truncates_invoke(make_model) -> None:
    model, recorder = make_model(ok("Hello you there"))
    message = model.invoke("hi", stop=["you"])
    assert message.content == "Hello "
    assert message.response_metadata["finish_reason"] == "stop"
    assert "stop" not in recorder.bodies[0]["parameters"]


def test_constructor_stop(make_model) -> None:
    model, _ = make_model(ok("one. two. three."), stop=[". t"])
    assert model.invoke("hi").content == "one"


def test_stop_ends_the_stream_there(make_model) -> None:
    responses: list[httpx.Response] = []
    body = incremental_stream(["Hello ", "yo", "u there", " and more"])

    def tracked() -> httpx.Response:
        responses.append(httpx.Response(200, headers=SSE_HEADERS, content=body))
        return responses[-1]

    model, _ = make_model(tracked)
    chunks = list(model.stream("hi", stop=["you"]))
    assert "".join(c.content for c in chunks) == "Hello "
    assert chunks[-1].chunk_position == "last"
    assert chunks[-1].response_metadata["finish_reason"] == "stop"
    assert chunks[-1].usage_metadata["output_tokens"] == 3  # the last event read
    assert responses[0].is_closed


async def test_stop_ends_the_async_stream_there(make_model) -> None:
    model, _ = make_model(streamed("Hello ", "yo", "u there", " and more"))
    chunks = [c async for c in model.astream("hi", stop=["you"])]
    assert "".join(c.content for c in chunks) == "Hello "
    assert chunks[-1].response_metadata["finish_reason"] == "stop"


def test_partial_stop_match_is_released(make_model) -> None:
    model, _ = make_model(streamed("abc ", "yo", "gurt"))
    assert "".join(c.content for c in model.stream("hi", stop=["you"])) == "abc yogurt"


# -- errors and secrets ---------------------------------------------------------------------------


def test_errors_propagate_typed(make_model) -> None:
    body = {"code": "InvalidApiKey", "message": "Invalid API-key provided.", "request_id": "r"}
    model, _ = make_model(respond(401, body, **JSON_HEADERS))
    with pytest.raises(AuthenticationError) as caught:
        model.invoke("x")
    assert API_KEY not in str(caught.value)


def test_stream_error_after_deltas(make_model) -> None:
    from tests.fakes.bailian import event

    error = {"code": "DataInspectionFailed", "message": "Output data may contain ..."}
    body = sse(result("partial ")) + event(error, name="error", id=2, status=400)
    model, _ = make_model(respond(200, body, **SSE_HEADERS))
    got = []
    with pytest.raises(Exception, match="Output data") as caught:
        for chunk in model.stream("x"):
            got.append(chunk.content)
    assert got == ["partial "]
    assert type(caught.value).__name__ == "BadRequestError"


def test_key_never_in_repr_dumps_logs_or_errors(make_model, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    model, _ = make_model(ok())
    model.invoke("x")
    assert API_KEY not in repr(model)
    assert API_KEY not in str(model)
    assert API_KEY not in json.dumps(model.model_dump(mode="json"), default=str)
    assert API_KEY not in model.model_dump_json()
    assert API_KEY not in dumps(model)
    assert API_KEY not in caplog.text
    assert dumpd(model)["kwargs"]["api_key"] == {
        "lc": 1,
        "type": "secret",
        "id": ["DASHSCOPE_API_KEY"],
    }
    assert model.lc_secrets == {"api_key": "DASHSCOPE_API_KEY"}


def test_dumps_round_trip_without_the_key(monkeypatch) -> None:
    model = ChatBailianApp(app_id=APP_ID, api_key=API_KEY, rag_options={"pipeline_ids": ["p"]})
    monkeypatch.setenv("DASHSCOPE_API_KEY", "sk-restored-from-env")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        # langchain-core >= 1.2 loads only allow-listed classes; 1.0 and 1.1 have no allow-list.
        allow: dict[str, Any] = {"allowed_objects": [ChatBailianApp]} if LOAD_HAS_ALLOW_LIST else {}
        restored = load(
            dumpd(model),
            valid_namespaces=["langchain_zilliz_bailian"],
            secrets_from_env=True,
            **allow,
        )
    assert isinstance(restored, ChatBailianApp)
    assert restored.rag_options == {"pipeline_ids": ["p"]}
    assert restored.api_key is not None
    assert restored.api_key.get_secret_value() == "sk-restored-from-env"


def test_injected_clients_are_used_and_left_open(make_model) -> None:
    model, recorder = make_model(ok())
    model.invoke("x")
    model.client.close()
    assert not model.http_client.is_closed
    assert len(recorder.requests) == 1
