"""The framework-free Bailian app settings both frameworks' classes derive from (issue 9).

Config checks before any request, the client's arguments (``total_timeout`` included), the one
answer-metadata rule, and ``close``/``aclose`` as context managers.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from langchain_zilliz_bailian.bailian import BailianAppClient
from langchain_zilliz_bailian.bailian._constants import DEFAULT_TOTAL_TIMEOUT
from langchain_zilliz_bailian.bailian.settings import AppSettings, answer_metadata
from langchain_zilliz_bailian.errors import InvalidInputError
from tests.fakes.bailian import API_KEY, APP_ID, JSON_HEADERS, Recorder, respond, result
from tests.fakes.zilliz import EVERY_WAY, close_every_way, record_closes

THOUGHTS = [{"action_type": "reasoning", "thought": "..."}]
REFS = [{"index_id": "1", "doc_name": "a.md", "title": "A", "text": "alpha"}]
USAGE = {"models": [{"model_id": "qwen-plus", "input_tokens": 10, "output_tokens": 2}]}


def settings(*answers: dict[str, Any], **fields: Any) -> AppSettings:
    recorder = Recorder([respond(200, answer, **JSON_HEADERS) for answer in answers])
    return AppSettings(
        app_id=APP_ID,
        api_key=API_KEY,
        http_client=httpx.Client(transport=httpx.MockTransport(recorder)),
        **fields,
    )


def test_the_metadata_rule() -> None:
    answer = result("ok", finish="stop", usage=USAGE, doc_references=REFS, thoughts=THOUGHTS)
    completion = settings(answer).client.call("q")
    metadata = answer_metadata(completion, app_id=APP_ID)
    assert metadata == {
        "model_name": "qwen-plus",
        "app_id": APP_ID,
        "session_id": "sess-1",
        "request_id": "req-1",
        "finish_reason": "stop",
        "doc_references": [{**REFS[0], "images": [], "page_number": []}],
        "usage": {
            "input_tokens": 10,
            "output_tokens": 2,
            "total_tokens": 12,
            "models": USAGE["models"],
        },
        "thoughts": THOUGHTS,  # sent, so kept even though not asked for
    }
    assert answer_metadata(completion, app_id=APP_ID, stopped=True)["finish_reason"] == "stop"


def test_no_usage_names_the_app_and_thoughts_appear_only_when_asked_or_sent() -> None:
    completion = settings(result("ok", finish="stop", usage={})).client.call("q")
    plain = answer_metadata(completion, app_id=APP_ID)
    assert plain["usage"] == {} and plain["model_name"] == f"bailian-app-{APP_ID}"
    assert "thoughts" not in plain
    assert answer_metadata(completion, app_id=APP_ID, thoughts_asked=True)["thoughts"] == []


def test_a_stop_sequence_cut_reports_stop() -> None:
    completion = settings(result("ok", finish="null")).client.call("q")
    assert answer_metadata(completion, app_id=APP_ID)["finish_reason"] is None  # not finished
    assert answer_metadata(completion, app_id=APP_ID, stopped=True)["finish_reason"] == "stop"


def test_the_client_is_built_once_with_every_connection_setting() -> None:
    app = AppSettings(
        app_id=APP_ID, api_key=API_KEY, workspace="ws_abc", timeout=7.0, total_timeout=3.0
    )
    assert app.client_arguments()["total_timeout"] == 3.0
    client = app.client
    assert isinstance(client, BailianAppClient) and app.client is client
    assert client.total_timeout == 3.0 and client.app_id == APP_ID


def test_total_timeout_defaults_to_the_package_cap_and_none_means_no_cap() -> None:
    assert AppSettings(app_id=APP_ID, api_key=API_KEY).client.total_timeout == DEFAULT_TOTAL_TIMEOUT
    assert (
        AppSettings(app_id=APP_ID, api_key=API_KEY, total_timeout=None).client.total_timeout is None
    )


def test_per_call_keywords_override_the_fields_and_unknown_ones_become_parameters() -> None:
    app = AppSettings(app_id=APP_ID, api_key=API_KEY, session_id="s1", temperature=0.2)
    options = app.call_options({"enable_thinking": True}, {"temperature": 0.9, "foo": 1})
    assert options == {
        "session_id": "s1",
        "temperature": 0.9,
        "parameters": {"enable_thinking": True, "foo": 1},
    }


@pytest.mark.parametrize(
    "bad",
    [
        {"app_id": ""},
        {"app_id": "not an id!"},
        {"workspace": "bad ws!"},
        {"base_url": "ftp://x"},
        {"timeout": 0},
        {"max_retries": -1},
        {"temperature": "hot"},
        {"http_client": object()},
    ],
)
def test_bad_settings_fail_before_any_request(bad: dict[str, Any], monkeypatch) -> None:
    monkeypatch.delenv("DASHSCOPE_APP_ID", raising=False)
    with pytest.raises(InvalidInputError):
        AppSettings(**{"app_id": APP_ID, "api_key": API_KEY, **bad})


async def test_with_and_async_with_close_the_client(monkeypatch) -> None:
    closed = record_closes(monkeypatch, BailianAppClient)
    app = AppSettings(app_id=APP_ID, api_key=API_KEY)
    with app:
        pass
    assert closed == []  # never connected
    assert app.client is not None
    await close_every_way(app)
    assert closed == [("BailianAppClient", way) for way in EVERY_WAY]
