"""LlamaIndex ZillizPipelineRetriever(score_threshold=...): filtering, checks, local server."""

from __future__ import annotations

import math
import uuid
from typing import Any

import pytest

from langchain_zilliz_bailian.errors import InvalidInputError
from langchain_zilliz_bailian.zilliz.client import ZillizPipelinesClient
from llama_index_ext.retrievers import ZillizPipelineRetriever
from tests.fakes.zilliz import Script, ok

PIPE = "pipe-6ca5dd1b4672659d3c3487"
HITS = [
    {"id": 1, "distance": 0.9, "text": "near"},
    {"id": 2, "distance": 0.6, "text": "middle"},
    {"id": 3, "distance": 0.2, "text": "far"},
]


def describe(**function: Any):
    return ok(
        {
            "pipelineId": PIPE,
            "type": "SEARCH",
            "status": "SERVING",
            "functions": [{"name": "search", "action": "SEARCH_TEXT", **function}],
        }
    )


def make(script: Script, **kwargs: Any) -> ZillizPipelineRetriever:
    return ZillizPipelineRetriever(
        PIPE,
        api_key="zk-1",
        base_url="https://zilliz.example.test",
        http_client=script.sync_client(),
        http_async_client=script.async_client(),
        **kwargs,
    )


def test_scores_below_the_threshold_are_dropped_and_it_can_change_between_queries() -> None:
    script = Script([describe(), ok({"result": HITS})])
    retriever = make(script, similarity_top_k=3, score_threshold=0.5)
    assert [(n.text, n.score) for n in retriever.retrieve("q")] == [
        ("near", 0.9),
        ("middle", 0.6),
    ]
    retriever.score_threshold = 0.8
    assert [n.text for n in retriever.retrieve("q")] == ["near"]


async def test_a_lower_is_closer_metric_keeps_scores_below_it() -> None:
    l2 = [{**hit, "distance": round(1 - hit["distance"], 3)} for hit in HITS]  # 0.1, 0.4, 0.8
    script = Script([describe(metricType="L2"), ok({"result": l2})])
    nodes = await make(script, similarity_top_k=3, score_threshold=0.4).aretrieve("q")
    assert [n.text for n in nodes] == ["near", "middle"]


@pytest.mark.parametrize("value", [math.nan, -math.inf, "0.5", False])
def test_bad_thresholds_fail_at_construction(value: object) -> None:
    script = Script([])
    with pytest.raises(InvalidInputError, match="score_threshold"):
        make(script, score_threshold=value)
    retriever = make(script)
    retriever.score_threshold = value  # type: ignore[assignment]
    with pytest.raises(InvalidInputError, match="score_threshold"):
        retriever.retrieve("q")
    assert script.requests == []


@pytest.mark.server
async def test_end_to_end_against_the_local_server(local_server) -> None:
    local = {"base_url": local_server.url, "api_key": local_server.api_key}
    name = f"lthr_{uuid.uuid4().hex[:8]}"
    async with ZillizPipelinesClient(**local) as zc:
        made = await zc.acreate_pipeline_set(
            name=name,
            project_id="proj-local",
            cluster_id="in01-local",
            collection_name=name,
            kind="text",
        )
        await zc.aingest_texts(
            made.ingestion.pipeline_id,
            [
                "Milvus Lite keeps its data in one local directory.",
                "Bailian apps answer questions with citations.",
                "The weather in Hangzhou is mild in spring.",
            ],
        )
    retriever = ZillizPipelineRetriever(made.search.pipeline_id, similarity_top_k=3, **local)
    query = "Where does Milvus Lite keep its data?"
    everything = await retriever.aretrieve(query)
    scores = [n.score for n in everything]
    assert len(scores) == 3 and scores == sorted(scores, reverse=True)  # COSINE: higher is closer
    retriever.score_threshold = (scores[0] + scores[1]) / 2
    kept = await retriever.aretrieve(query)
    assert [n.node.node_id for n in kept] == [everything[0].node.node_id]
    await retriever.aclose()
