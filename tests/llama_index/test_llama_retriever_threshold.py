"""LlamaIndex ZillizPipelineRetriever(score_threshold=...): filtering, checks, local server."""

from __future__ import annotations

import math
from typing import Any

import pytest

from langchain_zilliz_bailian.errors import InvalidInputError
from llama_index_ext.retrievers import ZillizPipelineRetriever
from tests.fakes.scores import L2_HITS, QUERY, SIMILAR_HITS, indexed_texts, search_pipeline
from tests.fakes.zilliz import Script, ok
from tests.llama_index.test_llama_retriever import make


def describe(**function: Any):
    return ok(search_pipeline(**function))


def test_scores_below_the_threshold_are_dropped_and_it_can_change_between_queries() -> None:
    script = Script([describe(), ok({"result": SIMILAR_HITS})])
    retriever = make(script, similarity_top_k=3, score_threshold=0.5)
    assert [(n.text, n.score) for n in retriever.retrieve("q")] == [
        ("near", 0.9),
        ("middle", 0.6),
    ]
    retriever.score_threshold = 0.8
    assert [n.text for n in retriever.retrieve("q")] == ["near"]


async def test_a_lower_is_closer_metric_keeps_scores_below_it() -> None:
    script = Script([describe(metricType="L2"), ok({"result": L2_HITS})])
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
    search_id = indexed_texts(local_server)
    retriever = ZillizPipelineRetriever(search_id, similarity_top_k=3, **local)
    everything = await retriever.aretrieve(QUERY)
    scores = [float(n.score or 0.0) for n in everything]
    assert len(scores) == 3 and scores == sorted(scores, reverse=True)  # COSINE: higher is closer
    retriever.score_threshold = (scores[0] + scores[1]) / 2
    kept = await retriever.aretrieve(QUERY)
    assert [n.node.node_id for n in kept] == [everything[0].node.node_id]
    await retriever.aclose()
