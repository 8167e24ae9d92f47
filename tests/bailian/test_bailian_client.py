"""BailianAppClient: configuration, request building (URL, headers, body) and key redaction."""

from __future__ import annotations

import logging

import httpx
import pytest

from langchain_zilliz_bailian.bailian import (
    DEFAULT_BASE_URL,
    INTL_BASE_URL,
    BailianAppClient,
)
from langchain_zilliz_bailian.errors import AuthenticationError, InvalidInputError
from tests.fakes.bailian import (
    API_KEY,
    APP_ID,
    JSON_HEADERS,
    SSE_HEADERS,
    incremental_stream,
    respond,
)
from tests.fakes.bailian import result as answer


def ok(text: str = "fine"):
    return respond(200, answer(text, finish="stop"), **JSON_HEADERS)


def streamed(*pieces: str):
    return respond(200, incremental_stream(pieces or ("fine",)), **SSE_HEADERS)


# -- configuration ------------------------------------------------------------------------------


def test_defaults_url_and_path(make_client) -> None:
    client, recorder = make_client(ok())
    client.call("hi")
    assert client.base_url == DEFAULT_BASE_URL == "https://dashscope.aliyuncs.com/api/v1"
    assert str(recorder.requests[0].url) == f"{DEFAULT_BASE_URL}/apps/{APP_ID}/completion"
    assert recorder.requests[0].method == "POST"


def test_international_host_and_env_base_url(make_client, monkeypatch) -> None:
    assert INTL_BASE_URL == "https://dashscope-intl.aliyuncs.com/api/v1"
    monkeypatch.setenv("DASHSCOPE_HTTP_BASE_URL", INTL_BASE_URL + "/")
    client, recorder = make_client(ok())
    client.call("hi")
    assert str(recorder.requests[0].url) == f"{INTL_BASE_URL}/apps/{APP_ID}/completion"


def test_api_key_from_env(make_client, monkeypatch) -> None:
    monkeypatch.setenv("DASHSCOPE_API_KEY", "sk-from-env")
    client, recorder = make_client(ok(), api_key=None)
    client.call("hi")
    assert recorder.requests[0].headers["authorization"] == "Bearer sk-from-env"


def test_missing_key_fails_before_any_request(make_client, monkeypatch) -> None:
    monkeypatch.delenv("DASHSCOPE_API_KEY", raising=False)
    client, recorder = make_client(ok(), api_key=None)
    with pytest.raises(InvalidInputError, match="DASHSCOPE_API_KEY"):
        client.call("hi")
    assert recorder.requests == []


@pytest.mark.parametrize("app_id", ["../admin", "a/b", "", "app id", "x?y=1", "évian"])
def test_app_id_is_validated_before_any_request(app_id: str) -> None:
    with pytest.raises(InvalidInputError, match="app_id"):
        BailianAppClient(app_id, api_key=API_KEY)


def test_bad_base_url_rejected() -> None:
    with pytest.raises(InvalidInputError):
        BailianAppClient(APP_ID, api_key=API_KEY, base_url="ftp://example.com/api/v1")


def test_default_timeouts() -> None:
    client = BailianAppClient(APP_ID, api_key=API_KEY)
    timeout = client._adapter.timeout
    assert timeout.connect == 5.0
    assert timeout.read is not None
    assert 180 < timeout.read <= 200  # the server gives up after 180 s
    assert BailianAppClient(APP_ID, api_key=API_KEY, timeout=30)._adapter.timeout.read == 30
    custom = httpx.Timeout(3.0)
    assert BailianAppClient(APP_ID, api_key=API_KEY, timeout=custom)._adapter.timeout is custom


def test_one_pool_reused_across_calls(make_client) -> None:
    client = BailianAppClient(APP_ID, api_key=API_KEY)
    assert client._adapter.client is client._adapter.client
    client.close()


# -- headers ------------------------------------------------------------------------------------


def test_json_call_headers(make_client) -> None:
    client, recorder = make_client(ok())
    client.call("hi")
    headers = recorder.requests[0].headers
    assert headers["authorization"] == f"Bearer {API_KEY}"
    assert headers["content-type"] == "application/json"
    assert headers["accept"] == "application/json"
    assert "x-dashscope-sse" not in headers
    assert "x-dashscope-workspace" not in headers
    assert headers["user-agent"].startswith("langchain-zilliz-bailian/")


def test_stream_headers_switch_on_sse(make_client) -> None:
    client, recorder = make_client(streamed())
    list(client.stream("hi"))
    headers = recorder.requests[0].headers
    assert headers["accept"] == "text/event-stream"
    assert headers["x-dashscope-sse"] == "enable"


def test_workspace_header_client_and_per_call(make_client) -> None:
    client, recorder = make_client(ok(), workspace="ws_abc123")
    client.call("hi")
    client.call("hi", workspace="ws_other")
    assert recorder.requests[0].headers["X-DashScope-WorkSpace"] == "ws_abc123"
    assert recorder.requests[1].headers["x-dashscope-workspace"] == "ws_other"


def test_workspace_is_validated(make_client) -> None:
    with pytest.raises(InvalidInputError):
        BailianAppClient(APP_ID, api_key=API_KEY, workspace="ws\r\nX-Evil: 1")
    client, recorder = make_client(ok())
    with pytest.raises(InvalidInputError):
        client.call("hi", workspace="ws bad")
    assert recorder.requests == []


# -- body ---------------------------------------------------------------------------------------


def test_minimal_body(make_client) -> None:
    client, recorder = make_client(ok())
    client.call("hi")
    assert recorder.bodies == [{"input": {"prompt": "hi"}, "parameters": {}}]


def test_every_documented_field(make_client) -> None:
    client, recorder = make_client(ok())
    client.call(
        "hi",
        session_id="sess-9",
        memory_id="mem-1",
        biz_params={"city": "Hangzhou", "user_defined_tokens": {"plug": {"user_token": "t"}}},
        image_list=["https://x/img.png"],
        file_list=["https://x/a.pdf"],
        rag_options={"pipeline_ids": ["p1"], "metadata_filter": {"k": "v"}},
        has_thoughts=True,
        flow_stream_mode="message_format_plus",
        temperature=0.3,
        top_p=0.8,
        top_k=50,
        seed=7,
        input_extra={"doc_reference_type": "indexed"},
        parameters={"enable_thinking": True, "model_id": "qwen-max"},
    )
    assert recorder.bodies[0] == {
        "input": {
            "prompt": "hi",
            "session_id": "sess-9",
            "memory_id": "mem-1",
            "biz_params": {
                "city": "Hangzhou",
                "user_defined_tokens": {"plug": {"user_token": "t"}},
            },
            "image_list": ["https://x/img.png"],
            "file_list": ["https://x/a.pdf"],
            "doc_reference_type": "indexed",
        },
        "parameters": {
            "has_thoughts": True,
            "flow_stream_mode": "message_format_plus",
            "rag_options": {"pipeline_ids": ["p1"], "metadata_filter": {"k": "v"}},
            "temperature": 0.3,
            "top_p": 0.8,
            "top_k": 50,
            "seed": 7,
            "enable_thinking": True,
            "model_id": "qwen-max",
        },
    }


def test_none_means_not_sent(make_client) -> None:
    client, recorder = make_client(ok())
    client.call("hi", session_id=None, temperature=None, rag_options=None)
    assert recorder.bodies[0] == {"input": {"prompt": "hi"}, "parameters": {}}


def test_incremental_output_only_on_streams(make_client) -> None:
    client, recorder = make_client(ok(), streamed())
    client.call("hi", parameters={"incremental_output": True})
    list(client.stream("hi"))
    assert "incremental_output" not in recorder.bodies[0]["parameters"]
    assert recorder.bodies[1]["parameters"]["incremental_output"] is True


def test_stream_can_ask_for_cumulative_output(make_client) -> None:
    client, recorder = make_client(streamed())
    list(client.stream("hi", incremental_output=False))
    assert recorder.bodies[0]["parameters"]["incremental_output"] is False


def test_messages_body(make_client) -> None:
    client, recorder = make_client(ok())
    history = [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Hi"},
        {"role": "assistant", "content": "Hello"},
        {"role": "user", "content": "And?"},
    ]
    client.call(messages=history)
    assert recorder.bodies[0] == {"input": {"messages": history}, "parameters": {}}


@pytest.mark.parametrize("role", ["tool", "function", "human", None])
def test_message_roles_are_checked(make_client, role) -> None:
    client, recorder = make_client(ok())
    with pytest.raises(InvalidInputError, match="role"):
        client.call(messages=[{"role": role, "content": "x"}])
    assert recorder.requests == []


# -- redaction ----------------------------------------------------------------------------------


def test_key_never_in_repr_errors_or_logs(make_client, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    unauthorized = respond(
        401, {"code": "InvalidApiKey", "message": "Invalid API-key provided."}, **JSON_HEADERS
    )
    client, _ = make_client(ok(), unauthorized)
    client.call("hi")
    with pytest.raises(AuthenticationError) as caught:
        client.call("hi")
    assert API_KEY not in repr(client)
    assert API_KEY not in repr(client._adapter)
    assert API_KEY not in str(caught.value)
    assert API_KEY not in repr(caught.value)
    assert API_KEY not in (caught.value.body or "")
    assert API_KEY not in caplog.text
