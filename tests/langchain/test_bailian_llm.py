"""BailianAppLLM: the same app over a single prompt, with the same client and logic."""

from __future__ import annotations

from langchain_core.callbacks import BaseCallbackHandler

from langchain_zilliz_bailian import BailianAppLLM, ChatBailianApp
from langchain_zilliz_bailian._bailian_lc import BailianAppMixin
from tests.fakes.bailian import (
    APP_ID,
    JSON_HEADERS,
    SSE_HEADERS,
    incremental_stream,
    respond,
    result,
)

REFS = [{"index_id": "2", "doc_id": "d2", "title": "B", "text": "beta"}]


def ok(text: str = "An answer.", **output):
    return respond(200, result(text, finish="stop", **output), **JSON_HEADERS)


def streamed(*pieces: str, **final_output):
    return respond(200, incremental_stream(pieces, **final_output), **SSE_HEADERS)


def test_shares_the_chat_models_configuration_and_client() -> None:
    assert issubclass(BailianAppLLM, BailianAppMixin)
    assert issubclass(ChatBailianApp, BailianAppMixin)
    assert BailianAppLLM._complete is ChatBailianApp._complete
    assert BailianAppLLM._stream_app is ChatBailianApp._stream_app


def test_invoke_sends_the_prompt(make_model) -> None:
    llm, recorder = make_model(ok(), cls=BailianAppLLM, memory_id="m1")
    assert llm.invoke("Summarise.") == "An answer."
    assert recorder.bodies[0] == {
        "input": {"prompt": "Summarise.", "memory_id": "m1"},
        "parameters": {},
    }
    assert recorder.requests[0].headers["accept"] == "application/json"


async def test_ainvoke(make_model) -> None:
    llm, _ = make_model(ok("async"), cls=BailianAppLLM)
    assert await llm.ainvoke("x") == "async"


def test_generate_carries_metadata(make_model) -> None:
    llm, _ = make_model(ok("With refs", doc_references=REFS), cls=BailianAppLLM)
    generation = llm.generate(["q"]).generations[0][0]
    info = generation.generation_info
    assert generation.text == "With refs"
    assert info["session_id"] == "sess-1"
    assert info["request_id"] == "req-1"
    assert info["model_name"] == "qwen-plus"
    assert info["app_id"] == APP_ID
    assert info["doc_references"][0]["index_id"] == "2"
    assert info["usage_metadata"] == {"input_tokens": 10, "output_tokens": 1, "total_tokens": 11}


def test_stream_yields_deltas_and_callbacks(make_model) -> None:
    tokens = []

    class Tokens(BaseCallbackHandler):
        def on_llm_new_token(self, token, **kwargs) -> None:
            tokens.append(token)

    llm, recorder = make_model(streamed("one", " two"), cls=BailianAppLLM, callbacks=[Tokens()])
    assert list(llm.stream("x")) == ["one", " two", ""]
    assert tokens == ["one", " two"]
    assert recorder.bodies[0]["parameters"] == {"incremental_output": True}


async def test_astream(make_model) -> None:
    llm, _ = make_model(streamed("a", "b", "c"), cls=BailianAppLLM)
    assert "".join([piece async for piece in llm.astream("x")]) == "abc"


def test_streaming_flag_aggregates_with_metadata(make_model) -> None:
    llm, recorder = make_model(
        streamed("a", "b", doc_references=REFS), cls=BailianAppLLM, streaming=True
    )
    generation = llm.generate(["x"]).generations[0][0]
    assert generation.text == "ab"
    assert generation.generation_info["usage_metadata"]["output_tokens"] == 2
    assert generation.generation_info["doc_references"][0]["index_id"] == "2"
    assert recorder.requests[0].headers["accept"] == "text/event-stream"


async def test_streaming_flag_async(make_model) -> None:
    llm, _ = make_model(streamed("a", "b"), cls=BailianAppLLM, streaming=True)
    result_ = await llm.agenerate(["x"])
    assert result_.generations[0][0].text == "ab"


def test_stop(make_model) -> None:
    llm, _ = make_model(ok("alpha. beta."), cls=BailianAppLLM)
    assert llm.invoke("x", stop=["."]) == "alpha"
    llm2, _ = make_model(streamed("alp", "ha.", " beta."), cls=BailianAppLLM, stop=["."])
    assert "".join(llm2.stream("x")) == "alpha"


def test_batch(make_model) -> None:
    llm, recorder = make_model(ok("same"), cls=BailianAppLLM)
    assert llm.batch(["a", "b"]) == ["same", "same"]
    assert sorted(b["input"]["prompt"] for b in recorder.bodies) == ["a", "b"]


def test_ls_params_say_llm(make_model) -> None:
    llm, _ = make_model(ok(), cls=BailianAppLLM, temperature=0.5)
    params = llm._get_ls_params()
    assert params["ls_model_type"] == "llm"
    assert params["ls_temperature"] == 0.5
    assert llm._llm_type == "bailian-app"
