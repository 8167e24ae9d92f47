"""Our clients against local apps that generate through an OpenAI-compatible model (the scripted
stub) and against a local workflow app: deltas in real time, the model's usage, typed errors,
workflow node messages, and ``biz_params`` checked by the app."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from langchain_zilliz_bailian import ChatBailianApp
from langchain_zilliz_bailian.bailian import BailianAppClient
from langchain_zilliz_bailian.errors import BadRequestError, InternalServerError
from langchain_zilliz_bailian.server import LocalServer
from langchain_zilliz_bailian.server.apps import AppRegistry, AppSpec
from tests.fakes.openai_stub import Script, StubModel

pytestmark = pytest.mark.server


@pytest.fixture(scope="module")
def stub() -> Iterator[StubModel]:
    with StubModel() as model:
        yield model


def register(server: LocalServer, app_id: str, **fields: Any) -> str:
    AppRegistry(server.data_dir).create(AppSpec.build(app_id=app_id, **fields), replace=True)
    return app_id


def model_app(server: LocalServer, app_id: str, stub: StubModel) -> str:
    """A plain model app answering through the stub."""
    model = {"base_url": stub.base_url, "model": "stub-chat"}
    return register(server, app_id, type="model", model=model)


def client(server: LocalServer, app_id: str) -> BailianAppClient:
    return BailianAppClient(
        app_id, base_url=server.bailian_base_url, api_key=server.api_key, max_retries=0
    )


def test_chat_model_streams_the_models_deltas_with_its_usage(
    local_server: LocalServer, stub: StubModel
) -> None:
    app_id = model_app(local_server, "client-model-app", stub)
    stub.reset(
        Script(deltas=["Milvus", " Lite", " is", " embedded."], delay_s=0.2, model="stub-chat")
    )
    chat = ChatBailianApp(
        app_id=app_id, base_url=local_server.bailian_base_url, api_key=local_server.api_key
    )
    texts: list[str] = []
    arrived: list[float] = []
    usage = None
    for chunk in chat.stream("What is Milvus Lite?"):
        if chunk.content:
            texts.append(str(chunk.content))
            arrived.append(time.perf_counter())
        usage = chunk.usage_metadata or usage
    assert texts == ["Milvus", " Lite", " is", " embedded."]
    stub.assert_relayed_live(arrived)
    assert usage is not None
    assert (usage["input_tokens"], usage["output_tokens"]) == (42, 7)


def test_chat_model_sampling_settings_reach_the_model(
    local_server: LocalServer, stub: StubModel
) -> None:
    app_id = model_app(local_server, "client-sampling-app", stub)
    stub.reset(Script(deltas=["Yes."], model="stub-chat"))
    chat = ChatBailianApp(
        app_id=app_id,
        base_url=local_server.bailian_base_url,
        api_key=local_server.api_key,
        temperature=0.2,
        top_p=0.9,
        seed=7,
    )
    assert chat.invoke("Is Milvus Lite embedded?").content == "Yes."
    (sent,) = stub.requests
    assert (sent["temperature"], sent["top_p"], sent["seed"]) == (0.2, 0.9, 7)


def test_a_failing_model_is_a_typed_error(local_server: LocalServer, stub: StubModel) -> None:
    app_id = model_app(local_server, "client-failing-model", stub)
    stub.reset(Script(status=500))
    with client(local_server, app_id) as app, pytest.raises(InternalServerError) as caught:
        app.call("Hi")
    assert caught.value.code == "ModelServiceFailed"
    assert caught.value.status_code == 500


def test_workflow_node_messages_reach_the_client(local_server: LocalServer) -> None:
    app_id = register(
        local_server,
        "client-workflow",
        type="workflow",
        system_prompt="Weather for ${city}.",
        parameters=[{"name": "city", "required": True}],
    )
    kinds = []
    with client(local_server, app_id) as app:
        stream = app.stream(
            "Will it rain?", biz_params={"city": "Hangzhou"}, flow_stream_mode="message_format_plus"
        )
        for chunk in stream:
            message = chunk.event.output.workflow_message if chunk.event.output else None
            assert message is not None
            kinds.append(message.node_type)
        assert stream.completion.usage.models == []  # usage {} as real workflow apps send it
    assert kinds[:2] == ["Start", "Retrieval"] and kinds[-1] == "End"
    with client(local_server, app_id) as app, pytest.raises(BadRequestError) as caught:
        app.call("Will it rain?")
    assert (caught.value.code, caught.value.status_code) == ("InvalidParameter", 400)


def test_a_thinking_models_reasoning_is_a_reasoning_block(
    local_server: LocalServer, stub: StubModel
) -> None:
    app_id = model_app(local_server, "client-thinking-model", stub)
    stub.reset(Script(reasoning=["First, ", "recall it."], deltas=["Paris."]))
    chat = ChatBailianApp(
        app_id=app_id,
        base_url=local_server.bailian_base_url,
        api_key=local_server.api_key,
        has_thoughts=True,
    )
    message = chat.invoke("Capital of France?")
    assert message.content == "Paris."
    blocks = [b for b in message.content_blocks if b["type"] == "reasoning"]
    assert [b.get("reasoning") for b in blocks] == ["First, recall it."]
