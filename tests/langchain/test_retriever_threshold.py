"""ZillizPipelineRetriever(score_threshold=...): field, per-call override, checks, local server."""

from __future__ import annotations

import math
import uuid
from typing import Any

import pytest

from langchain_zilliz_bailian.errors import InvalidInputError
from langchain_zilliz_bailian.retrievers import ZillizPipelineRetriever
from langchain_zilliz_bailian.zilliz.client import ZillizPipelinesClient
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
        pipeline_id=PIPE,
        api_key="zk-1",
        base_url="https://zilliz.example.test",
        http_client=script.sync_client(),
        http_async_client=script.async_client(),
        **kwargs,
    )


def test_the_field_drops_hits_below_it_and_a_call_overrides_it() -> None:
    script = Script([describe(), ok({"result": HITS})])
    retriever = make(script, k=3, score_threshold=0.5)
    assert [d.page_content for d in retriever.invoke("q")] == ["near", "middle"]
    assert [d.page_content for d in retriever.invoke("q", score_threshold=0.8)] == ["near"]
    assert [d.metadata["distance"] for d in retriever.invoke("q", score_threshold=-1)] == [
        0.9,
        0.6,
        0.2,
    ]


async def test_a_lower_is_closer_metric_keeps_hits_below_it() -> None:
    l2 = [{**hit, "distance": round(1 - hit["distance"], 3)} for hit in HITS]  # 0.1, 0.4, 0.8
    script = Script([describe(metricType="L2"), ok({"result": l2})])
    docs = await make(script, k=3).ainvoke("q", score_threshold=0.4)
    assert [d.page_content for d in docs] == ["near", "middle"]


@pytest.mark.parametrize("value", [math.nan, math.inf, "0.5", True])
async def test_bad_thresholds_fail_before_any_request(value: object) -> None:
    script = Script([])
    with pytest.raises(InvalidInputError, match="score_threshold"):
        make(script, score_threshold=value)
    retriever = make(script)
    with pytest.raises(InvalidInputError, match="score_threshold"):
        retriever.invoke("q", score_threshold=value)
    with pytest.raises(InvalidInputError, match="score_threshold"):
        await retriever.ainvoke("q", score_threshold=value)
    assert script.requests == []


@pytest.mark.server
def test_end_to_end_against_the_local_server(local_server) -> None:
    local = {"base_url": local_server.url, "api_key": local_server.api_key}
    name = f"thr_{uuid.uuid4().hex[:8]}"
    with ZillizPipelinesClient(**local) as zc:
        made = zc.create_pipeline_set(
            name=name,
            project_id="proj-local",
            cluster_id="in01-local",
            collection_name=name,
            kind="text",
        )
        zc.ingest_texts(
            made.ingestion.pipeline_id,
            [
                "Milvus Lite keeps its data in one local directory.",
                "Bailian apps answer questions with citations.",
                "The weather in Hangzhou is mild in spring.",
            ],
        )
    with ZillizPipelineRetriever(pipeline_id=made.search.pipeline_id, k=3, **local) as retriever:
        query = "Where does Milvus Lite keep its data?"
        everything = retriever.invoke(query)
        distances = [d.metadata["distance"] for d in everything]
        assert len(distances) == 3 and distances == sorted(distances, reverse=True)  # COSINE
        cut = (distances[0] + distances[1]) / 2
        kept = retriever.invoke(query, score_threshold=cut)
        assert [d.page_content for d in kept] == [everything[0].page_content]
        assert retriever.invoke(query, score_threshold=distances[0] + 1) == []
