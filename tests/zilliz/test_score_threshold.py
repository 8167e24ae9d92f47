"""score_threshold in the core: checked before any request, applied in the metric's direction."""

from __future__ import annotations

import math
from typing import Any

import pytest

from langchain_zilliz_bailian.errors import InvalidInputError
from langchain_zilliz_bailian.zilliz.models import Pipeline
from langchain_zilliz_bailian.zilliz.retrieval import RetrievalSession, SearchRequest
from langchain_zilliz_bailian.zilliz.scores import check_threshold, higher_is_closer, passes
from tests.fakes.scores import L2_HITS, PIPE, SIMILAR_HITS
from tests.fakes.scores import search_pipeline as described
from tests.fakes.zilliz import Script, ok


def session(script: Script) -> RetrievalSession:
    return RetrievalSession(
        api_key="zk-1",
        base_url="https://zilliz.example.test",
        max_retries=0,
        http_client=script.sync_client(),
        http_async_client=script.async_client(),
    )


@pytest.mark.parametrize(
    ("function", "higher"),
    [
        ({}, True),  # no metric reported: pipelines return similarities
        ({"metricType": "COSINE"}, True),
        ({"metricType": "IP"}, True),
        ({"metricType": " l2 "}, False),
        ({"metric_type": "HAMMING"}, False),
        ({"metricType": "L2", "reranker": "zilliz/bge-reranker-base"}, True),  # relevance scores
    ],
)
def test_direction_follows_the_described_metric(function: dict[str, Any], higher: bool) -> None:
    assert higher_is_closer(Pipeline.model_validate(described(**function))) is higher


def test_an_undescribed_pipeline_counts_as_a_similarity() -> None:
    assert higher_is_closer(None) is True


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf, "0.5", True, [0.5], 10**400])
def test_a_threshold_must_be_a_finite_number(value: object) -> None:
    with pytest.raises(InvalidInputError, match="score_threshold must be a finite number"):
        check_threshold(value)
    with pytest.raises(InvalidInputError, match="score_threshold"):
        SearchRequest(PIPE, "q", score_threshold=value)  # type: ignore[arg-type]


def test_ints_are_accepted_and_none_means_no_threshold() -> None:
    assert check_threshold(1) == 1.0
    assert SearchRequest(PIPE, "q", score_threshold=None).score_threshold is None
    assert passes(-5.0, None, higher=True)
    assert passes(0.5, 0.5, higher=True) and passes(0.5, 0.5, higher=False)


def test_higher_is_closer_keeps_hits_at_or_above_the_threshold() -> None:
    script = Script([ok(described()), ok({"result": SIMILAR_HITS})])
    hits = session(script).search(SearchRequest(PIPE, "q", limit=3, score_threshold=0.6))
    assert [h.text for h in hits] == ["near", "middle"]
    assert script.bodies()[1]["params"]["limit"] == 3  # the window is not changed


async def test_lower_is_closer_keeps_hits_at_or_below_the_threshold() -> None:
    script = Script([ok(described(metricType="L2")), ok({"result": L2_HITS})])
    hits = await session(script).asearch(SearchRequest(PIPE, "q", limit=3, score_threshold=0.4))
    assert [h.text for h in hits] == ["near", "middle"]


def test_override_changes_the_threshold_per_call() -> None:
    base = SearchRequest(PIPE, "q", score_threshold=0.1)
    assert base.override(score_threshold=0.7).score_threshold == 0.7
    assert base.override(score_threshold=None).score_threshold == 0.1
    with pytest.raises(InvalidInputError):
        base.override(score_threshold=math.nan)
