"""LlamaIndex: the app's citations as data on LLM responses, mapped to a response's source nodes,
and rendered with those nodes as the sources (unit, and end to end on the local server)."""

from __future__ import annotations

from typing import Any

import pytest
from llama_index.core.base.response.schema import Response, StreamingResponse
from llama_index.core.instrumentation import get_dispatcher  # type: ignore[attr-defined]
from llama_index.core.query_engine import RetrieverQueryEngine
from llama_index.core.schema import NodeWithScore, TextNode

from llama_index_ext import BailianAppLLM, ZillizPipelineRetriever
from llama_index_ext.citations import (
    AppReferences,
    cite_source_nodes,
    render_response_with_sources,
)
from tests.fakes import bailian as fake
from tests.fakes.cited_corpus import text_search_pipeline

REFS: list[dict[str, Any]] = [
    {"index_id": "1", "doc_id": "p/7", "doc_name": "lite.md", "title": "Storage", "text": "B"},
    {"index_id": "2", "doc_name": "keys.md", "title": "Keys", "text": "not in any node"},
    {"index_id": "3", "doc_name": "other.md", "title": "Elsewhere", "text": "nowhere"},
]
NODES = [
    NodeWithScore(
        node=TextNode(
            id_="n-a", text="# Keys\nKeys are region-bound.", metadata={"doc_name": "keys.md"}
        ),
        score=0.9,
    ),
    NodeWithScore(
        node=TextNode(id_="p/7", text="Lite stores data.", metadata={"doc_name": "lite.md"}),
        score=0.8,
    ),
]
TEXT = "Data is local.<ref>[1]</ref> Keys are regional<ref>[2][3]</ref>."


def llm_with(make_model, answer) -> BailianAppLLM:
    llm: BailianAppLLM = make_model(answer, cls=BailianAppLLM)[0]
    return llm


def test_llm_responses_carry_citations_as_data_and_keep_their_text(make_model) -> None:
    body = fake.result(TEXT, finish="stop", doc_references=REFS[:1])
    response = llm_with(make_model, fake.respond(200, body, **fake.JSON_HEADERS)).complete("q")
    assert response.text == TEXT
    kwargs = response.additional_kwargs
    assert kwargs["text_without_markers"] == "Data is local. Keys are regional."
    assert kwargs["citations"] == [
        {
            "index_id": "1",
            "start": 0,
            "end": 14,
            "title": "Storage",
            "doc_id": "p/7",
            "doc_name": "lite.md",
            "cited_text": "B",
        },
        {"index_id": "2", "start": 15, "end": 32},
        {"index_id": "3", "start": 15, "end": 32},
    ]


def test_streamed_responses_carry_citations_on_the_last_one_only(make_model) -> None:
    pieces = ["Data is local.<ref>[1]</", "ref> Keys are regional<ref>[2][3]</ref>."]
    stream = fake.respond(
        200, fake.incremental_stream(pieces, doc_references=REFS), **fake.SSE_HEADERS
    )
    responses = list(llm_with(make_model, stream).stream_complete("q"))
    assert all("citations" not in r.additional_kwargs for r in responses[:-1])
    last = responses[-1].additional_kwargs
    assert [(c["index_id"], c.get("title")) for c in last["citations"]] == [
        ("1", "Storage"),
        ("2", "Keys"),
        ("3", "Elsewhere"),
    ]


def test_references_map_to_source_nodes_by_text_id_or_document_and_title() -> None:
    text, cited = cite_source_nodes(Response(TEXT, source_nodes=NODES), REFS)
    assert text == "Data is local. Keys are regional."
    # 1: same id as node 2; 2: same document, title in the node's text; 3: no node
    assert [(c.citation.index_id, c.node_index) for c in cited] == [("1", 1), ("2", 0), ("3", None)]
    assert cited[0].node is NODES[1] and cited[2].node is None
    by_text = [{"index_id": "1", "text": "  Lite stores\ndata. "}]
    assert cite_source_nodes("x<ref>[1]</ref>", by_text, NODES)[1][0].node_index == 1


def test_render_numbers_markers_as_source_node_positions() -> None:
    assert render_response_with_sources(Response(TEXT, source_nodes=NODES), REFS) == (
        "Data is local.[2] Keys are regional[1][3].\n"
        "\n"
        "Sources:\n"
        "[1] keys.md - Keys\n"
        "[2] lite.md - Lite stores data.\n"
        "[3] Elsewhere (other.md)"
    )
    assert render_response_with_sources("No refs.", [], NODES) == "No refs."


def test_a_streaming_response_must_be_read_first() -> None:
    response = StreamingResponse(response_gen=(t for t in ["a"]), source_nodes=NODES)
    with pytest.raises(ValueError, match="to the end"):
        cite_source_nodes(response, REFS)
    response.get_response()
    assert cite_source_nodes(response, REFS)[0] == "a"


@pytest.mark.server
def test_query_engine_citations_point_at_its_source_nodes_on_the_local_server(local_server):
    search_id = text_search_pipeline(local_server, "li_cite")
    retriever = ZillizPipelineRetriever(
        search_id,
        api_key=local_server.api_key,
        base_url=local_server.url,
        similarity_top_k=3,
    )
    llm = BailianAppLLM(
        app_id="citeapp",
        api_key=local_server.api_key,
        base_url=local_server.bailian_base_url,
        rag_options={"pipeline_ids": [search_id]},
    )
    refs = AppReferences()
    dispatcher = get_dispatcher()
    dispatcher.add_event_handler(refs)
    try:
        engine = RetrieverQueryEngine.from_args(retriever, llm=llm, streaming=True)
        response = engine.query("Where does Milvus Lite keep its data?")
        assert isinstance(response, StreamingResponse)
        response.get_response()
    finally:
        dispatcher.event_handlers.remove(refs)
        retriever.close()
        llm.close()
    assert refs.references, "the app cited nothing"
    text, cited = cite_source_nodes(response, refs.references)
    assert "<ref>" not in text and cited
    for item in cited:  # every reference the app cited is one of the nodes it was given
        assert item.node is not None
        assert item.node.node.get_content() == item.citation.cited_text
    rendered = render_response_with_sources(response, refs.references)
    first = cited[0].node_index
    assert first is not None and f"[{first + 1}]" in rendered
    assert "Milvus Lite keeps its data in a local directory" in rendered.split("Sources:")[1]
