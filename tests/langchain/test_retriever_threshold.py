"""ZillizPipelineRetriever(score_threshold=...): field, per-call override, checks, local server."""

from __future__ import annotations

import math
from typing import Any

import pytest

from langchain_zilliz_bailian.errors import InvalidInputError
from langchain_zilliz_bailian.retrievers import ZillizPipelineRetriever
from tests.fakes.scores import L2_HITS, QUERY, SIMILAR_HITS, indexed_texts, search_pipeline
from tests.fakes.zilliz import Script, ok
from tests.langchain.test_retriever import make


def describe(**function: Any):
    return ok(search_pipeline(**function))


def test_the_field_drops_hits_below_it_and_a_call_overrides_it() -> None:
    script = Script([describe(), ok({"result": SIMILAR_HITS})])
    retriever = make(script, k=3, score_threshold=0.5)
    assert [d.page_content for d in retriever.invoke("q")] == ["near", "middle"]
    assert [d.page_content for d in retriever.invoke("q", score_threshold=0.8)] == ["near"]
    assert [d.metadata["distance"] for d in retriever.invoke("q", score_threshold=-1)] == [
        0.9,
        0.6,
        0.2,
    ]


async def test_a_lower_is_closer_metric_keeps_hits_below_it() -> None:
    script = Script([describe(metricType="L2"), ok({"result": L2_HITS})])
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
    search_id = indexed_texts(local_server)
    with ZillizPipelineRetriever(pipeline_id=search_id, k=3, **local) as retriever:
        everything = retriever.invoke(QUERY)
        distances = [d.metadata["distance"] for d in everything]
        assert len(distances) == 3 and distances == sorted(distances, reverse=True)  # COSINE
        cut = (distances[0] + distances[1]) / 2
        kept = retriever.invoke(QUERY, score_threshold=cut)
        assert [d.page_content for d in kept] == [everything[0].page_content]
        assert retriever.invoke(QUERY, score_threshold=distances[0] + 1) == []
