"""BailianAppLLM over a scripted transport: mapping, streams, async, events, redaction."""

from __future__ import annotations

import json

import httpx
import pytest
from llama_index.core.base.llms.types import (
    ChatMessage,
    ImageBlock,
    MessageRole,
    TextBlock,
)
from llama_index.core.callbacks import CallbackManager, CBEventType
from llama_index.core.callbacks.token_counting import get_tokens_from_response
from llama_index.core.llms import LLM

from langchain_zilliz_bailian.errors import (
    AuthenticationError,
    InvalidInputError,
    StreamInterruptedError,
)
from llama_index_ext import BailianAppLLM
from tests.fakes.llama_index import (
    APP_ID,
    BASE_URL,
    REFS,
    SECRET,
    CallbackLog,
    frames,
    json_answer,
    sse_answer,
)
from tests.fakes.zilliz import Script

PATH = f"/api/v1/apps/{APP_ID}/completion"
THOUGHTS = [{"action_type": "agentRag", "action": "rag", "observation": "[]"}]


def make(script: Script, **kwargs) -> BailianAppLLM:
    return BailianAppLLM(
        app_id=APP_ID,
        api_key=SECRET,
        base_url=BASE_URL,
        http_client=script.sync_client(),
        http_async_client=script.async_client(),
        **kwargs,
    )


def user(text: str) -> ChatMessage:
    return ChatMessage(role=MessageRole.USER, content=text)


# -- class contract ------------------------------------------------------------------------------


def test_is_an_llm_not_a_custom_llm_and_reports_chat_metadata():
    llm = make(Script([]))
    assert isinstance(llm, LLM)
    assert LLM in type(llm).__bases__  # LLM itself, not CustomLLM (the settings are a mixin)
    meta = llm.metadata
    assert meta.is_chat_model is True
    assert meta.is_function_calling_model is False
    assert meta.model_name == f"bailian-app-{APP_ID}"
    assert meta.context_window == 32768 and meta.num_output == 1024
    assert BailianAppLLM.class_name() == "BailianAppLLM"


def test_the_key_never_leaks_into_repr_dumps_or_payloads(event_log, monkeypatch):
    monkeypatch.delenv("DASHSCOPE_API_KEY", raising=False)
    script = Script([json_answer("ok")])
    llm = make(script)
    for text in (
        repr(llm),
        str(llm),
        llm.to_json(),
        json.dumps(llm.to_dict()),
        llm.model_dump_json(),
        # to_payload() arrived in llama-index-core 0.14.x after 0.14.0.
        str(llm.to_payload()) if hasattr(llm, "to_payload") else "",
        str(llm.model_dump()),
    ):
        assert SECRET not in text
    assert "api_key" not in llm.to_dict()
    assert "http_client" not in llm.to_dict()
    llm.complete("hi")
    assert script.requests[0].headers["authorization"] == f"Bearer {SECRET}"
    start = next(e for e in event_log.events if type(e).__name__ == "LLMCompletionStartEvent")
    assert SECRET not in json.dumps(start.model_dict, default=str)
    restored = BailianAppLLM.from_dict(llm.to_dict())
    assert restored.app_id == APP_ID and restored.api_key is None


def test_configuration_from_the_environment(monkeypatch):
    monkeypatch.setenv("DASHSCOPE_APP_ID", "envapp")
    monkeypatch.setenv("DASHSCOPE_API_KEY", "sk-env")
    monkeypatch.setenv("DASHSCOPE_HTTP_BASE_URL", "https://dashscope-intl.aliyuncs.com/api/v1")
    llm = BailianAppLLM()
    assert llm.app_id == "envapp"
    assert llm.api_key is not None and llm.api_key.get_secret_value() == "sk-env"
    assert llm.base_url == "https://dashscope-intl.aliyuncs.com/api/v1"
    monkeypatch.delenv("DASHSCOPE_APP_ID")
    with pytest.raises(InvalidInputError, match="No app id"):
        BailianAppLLM()
    with pytest.raises(InvalidInputError, match="app_id"):
        BailianAppLLM(app_id="bad id!")
    with pytest.raises(InvalidInputError, match="base_url"):
        BailianAppLLM(app_id="a1", base_url="ftp://example.test")


# -- request mapping -----------------------------------------------------------------------------


def test_complete_sends_a_prompt_and_keeps_the_app_metadata():
    script = Script(
        [json_answer("Milvus Lite keeps data locally.<ref>[1]</ref>", doc_references=REFS)]
    )
    response = make(script).complete("Where is data kept?")
    assert script.requests[0].url.path == PATH
    assert script.bodies() == [{"input": {"prompt": "Where is data kept?"}, "parameters": {}}]
    assert response.text == "Milvus Lite keeps data locally.<ref>[1]</ref>"
    assert response.delta is None
    extra = response.additional_kwargs
    assert extra["session_id"] == "sess-1"
    assert extra["request_id"] == "req-1"
    assert extra["finish_reason"] == "stop"
    assert [dict(ref, images=[], page_number=[]) for ref in REFS] == extra["doc_references"]
    assert extra["usage"]["input_tokens"] == 12 and extra["usage"]["output_tokens"] == 5
    assert extra["model_name"] == "qwen-plus"
    assert response.raw is not None
    assert response.raw["session_id"] == "sess-1"
    assert response.raw["doc_references"][0]["index_id"] == "1"
    assert get_tokens_from_response(response) == (12, 5)  # LlamaIndex's token counter reads it


def test_chat_history_goes_out_as_messages():
    script = Script([json_answer("fine")])
    response = make(script).chat(
        [
            ChatMessage(role=MessageRole.SYSTEM, content="Be brief."),
            ChatMessage(role=MessageRole.DEVELOPER, content="Cite sources."),
            user("Hi"),
            ChatMessage(role=MessageRole.ASSISTANT, content="Hello!"),
            user("How are you?"),
            user("And Milvus?"),
        ]
    )
    assert script.bodies()[0]["input"] == {
        "messages": [
            {"role": "system", "content": "Be brief.\n\nCite sources."},
            {"role": "user", "content": "Hi"},
            {"role": "assistant", "content": "Hello!"},
            {"role": "user", "content": "How are you?\n\nAnd Milvus?"},
        ]
    }
    assert response.message.role == MessageRole.ASSISTANT
    assert response.message.content == "fine"
    assert response.additional_kwargs["session_id"] == "sess-1"


def test_a_lone_user_turn_is_sent_as_the_prompt():
    script = Script([json_answer("ok")])
    make(script).chat([user("Only this")])
    assert script.bodies()[0]["input"] == {"prompt": "Only this"}


def test_with_a_session_only_the_last_user_turn_is_sent():
    script = Script([json_answer("ok"), json_answer("ok")])
    history = [user("first"), ChatMessage(role="assistant", content="a"), user("second")]
    make(script, session_id="sess-9").chat(history)
    make(script).chat(history, session_id="sess-7")  # per call too
    assert [b["input"] for b in script.bodies()] == [
        {"prompt": "second", "session_id": "sess-9"},
        {"prompt": "second", "session_id": "sess-7"},
    ]


def test_instance_and_call_options_reach_the_request():
    script = Script([json_answer("ok")])
    llm = make(
        script,
        rag_options={"pipeline_ids": ["pipe-1"]},
        temperature=0.2,
        has_thoughts=True,
        workspace="ws_abc",
        additional_kwargs={"enable_thinking": False},
    )
    llm.complete("q", top_p=0.5, memory_id="mem-1", biz_params={"city": "Hangzhou"}, custom=1)
    body = script.bodies()[0]
    assert body["input"] == {
        "prompt": "q",
        "memory_id": "mem-1",
        "biz_params": {"city": "Hangzhou"},
    }
    assert body["parameters"] == {
        "enable_thinking": False,
        "custom": 1,
        "rag_options": {"pipeline_ids": ["pipe-1"]},
        "has_thoughts": True,
        "temperature": 0.2,
        "top_p": 0.5,
    }
    assert script.requests[0].headers["x-dashscope-workspace"] == "ws_abc"


def test_thoughts_are_kept_when_the_app_returns_them():
    script = Script([json_answer("ok", thoughts=THOUGHTS)])
    response = make(script, has_thoughts=True).chat([user("q")])
    assert response.additional_kwargs["thoughts"] == THOUGHTS


@pytest.mark.parametrize(
    "messages",
    [
        [ChatMessage(role=MessageRole.TOOL, content="result")],
        [ChatMessage(role=MessageRole.FUNCTION, content="result")],
        [ChatMessage(role="user", blocks=[TextBlock(text="see"), ImageBlock(image=b"\x89PNG")])],
        [],
        [user("")],
    ],
)
def test_unsendable_messages_fail_before_any_request(messages):
    script = Script([])
    llm = make(script)
    with pytest.raises(InvalidInputError):
        llm.chat(messages)
    with pytest.raises(InvalidInputError):
        llm.stream_chat(messages)
    assert script.requests == []


def test_assistant_non_text_blocks_are_skipped():
    script = Script([json_answer("ok")])
    make(script).chat(
        [
            user("a"),
            ChatMessage(
                role="assistant",
                blocks=[TextBlock(text="b"), ImageBlock(url="https://x.test/a.png")],
            ),
            user("c"),
        ]
    )
    assert script.bodies()[0]["input"]["messages"][1] == {"role": "assistant", "content": "b"}


def test_session_mode_needs_a_user_turn():
    with pytest.raises(InvalidInputError, match="user turn"):
        make(Script([]), session_id="s").chat([ChatMessage(role="system", content="x")])


# -- streaming -----------------------------------------------------------------------------------


def test_stream_chat_has_deltas_cumulative_text_and_ends():
    script = Script(
        [sse_answer(["Milvus ", "Lite", " keeps data.<ref>[1]</", "ref>"], doc_references=REFS)]
    )
    responses = list(make(script).stream_chat([user("q")]))
    assert [r.delta for r in responses] == ["Milvus ", "Lite", " keeps data.<ref>[1]</", "ref>", ""]
    assert [r.message.content for r in responses] == [
        "Milvus ",
        "Milvus Lite",
        "Milvus Lite keeps data.<ref>[1]</",
        "Milvus Lite keeps data.<ref>[1]</ref>",
        "Milvus Lite keeps data.<ref>[1]</ref>",
    ]
    last = responses[-1]
    assert last.additional_kwargs["session_id"] == "sess-1"
    assert last.additional_kwargs["doc_references"][0]["doc_name"] == "lite.md"
    assert last.additional_kwargs["finish_reason"] == "stop"
    assert last.raw is not None
    assert last.raw["text"] == last.message.content
    assert all(r.additional_kwargs == {} for r in responses[:-1])
    body = script.bodies()[0]
    assert body["parameters"] == {"incremental_output": True}
    assert script.requests[0].headers["x-dashscope-sse"] == "enable"


def test_stream_complete_has_deltas_and_cumulative_text():
    script = Script([sse_answer(["a", "b", "c"])])
    responses = list(make(script).stream_complete("q"))
    assert [(r.text, r.delta) for r in responses] == [
        ("a", "a"),
        ("ab", "b"),
        ("abc", "c"),
        ("abc", ""),
    ]
    assert responses[-1].additional_kwargs["usage"]["total_tokens"] == 17


def test_deltas_are_handed_on_as_they_arrive():
    produced = []

    def body():
        for frame in frames(["one ", "two ", "three"]):
            produced.append(frame)
            yield frame

    script = Script(
        [
            lambda request: httpx.Response(
                200, headers={"content-type": "text/event-stream"}, content=body()
            )
        ]
    )
    stream = make(script).stream_chat([user("q")])
    first = next(stream)
    assert first.delta == "one "
    assert len(produced) < 4  # the closing event was not even produced yet
    assert [r.delta for r in stream] == ["two ", "three", ""]
    assert len(produced) == 4


def test_a_stream_cut_before_its_final_event_raises_after_the_deltas():
    cut = b"".join(list(frames(["partial ", "answer"]))[:-1])
    script = Script(
        [httpx.Response(200, headers={"content-type": "text/event-stream"}, content=cut)]
    )
    seen = []
    with pytest.raises(StreamInterruptedError):
        for response in make(script, max_retries=0).stream_chat([user("q")]):
            seen.append(response.delta)
    assert seen == ["partial ", "answer"]


def test_errors_are_typed():
    script = Script([httpx.Response(401, json={"code": "InvalidApiKey", "message": "bad key"})])
    with pytest.raises(AuthenticationError):
        make(script).complete("q")


def test_stream_predict_through_the_llm_helpers():
    from llama_index.core.prompts import PromptTemplate

    script = Script([sse_answer(["x", "y"])])
    tokens = list(make(script).stream(PromptTemplate("Say {what}"), what="xy"))
    assert tokens == ["x", "y", ""]
    assert script.bodies()[0]["input"] == {"prompt": "Say xy"}


# -- async ---------------------------------------------------------------------------------------


async def test_async_methods_are_native():
    blocking = Script([])
    script = Script(
        [
            json_answer("one"),
            json_answer("two"),
            sse_answer(["t", "hree"]),
            sse_answer(["fo", "ur"]),
        ]
    )
    llm = BailianAppLLM(
        app_id=APP_ID,
        api_key=SECRET,
        base_url=BASE_URL,
        http_client=blocking.sync_client(),
        http_async_client=script.async_client(),
    )
    assert (await llm.acomplete("q")).text == "one"
    chat = await llm.achat([user("q")])
    assert chat.message.content == "two" and chat.additional_kwargs["session_id"] == "sess-1"
    chunks = [r async for r in await llm.astream_complete("q")]
    assert [(r.text, r.delta) for r in chunks] == [("t", "t"), ("three", "hree"), ("three", "")]
    chat_chunks = [r async for r in await llm.astream_chat([user("q")])]
    assert [r.delta for r in chat_chunks] == ["fo", "ur", ""]
    assert chat_chunks[-1].message.content == "four"
    assert chat_chunks[-1].additional_kwargs["request_id"] == "req-1"
    assert blocking.requests == []


async def test_async_stream_validates_before_sending():
    script = Script([])
    with pytest.raises(InvalidInputError):
        await make(script).astream_chat([ChatMessage(role="tool", content="x")])
    assert script.requests == []


# -- callbacks and instrumentation ---------------------------------------------------------------


def test_chat_and_completion_events_fire(event_log):
    log = CallbackLog()
    script = Script([json_answer("a"), sse_answer(["b", "c"]), json_answer("d"), sse_answer(["e"])])
    llm = make(script, callback_manager=CallbackManager([log]))
    llm.chat([user("q")])
    list(llm.stream_chat([user("q")]))
    llm.complete("q")
    list(llm.stream_complete("q"))
    names = event_log.names()
    for name in (
        "LLMChatStartEvent",
        "LLMChatInProgressEvent",
        "LLMChatEndEvent",
        "LLMCompletionStartEvent",
        "LLMCompletionInProgressEvent",
        "LLMCompletionEndEvent",
    ):
        assert name in names, name
    ends = [e for e in event_log.events if type(e).__name__ == "LLMChatEndEvent"]
    assert ends[-1].response.message.content == "bc"
    assert ends[-1].response.additional_kwargs["session_id"] == "sess-1"
    assert [(phase, kind) for phase, kind, _ in log.records] == [
        ("start", CBEventType.LLM),
        ("end", CBEventType.LLM),
    ] * 4


async def test_async_stream_events_fire(event_log):
    script = Script([sse_answer(["b", "c"])])
    llm = make(script)
    [r async for r in await llm.astream_chat([user("q")])]
    names = event_log.names()
    assert names.count("LLMChatInProgressEvent") == 3
    assert names[-1] == "LLMChatEndEvent"


def test_settings_llm_accepts_it(clean_settings):
    from llama_index.core import Settings

    llm = make(Script([]))
    Settings.llm = llm
    assert Settings.llm is llm


def test_copies_and_pickles_keep_the_settings_and_build_their_own_client():
    import copy
    import pickle

    llm = BailianAppLLM(app_id=APP_ID, api_key=SECRET, base_url=BASE_URL, temperature=0.3)
    for clone in (copy.deepcopy(llm), pickle.loads(pickle.dumps(llm)), llm.model_copy()):
        assert clone.app_id == APP_ID and clone.temperature == 0.3
        assert clone.api_key is not None and clone.api_key.get_secret_value() == SECRET
        assert clone.client.app_id == APP_ID


def test_text_blocks_are_joined_like_chat_message_content():
    script = Script([json_answer("ok")])
    message = ChatMessage(role="user", blocks=[TextBlock(text="x"), TextBlock(text="y")])
    make(script).chat([message])
    assert script.bodies()[0]["input"] == {"prompt": message.content}
    assert message.content == "x\ny"
