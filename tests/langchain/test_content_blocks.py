"""``AIMessage.content_blocks`` of ChatBailianApp answers: cited text and thoughts as standard
blocks, the same for ``invoke``, ``ainvoke`` and merged ``stream`` chunks."""

from __future__ import annotations

from typing import Any

import pytest
from langchain_core.messages import AIMessage

from langchain_zilliz_bailian import ChatBailianApp
from langchain_zilliz_bailian._content_blocks import PROVIDER
from tests.fakes.bailian import JSON_HEADERS, SSE_HEADERS, incremental_stream, respond, result
from tests.fakes.cited_corpus import TEXTS, text_search_pipeline
from tests.langchain.test_bailian_chat_model import merged

REFS = [
    {
        "index_id": "1",
        "doc_id": "d1",
        "doc_name": "lite.md",
        "title": "Storage",
        "doc_url": "https://example.com/lite",
        "text": "Milvus Lite stores data in a local file.",
    },
    {"index_id": "2", "doc_id": "d2", "doc_name": "keys.md", "title": "Keys", "text": "Keys."},
]
THOUGHTS = [
    {
        "action_type": "agentRag",
        "action": "rag",
        "action_name": "知识检索",
        "arguments": "{}",
        "observation": '[{"dataName": "lite.md", "referenceIndex": 1}]',
    },
    {
        "action_type": "reasoning",
        "action_name": "思考过程",
        "thought": "The user asks about storage.",
    },
]
ANSWER = "It keeps data in a local file.<ref>[1]</ref> Keys are region-bound<ref>[2][9]</ref>."
PIECES = [
    "It keeps data in a local file.<ref>[1]</",
    "ref> Keys are region-bound<ref>[",
    "2][9]</ref>.",
]
CLEAN = "It keeps data in a local file. Keys are region-bound."

EXPECTED: list[dict[str, Any]] = [
    {
        "type": "server_tool_call",
        "id": "bailian-thought-0",
        "name": "rag",
        "args": {},
        "extras": {"action_type": "agentRag", "action_name": "知识检索", "action": "rag"},
    },
    {
        "type": "server_tool_result",
        "tool_call_id": "bailian-thought-0",
        "status": "success",
        "output": [{"dataName": "lite.md", "referenceIndex": 1}],
    },
    {
        "type": "reasoning",
        "reasoning": "The user asks about storage.",
        "extras": {"action_type": "reasoning", "action_name": "思考过程"},
    },
    {
        "type": "text",
        "text": CLEAN,
        "annotations": [
            {
                "type": "citation",
                "start_index": 0,
                "end_index": 30,
                "title": "Storage",
                "url": "https://example.com/lite",
                "cited_text": "Milvus Lite stores data in a local file.",
                "extras": {"index_id": "1", "doc_id": "d1", "doc_name": "lite.md"},
            },
            {
                "type": "citation",
                "start_index": 31,
                "end_index": 52,
                "title": "Keys",
                "cited_text": "Keys.",
                "extras": {"index_id": "2", "doc_id": "d2", "doc_name": "keys.md"},
            },
            {  # cited, but not among doc_references: its span and id only
                "type": "citation",
                "start_index": 31,
                "end_index": 52,
                "extras": {"index_id": "9"},
            },
        ],
    },
]


def answered(make_model, **params: Any):
    body = result(ANSWER, finish="stop", doc_references=REFS, thoughts=THOUGHTS)
    return make_model(respond(200, body, **JSON_HEADERS), **params)[0]


def streaming(make_model, pieces: list[str] = PIECES, **final: Any):
    final = final or {"doc_references": REFS, "thoughts": THOUGHTS}
    return make_model(respond(200, incremental_stream(pieces, **final), **SSE_HEADERS))[0]


def test_invoke_gives_citations_and_thoughts_and_keeps_content_raw(make_model) -> None:
    message = answered(make_model).invoke("q")
    assert message.content == ANSWER  # unchanged: the app's text, markers included
    assert message.response_metadata["model_provider"] == PROVIDER
    assert message.content_blocks == EXPECTED
    text = message.content_blocks[-1]
    for note in text["annotations"]:  # the spans index the block's text
        assert CLEAN[note["start_index"] : note["end_index"]] in (
            "It keeps data in a local file.",
            "Keys are region-bound",
        )


async def test_ainvoke_gives_the_same_blocks(make_model) -> None:
    assert (await answered(make_model).ainvoke("q")).content_blocks == EXPECTED


def test_merged_stream_chunks_give_the_blocks_of_invoke(make_model) -> None:
    chunks = list(streaming(make_model).stream("q"))
    assert [c.content for c in chunks] == [
        "It keeps data in a local file.",  # the cut marker waits for its end, the text does not
        "<ref>[1]</ref> Keys are region-bound",
        "<ref>[2][9]</ref>.",
        "",
    ]
    assert merged(chunks).content_blocks == EXPECTED


async def test_astream_chunks_show_clean_text_one_by_one(make_model) -> None:
    chunks = [c async for c in streaming(make_model).astream("q")]
    # each chunk's own blocks: its text without markers; thoughts arrive with the last chunk
    assert [c.content_blocks for c in chunks[:-1]] == [
        [{"type": "text", "text": "It keeps data in a local file."}],
        [{"type": "text", "text": " Keys are region-bound"}],
        [{"type": "text", "text": "."}],
    ]
    assert [b["type"] for b in chunks[-1].content_blocks] == [
        "server_tool_call",
        "server_tool_result",
        "reasoning",
    ]
    assert merged(chunks).content_blocks == EXPECTED


@pytest.mark.parametrize("size", [1, 2, 5])
def test_markers_cut_anywhere_in_a_stream_give_the_same_blocks(make_model, size: int) -> None:
    pieces = [ANSWER[i : i + size] for i in range(0, len(ANSWER), size)]
    chunks = list(streaming(make_model, pieces).stream("q"))
    assert "".join(str(c.content) for c in chunks) == ANSWER
    assert all(c.content.count("<ref>") == c.content.count("</ref>") for c in chunks)
    assert merged(chunks).content_blocks == EXPECTED


def test_answers_without_markers_references_or_thoughts(make_model) -> None:
    model, _ = make_model(respond(200, result("Plain.", finish="stop"), **JSON_HEADERS))
    assert model.invoke("q").content_blocks == [{"type": "text", "text": "Plain."}]
    body = result("Remembered<ref>[1]</ref>.", finish="stop")
    model, _ = make_model(respond(200, body, **JSON_HEADERS))
    assert model.invoke("q").content_blocks == [
        {
            "type": "text",
            "text": "Remembered.",
            "annotations": [
                {"type": "citation", "start_index": 0, "end_index": 10, "extras": {"index_id": "1"}}
            ],
        }
    ]


def test_output_version_v1_puts_the_blocks_in_content_for_invoke(make_model) -> None:
    message = answered(make_model, output_version="v1").invoke("q")
    assert message.content == EXPECTED


def test_messages_built_by_hand_keep_langchain_parsing() -> None:
    """A list content (not what we produce) falls back to langchain-core's own parsing."""
    blocks: list[str | dict[str, Any]] = [{"type": "text", "text": "x<ref>[1]</ref>"}]
    message = AIMessage(content=blocks, response_metadata={"model_provider": PROVIDER})
    assert message.content_blocks == [{"type": "text", "text": "x<ref>[1]</ref>"}]


@pytest.mark.server
def test_invoke_and_stream_on_the_local_server_cite_its_doc_references(local_server) -> None:
    search_id = text_search_pipeline(local_server, "lc_cite")
    with ChatBailianApp(
        app_id="citeapp",
        api_key=local_server.api_key,
        base_url=local_server.bailian_base_url,
        rag_options={"pipeline_ids": [search_id]},
        has_thoughts=True,
    ) as app:
        question = "Where does Milvus Lite keep its data, and how do retries back off?"
        called = app.invoke(question)
        streamed = merged(list(app.stream(question)))
    assert streamed.content == called.content and "<ref>[" in str(called.content)
    for message in (called, streamed):
        refs = {r["index_id"]: r for r in message.response_metadata["doc_references"]}
        blocks = message.content_blocks
        assert [b["type"] for b in blocks] == ["server_tool_call", "server_tool_result", "text"]
        (text,) = [b for b in blocks if b["type"] == "text"]
        assert "<ref>" not in text["text"]
        notes: list[dict[str, Any]] = [dict(n) for n in text["annotations"]]
        assert {n["extras"]["index_id"] for n in notes} == set(refs)
        for note in notes:
            ref = refs[note["extras"]["index_id"]]
            assert (note["title"], note["cited_text"]) == (ref["title"], ref["text"])
            assert note["cited_text"] in TEXTS
            cited_span = text["text"][note["start_index"] : note["end_index"]]
            assert cited_span and cited_span in note["cited_text"]  # the server quotes its source
    assert streamed.content_blocks == called.content_blocks
