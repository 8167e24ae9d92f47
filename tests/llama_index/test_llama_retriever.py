"""ZillizPipelineRetriever over a scripted transport: mapping, ids, filters, async, events."""

from __future__ import annotations

from typing import Any

import pytest
from llama_index.core.callbacks import CallbackManager, CBEventType
from llama_index.core.schema import NodeWithScore, QueryBundle, TextNode
from llama_index.core.vector_stores import (
    FilterCondition,
    FilterOperator,
    MetadataFilter,
    MetadataFilters,
)

from langchain_zilliz_bailian.errors import InvalidInputError
from llama_index_ext import PipelineNotServingError, UnsupportedFilterError, ZillizPipelineRetriever
from tests.fakes.llama_index import CallbackLog
from tests.fakes.zilliz import Script, ok

PIPE = "pipe-6ca5dd1b4672659d3c3487"
BIG_ID = 2**53 + 1  # a float would round it to 2**53


def describe(action="SEARCH_DOC_CHUNK", status="SERVING"):
    return ok(
        {
            "pipelineId": PIPE,
            "type": "SEARCH",
            "status": status,
            "functions": [{"action": action, "inputFields": ["query_text"]}],
        }
    )


DOC_HITS = [
    {
        "id": BIG_ID,
        "distance": "0.91",
        "chunk_text": "Milvus Lite stores data locally.",
        "chunk_id": 3,
        "doc_name": "lite.md",
    },
    {"id": 448986959321277979, "distance": 0.8, "chunk_text": "Pipelines embed text."},
]


def make(script: Script, **kwargs) -> ZillizPipelineRetriever:
    return ZillizPipelineRetriever(
        PIPE,
        api_key="zk-secret-key",
        base_url="https://zilliz.example.test",
        http_client=script.sync_client(),
        http_async_client=script.async_client(),
        **kwargs,
    )


def search_params(script: Script, index: int = -1) -> dict[str, Any]:
    params: dict[str, Any] = script.bodies()[index]["params"]
    return params


def test_hits_become_nodes_with_scores_and_string_ids():
    script = Script([describe(), ok({"result": DOC_HITS, "usage": {"embedding": 4}})])
    nodes = make(script).retrieve("where is data stored?")
    assert nodes == [
        NodeWithScore(
            node=TextNode(
                id_=str(BIG_ID),
                text="Milvus Lite stores data locally.",
                metadata={"chunk_id": 3, "doc_name": "lite.md"},
            ),
            score=0.91,
        ),
        NodeWithScore(
            node=TextNode(id_="448986959321277979", text="Pipelines embed text.", metadata={}),
            score=0.8,
        ),
    ]
    assert nodes[0].node.node_id == "9007199254740993"  # every digit of an int64 id kept
    assert isinstance(nodes[0].node.node_id, str)


def test_search_request_carries_top_k_offset_fields_and_filter():
    script = Script([describe(), ok({"result": []})])
    retriever = make(
        script,
        similarity_top_k=7,
        offset=2,
        output_fields=["doc_name", "year"],
        filter='doc_name like "a%"',
        filters=MetadataFilters(
            filters=[
                MetadataFilter(key="year", value=2024, operator=FilterOperator.GTE),
                MetadataFilter(key="lang", value=["en", "zh"], operator=FilterOperator.IN),
            ],
            condition=FilterCondition.OR,
        ),
    )
    assert retriever.retrieve("q") == []
    body = script.bodies()[-1]
    assert body["data"] == {"query_text": "q"}
    assert body["params"] == {
        "limit": 7,
        "offset": 2,
        "outputFields": ["doc_name", "year"],
        "filter": '(doc_name like "a%") and (year >= 2024 or lang in ["en", "zh"])',
    }
    assert script.requests[-1].url.path == f"/v1/pipelines/{PIPE}/run"


def test_no_filter_sends_an_empty_filter():
    script = Script([describe(), ok({"result": []})])
    make(script).retrieve("q")
    assert search_params(script) == {"limit": 4, "offset": 0, "outputFields": [], "filter": ""}


def test_untranslatable_filters_fail_before_any_request():
    script = Script([])
    bad = MetadataFilters(filters=[MetadataFilter(key="t", value="x", operator="is_empty")])
    with pytest.raises(UnsupportedFilterError, match="no Milvus equivalent"):
        make(script, filters=bad)
    retriever = make(script)
    retriever.filters = bad  # changed after construction: still refused before sending
    with pytest.raises(UnsupportedFilterError):
        retriever.retrieve("q")
    assert script.requests == []


async def test_untranslatable_filters_fail_before_any_async_request():
    script = Script([])
    retriever = make(script, content_field="text")
    retriever.filters = MetadataFilters(
        filters=[MetadataFilter(key="t", value="x", operator="text_match_insensitive")]
    )
    with pytest.raises(UnsupportedFilterError):
        await retriever.aretrieve("q")
    assert script.requests == []


@pytest.mark.parametrize(
    ("action", "field", "hit"),
    [
        ("SEARCH_TEXT", "text", {"id": 1, "distance": 0.5, "text": "plain"}),
        ("SEARCH_DOC_CHUNK", "chunk_text", {"id": 1, "distance": 0.5, "chunk_text": "plain"}),
        (
            "SEARCH_IMAGE_BY_TEXT",
            "image_title",
            {"image_id": "cat-1", "distance": 0.5, "image_title": "plain", "image_url": "u"},
        ),
    ],
)
def test_text_field_follows_the_pipeline_action(action, field, hit):
    script = Script([describe(action), ok({"result": [hit]})])
    [node] = make(script).retrieve("q")
    assert node.node.get_content() == "plain"
    assert field not in node.node.metadata


def test_pipeline_is_described_once_and_not_at_all_with_a_content_field():
    script = Script([describe(), ok({"result": DOC_HITS}), ok({"result": DOC_HITS})])
    retriever = make(script)
    retriever.retrieve("a")
    retriever.retrieve("b")
    assert [r.method for r in script.requests] == ["GET", "POST", "POST"]

    direct = Script([ok({"result": [{"id": 5, "distance": 1, "body": "x"}]})])
    [node] = make(direct, content_field="body").retrieve("a")
    assert node.node.get_content() == "x"
    assert [r.method for r in direct.requests] == ["POST"]


def test_a_pipeline_that_is_not_serving_is_refused():
    script = Script([describe(status="INDEXING")])
    with pytest.raises(PipelineNotServingError, match="INDEXING"):
        make(script).retrieve("q")


def test_image_by_text_limit_is_checked_against_the_action():
    script = Script([describe("SEARCH_IMAGE_BY_TEXT")])
    with pytest.raises(InvalidInputError):
        make(script, similarity_top_k=101).retrieve("cats")
    assert [r.method for r in script.requests] == ["GET"]


def test_image_url_queries():
    script = Script([describe("SEARCH_IMAGE_BY_IMAGE"), ok({"result": []})])
    make(script, query_type="image_url").retrieve("https://example.test/cat.png")
    assert script.bodies()[-1]["data"] == {"query_image_url": "https://example.test/cat.png"}


async def test_aretrieve_is_native_async():
    sync = Script([])
    script = Script([describe(), ok({"result": DOC_HITS})])
    retriever = ZillizPipelineRetriever(
        PIPE,
        api_key="k",
        base_url="https://zilliz.example.test",
        http_client=sync.sync_client(),
        http_async_client=script.async_client(),
    )
    nodes = await retriever.aretrieve("where?")
    assert [n.node.node_id for n in nodes] == [str(BIG_ID), "448986959321277979"]
    assert sync.requests == []  # nothing went through the blocking client


async def test_aretrieve_calls_aretrieve_by_keyword():
    script = Script([describe(), ok({"result": DOC_HITS}), ok({"result": DOC_HITS})])
    retriever = make(script)
    direct = await retriever._aretrieve(query_bundle=QueryBundle("where?"))
    via_base = await retriever.aretrieve(QueryBundle("where?"))
    assert direct == via_base


def test_instrumentation_and_callbacks_fire(event_log):
    script = Script([describe(), ok({"result": DOC_HITS})])
    log = CallbackLog()
    retriever = make(script, callback_manager=CallbackManager([log]))
    retriever.retrieve("where?")
    assert "RetrievalStartEvent" in event_log.names()
    end = next(e for e in event_log.events if type(e).__name__ == "RetrievalEndEvent")
    assert [n.node.node_id for n in end.nodes] == [str(BIG_ID), "448986959321277979"]
    assert [(phase, kind) for phase, kind, _ in log.records] == [
        ("start", CBEventType.RETRIEVE),
        ("end", CBEventType.RETRIEVE),
    ]


def test_invalid_configuration_is_refused_up_front():
    with pytest.raises(InvalidInputError):
        ZillizPipelineRetriever("not a pipeline id")
    with pytest.raises(InvalidInputError):
        ZillizPipelineRetriever(PIPE, similarity_top_k=0)
    with pytest.raises(InvalidInputError):
        ZillizPipelineRetriever(PIPE, similarity_top_k=1000, offset=100)
    with pytest.raises(InvalidInputError):
        ZillizPipelineRetriever(PIPE, filter={"year": 2024})  # type: ignore[arg-type]


def test_repr_never_shows_the_key():
    retriever = ZillizPipelineRetriever(PIPE, api_key="zk-secret-key", filter="year > 1")
    assert "zk-secret-key" not in repr(retriever)
    assert "year > 1" in repr(retriever)


def test_env_fallbacks(monkeypatch):
    monkeypatch.setenv("ZILLIZ_CLOUD_API_KEY", "zk-from-env")
    monkeypatch.setenv("ZILLIZ_PIPELINES_BASE_URL", "https://pipelines.example.test")
    script = Script([describe(), ok({"result": []})])
    retriever = ZillizPipelineRetriever(PIPE, http_client=script.sync_client())
    retriever.retrieve("q")
    assert str(script.requests[0].url).startswith("https://pipelines.example.test/v1/")
    assert script.requests[0].headers["authorization"] == "Bearer zk-from-env"
