"""One test per entry B<n> of ``docs/contract/bailian.md``, named ``test_b<n>_<short>``."""

from __future__ import annotations

import gzip
import json
import re
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml  # type: ignore[import-untyped]
from langchain_core.messages import AIMessage, HumanMessage

from langchain_zilliz_bailian import ChatBailianApp
from langchain_zilliz_bailian._http.sse import iter_events
from langchain_zilliz_bailian.bailian import (
    INTL_BASE_URL,
    BailianAppClient,
    CumulativeStreamWarning,
    citations,
)
from langchain_zilliz_bailian.bailian.models import normalize_finish_reason
from langchain_zilliz_bailian.errors import (
    AuthenticationError,
    BadRequestError,
    InternalServerError,
    InvalidInputError,
    PermissionDeniedError,
    RateLimitError,
    StreamInterruptedError,
)
from tests.fakes.bailian import (
    API_KEY,
    APP_ID,
    JSON_HEADERS,
    NO_WAIT,
    SSE_HEADERS,
    Recorder,
    event,
    mock_http,
    respond,
    result,
    sse,
)

CASSETTES = Path(__file__).resolve().parents[2] / "cassettes" / "test_bailian_recordings"
#: The seed document's ``biz_params`` example, verbatim (B26).
SEED = (
    Path(__file__).resolve().parents[1]
    / "fixtures"
    / "seeds"
    / "bailian-app-completion.biz-params-example.zh.txt"
)


def client_for(*responses, **kwargs) -> tuple[BailianAppClient, Recorder]:
    recorder = Recorder(list(responses))
    kwargs.setdefault("retry_policy", NO_WAIT)
    return BailianAppClient(APP_ID, api_key=API_KEY, **mock_http(recorder), **kwargs), recorder


def header(name: str, value: str) -> dict[str, Any]:
    """One response header as keyword arguments for ``run`` (its names hold dashes)."""
    return {name: value}


def run(body: bytes, *, incremental: bool = True, **headers: str):
    """Stream ``body``; return the deltas and the assembled completion."""
    client, _ = client_for(respond(200, body, **{**SSE_HEADERS, **headers}))
    stream = client.stream("q", incremental_output=incremental)
    deltas = [chunk.delta for chunk in stream]
    return deltas, stream.completion


def ok_json(text: str = "ok", **output):
    return respond(200, result(text, finish="stop", **output), **JSON_HEADERS)


def test_b1_finish_reason_string_null() -> None:
    for value in (None, "", "null", "NULL"):
        assert normalize_finish_reason(value) is None
    assert normalize_finish_reason("stop") == "stop"
    assert normalize_finish_reason("length") == "length"
    client, _ = client_for(respond(200, sse(result("a"), result("", finish="stop")), **SSE_HEADERS))
    assert [(c.done, c.finish_reason) for c in client.stream("q")] == [
        (False, None),
        (True, "stop"),
    ]


def test_b2_http_status_comment_is_kept() -> None:
    body = sse(result("a")) + event(
        {"code": "Mystery", "message": "m"}, name="error", id=2, status=503
    )
    response = httpx.Response(200, headers=SSE_HEADERS, content=body)
    assert [e.status for e in iter_events(response) if e.data] == [200, 503]
    with pytest.raises(InternalServerError) as caught:
        run(body)
    assert caught.value.status_code == 503  # an unknown code falls back to the comment's status


def test_b3_field_spacing_crlf_and_multiline_data() -> None:
    first = json.dumps(result("a"))
    second = json.dumps(result("b", finish="stop"), indent=1).split("\n")
    body = (
        f"id: 1\r\nevent: result\r\n:HTTP_STATUS/200\r\ndata: {first}\r\n\r\n"
        + "id:2\nevent:result\n"
        + "".join(f"data:{line}\n" for line in second)
        + "\n"
    ).encode()
    deltas, completion = run(body)
    assert deltas == ["a", "b"]
    assert completion.finish_reason == "stop"


def test_b4_no_done_sentinel_stop_plus_eof() -> None:
    body = sse(result("a"), result("", finish="stop"))
    assert run(body)[0] == ["a", ""]
    # an unknown "done" event or a stray [DONE] is ignored, not parsed as data
    body = sse(result("a")) + event("[DONE]", name="result", id=2) + event({}, name="done", id=3)
    with pytest.raises(StreamInterruptedError):  # ... and without a stop event the stream is cut
        run(body)


def test_b5_cumulative_text_prefix_diff_never_replace() -> None:
    # str.replace(previous, "") would turn "abab" into "" and lose text (the ChatTongyi bug)
    deltas, completion = run(
        sse(result("ab"), result("abab"), result("abab!", finish="stop")), incremental=False
    )
    assert deltas == ["ab", "ab", "!"]
    assert completion.text == "abab!"
    # a rewrite of earlier text: only the part after the common prefix is handed on, with a warning
    body = sse(result("The cat"), result("The car is red"), result("", finish="stop"))
    with pytest.warns(CumulativeStreamWarning, match="rewrote"):
        deltas, _ = run(body, incremental=False)
    assert deltas == ["The cat", "r is red", ""]


def test_b6_incremental_output_only_when_streaming() -> None:
    client, recorder = client_for(
        ok_json(), respond(200, sse(result("", finish="stop")), **SSE_HEADERS)
    )
    client.call("q", parameters={"incremental_output": True})
    list(client.stream("q"))
    assert "incremental_output" not in recorder.bodies[0]["parameters"]
    assert recorder.bodies[1]["parameters"]["incremental_output"] is True


def test_b7_doc_references_replace_never_append() -> None:
    ref1 = {"index_id": "1", "doc_id": "d", "title": "one"}
    ref2 = {"index_id": "2", "doc_id": "d", "title": "two"}
    body = sse(
        result("a"),
        result("b", doc_references=[ref1]),
        result("c", doc_references=[ref1]),
        result("d", doc_references=[ref1, ref2]),
        result("", finish="stop", doc_references=[ref1, ref2]),
    )
    _, completion = run(body)
    assert [(r.index_id, r.title) for r in completion.doc_references] == [
        ("1", "one"),
        ("2", "two"),
    ]


def test_b8_citation_markers_split_and_loose_ids() -> None:
    body = sse(
        result("See <ref>["), result("3]</ref> and <ref>[1][4]</"), result("ref>.", finish="stop")
    )
    deltas, completion = run(body)
    assert deltas == ["See <ref>[", "3]</ref> and <ref>[1][4]</", "ref>."]
    assert completion.citations == ["3", "1", "4"]
    assert completion.doc_references == []  # markers without references (memory answers)
    assert citations("x<ref>[1]</") == []  # half a marker is not a citation
    refs = [{"index_id": 7, "doc_id": "same"}, {"index_id": "9", "doc_id": "same"}]
    _, completion = run(sse(result("x", finish="stop", doc_references=refs)))
    assert [(r.index_id, r.doc_id) for r in completion.doc_references] == [
        ("7", "same"),
        ("9", "same"),
    ]


def test_b9_usage_cumulative_last_wins_sum_models() -> None:
    def usage(out: int) -> dict[str, Any]:
        return {
            "models": [
                {"model_id": "qwen-max", "input_tokens": 100, "output_tokens": out},
                {"model_id": "qwen-turbo", "input_tokens": 7, "output_tokens": 1},
            ]
        }

    body = sse(
        result("a", usage=usage(1)),
        result("b", usage=usage(2)),
        {"output": {"text": "c", "finish_reason": "null"}, "request_id": "r"},  # usage missing
        result("", finish="stop", usage=usage(7)),
    )
    _, completion = run(body)
    assert (completion.usage.input_tokens, completion.usage.output_tokens) == (107, 8)
    assert completion.usage.model_id == "qwen-max"
    _, completion = run(sse(result("a", finish="stop", usage={})))
    assert completion.usage.models == []


def test_b10_code_and_message_only_on_failure() -> None:
    success = {**result("fine", finish="stop"), "code": "", "message": ""}
    client, _ = client_for(respond(200, success, **JSON_HEADERS))
    assert client.call("q").text == "fine"
    failure = {"code": "InvalidParameter", "msg": "bad", "type": "InvalidParameter"}
    client, _ = client_for(respond(400, failure, **JSON_HEADERS))
    with pytest.raises(BadRequestError, match="bad"):
        client.call("q")


def test_b11_four_error_channels() -> None:
    envelope = {"code": "InvalidApiKey", "message": "Invalid API-key provided."}
    client, _ = client_for(respond(401, envelope))  # JSON without a Content-Type
    with pytest.raises(AuthenticationError):
        client.call("q")
    client, _ = client_for(
        respond(
            400,
            event({"code": "Arrearage", "message": "m"}, name="error", status=400),
            **SSE_HEADERS,
        )
    )
    with pytest.raises(PermissionDeniedError):
        list(client.stream("q"))
    with pytest.raises(BadRequestError):
        run(
            sse(result("a"))
            + event(
                {"code": "DataInspectionFailed", "message": "m"}, name="error", id=2, status=400
            )
        )
    client, _ = client_for(
        respond(502, "<html>Bad Gateway</html>", **{"content-type": "text/html"})
    )
    with pytest.raises(InternalServerError) as caught:
        client.call("q")
    assert caught.value.code == "Unknown"


def test_b12_classify_by_code_not_status() -> None:
    throttled, _ = client_for(respond(429, {"code": "Throttling.RateQuota", "message": "m"}))
    billing, billing_log = client_for(respond(429, {"code": "PostpaidBillOverdue", "message": "m"}))
    with pytest.raises(RateLimitError):
        throttled.call("q")
    with pytest.raises(PermissionDeniedError):
        billing.call("q")
    assert len(billing_log.requests) == 1
    for code in ("Arrearage", "DataInspectionFailed"):
        client, log = client_for(respond(400, {"code": code, "message": "m"}))
        with pytest.raises((PermissionDeniedError, BadRequestError)):
            client.call("q")
        assert len(log.requests) == 1


def test_b13_request_id_first_non_empty_and_header_kept() -> None:
    body = sse(
        result("a", request_id=""),
        result("b", request_id="body-1"),
        result("", finish="stop", request_id="body-2"),
    )
    _, completion = run(body, **header("x-request-id", "header-9"))
    assert completion.request_id == "body-1"
    assert completion.header_request_id == "header-9"
    _, completion = run(
        sse(result("a", finish="stop", request_id="")), **header("x-request-id", "header-9")
    )
    assert completion.request_id == "header-9"


def test_b14_session_id_last_non_empty() -> None:
    body = sse(
        result("a", session_id="s1"),
        result("b", session_id=""),
        result("", finish="stop", session_id="s2"),
    )
    assert run(body)[1].session_id == "s2"
    assert run(sse(result("a", finish="stop", session_id="")))[1].session_id is None


def test_b15_thoughts_are_loosely_typed() -> None:
    thoughts = [
        {
            "action_type": "agentRag",
            "action": "rag",
            "observation": '[{"content": "x"}]',
            "arguments": "{}",
        },
        {"action_type": "api", "action": "memory", "action_input": {"memory_id": "m"}},
        {"action_type": "reasoning", "action_input": "plain", "brand_new_key": [1, 2]},
    ]
    client, _ = client_for(ok_json(thoughts=thoughts))
    parsed = client.call("q").thoughts  # no has_thoughts sent, thoughts arrive anyway
    assert [t.action_type for t in parsed] == ["agentRag", "api", "reasoning"]
    assert json.loads(parsed[0].observation) == [{"content": "x"}]
    assert parsed[1].action_input == {"memory_id": "m"}
    assert parsed[2].model_extra == {"brand_new_key": [1, 2]}


def test_b16_events_with_empty_text_are_kept() -> None:
    node = {
        "node_id": "n1",
        "node_name": "Start",
        "node_status": "success",
        "message": {"role": "assistant", "content": "hi"},
    }
    body = sse(
        result("", thoughts=[{"action_type": "api", "thought": "looking"}]),
        result("", workflow_message=node),
        result("answer"),
        result("", finish="stop"),
    )
    client, _ = client_for(respond(200, body, **SSE_HEADERS))
    chunks = list(client.stream("q"))
    assert [c.delta for c in chunks] == ["", "", "answer", ""]
    assert chunks[0].event.output is not None and chunks[0].event.output.thoughts is not None
    assert (
        chunks[1].event.output is not None and chunks[1].event.output.workflow_message is not None
    )
    assert chunks[0].event.output.thoughts[0].thought == "looking"
    assert chunks[1].event.output.workflow_message.node_name == "Start"


def test_b17_region_bound_base_url_and_header_casing() -> None:
    client, recorder = client_for(ok_json(), base_url=INTL_BASE_URL, workspace="ws_123")
    client.call("q")
    request = recorder.requests[0]
    assert request.url.host == "dashscope-intl.aliyuncs.com"
    assert (b"X-DashScope-WorkSpace", b"ws_123") in request.headers.raw


def test_b18_connect_and_idle_read_timeouts() -> None:
    timeout = BailianAppClient(APP_ID, api_key=API_KEY)._adapter.timeout
    assert timeout.connect == 5.0
    assert timeout.read is not None
    assert timeout.read > 180  # above the server's own 180 s, so its error arrives first
    assert BailianAppClient(APP_ID, api_key=API_KEY, timeout=20)._adapter.timeout.read == 20


def test_b19_only_set_keys_sent_unknown_passed_through() -> None:
    client, recorder = client_for(ok_json())
    client.call("q", parameters={"enable_premium": True, "mcp_servers": ["s1"]})
    assert recorder.bodies[0] == {
        "input": {"prompt": "q"},
        "parameters": {"enable_premium": True, "mcp_servers": ["s1"]},
    }  # no "workspace": null, no "stream"


def test_b20_prompt_with_messages_is_the_last_user_turn() -> None:
    client, recorder = client_for(ok_json())
    client.call(
        "and now?",
        messages=[{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}],
    )
    assert recorder.bodies[0]["input"] == {
        "messages": [
            {"role": "user", "content": "hi"},
            {"role": "assistant", "content": "hello"},
            {"role": "user", "content": "and now?"},
        ]
    }


def test_b21_cumulative_mode_is_reassembled_into_the_same_text() -> None:
    cumulative = sse(result("土豆"), result("土豆炖"), result("土豆炖猪脚", finish="stop"))
    incremental = sse(result("土豆"), result("炖"), result("猪脚"), result("", finish="stop"))
    cum_deltas, cum = run(cumulative, incremental=False)
    inc_deltas, inc = run(incremental)
    assert cum.text == inc.text == "土豆炖猪脚"
    assert "".join(cum_deltas) == "".join(inc_deltas)


def test_b22_parser_gaps_the_sdk_has() -> None:
    error = '{"code": "InternalError", "message": "boom"}'
    body = sse(result("a")) + f"id:2\nevent: error\n:HTTP_STATUS/500\ndata: {error}\n\n".encode()
    with pytest.raises(InternalServerError) as caught:  # "event: error" with a space is an error
        run(body)
    assert caught.value.status_code == 500  # not flattened to 400
    body = sse({"output": None, "request_id": "r"}, result("x"), result("", finish="stop"))
    assert run(body)[0] == ["", "x", ""]  # output: null does not crash


def test_b23_prompt_or_messages_required() -> None:
    client, recorder = client_for(ok_json())
    with pytest.raises(InvalidInputError, match="prompt"):
        client.call()
    with pytest.raises(InvalidInputError):
        client.stream(messages=[])
    assert recorder.requests == []
    refused = {"code": "InvalidParameter", "message": 'Either "prompt" or "messages" must exist'}
    client, _ = client_for(respond(400, refused, **JSON_HEADERS))
    with pytest.raises(BadRequestError, match="must exist"):
        client.call("q")


def test_b24_history_is_never_sent() -> None:
    recorder = Recorder([ok_json()])
    model = ChatBailianApp(app_id=APP_ID, api_key=API_KEY, session_id="s1", **mock_http(recorder))
    model.invoke([HumanMessage("a"), AIMessage("b"), HumanMessage("c")])
    body = recorder.bodies[0]
    assert "history" not in body["input"]
    assert body["input"] == {"prompt": "c", "session_id": "s1"}


def test_b25_debug_is_not_sent() -> None:
    client, recorder = client_for(ok_json())
    client.call("q")
    assert set(recorder.bodies[0]) == {"input", "parameters"}


def test_b26_seed_example_is_invalid_json_ours_is_valid() -> None:
    seed = SEED.read_text(encoding="utf-8")
    start = seed.index('"biz_params": {\n"city"')
    snippet = "{" + seed[start : seed.index("}", start) + 1] + "}"
    with pytest.raises(json.JSONDecodeError):
        json.loads(snippet)  # the missing comma between "city" and "date"
    client, recorder = client_for(ok_json())
    client.call("你好", biz_params={"city": "Hangzhou", "date": "2024-08-23"})
    assert json.loads(recorder.requests[0].content)["input"]["biz_params"] == {
        "city": "Hangzhou",
        "date": "2024-08-23",
    }


def test_b27_workflow_message_and_reject_status() -> None:
    node = {
        "node_id": "End_1",
        "node_name": "End",
        "node_type": "End",
        "node_status": "success",
        "node_is_completed": True,
        "node_msg_seq_id": 3,
        "message": {"role": "assistant", "content": "done"},
        "parent_node_id": "LLM_2",
    }
    client, recorder = client_for(ok_json("done", workflow_message=node, reject_status=False))
    completion = client.call("q", flow_stream_mode="message_format_plus")
    assert recorder.bodies[0]["parameters"] == {"flow_stream_mode": "message_format_plus"}
    assert completion.workflow_message is not None
    assert completion.workflow_message.parent_node_id == "LLM_2"
    assert completion.workflow_message.node_is_completed is True
    assert completion.model_extra == {"reject_status": False}


@pytest.mark.parametrize(
    "content_type",
    ["text/event-stream;charset=UTF-8", "text/event-stream", "Text/Event-Stream; charset=utf-8"],
)
def test_b28_event_stream_media_type_by_prefix(content_type: str) -> None:
    deltas, _ = run(
        sse(result("a"), result("", finish="stop")), **header("content-type", content_type)
    )
    assert deltas == ["a", ""]


def test_b29_finished_header_is_not_trusted() -> None:
    body = sse(result("a"))
    with pytest.raises(StreamInterruptedError):
        run(body, **header("x-dashscope-finished", "true"))
    deltas, completion = run(
        sse(result("a"), result("", finish="stop")), **header("x-dashscope-finished", "false")
    )
    assert completion.finish_reason == "stop"


def test_b30_gzip_json_decoded_and_cassettes_stored_decoded() -> None:
    payload = json.dumps(result("压缩", finish="stop")).encode()
    compressed = respond(
        200, gzip.compress(payload), **{**JSON_HEADERS, "content-encoding": "gzip"}
    )
    client, _ = client_for(compressed)
    assert client.call("q").text == "压缩"
    for cassette in CASSETTES.glob("*.yaml"):
        interaction = yaml.safe_load(cassette.read_text(encoding="utf-8"))["interactions"][0]
        headers = {k.lower() for k in interaction["response"]["headers"]}
        assert "content-encoding" not in headers
        assert not re.match(r"^\x1f\x8b", interaction["response"]["body"]["string"])
        assert "authorization" not in {k.lower() for k in interaction["request"]["headers"]} or (
            interaction["request"]["headers"].get("Authorization") == ["PLACEHOLDER"]
        )
