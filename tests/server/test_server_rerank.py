"""The reranker stand-in: vector similarity blended with query-term overlap, best first."""

from __future__ import annotations

import httpx

from langchain_zilliz_bailian.server.rerank import rerank_hits
from langchain_zilliz_bailian.server.storage import Hit
from langchain_zilliz_bailian.server.text import count_tokens
from tests.server.conftest import create_search, create_text_ingestion, ok, unique


def _hit(i: int, distance: float, text: str) -> Hit:
    return Hit(id=i, distance=distance, fields={"text": text})


def test_term_overlap_lifts_a_less_similar_hit_above_a_closer_one() -> None:
    hits = [
        _hit(1, 0.9, "cats purr softly"),
        _hit(2, 0.6, "Milvus stores vectors"),
    ]
    ranked, _ = rerank_hits("milvus vectors", hits, "text")
    assert [h.id for h in ranked] == [2, 1]
    # 0.5 * similarity + 0.5 * share of query terms found in the text
    assert [h.distance for h in ranked] == [0.8, 0.45]


def test_partial_overlap_ranks_between_full_and_none() -> None:
    hits = [
        _hit(1, 0.5, "nothing related here"),
        _hit(2, 0.5, "vectors only"),
        _hit(3, 0.5, "milvus and vectors"),
    ]
    ranked, _ = rerank_hits("milvus vectors", hits, "text")
    assert [h.id for h in ranked] == [3, 2, 1]
    assert [h.distance for h in ranked] == [0.75, 0.5, 0.25]


def test_ties_keep_the_search_order() -> None:
    hits = [_hit(i, 0.4, f"other text {i}") for i in (7, 3, 9)]
    ranked, _ = rerank_hits("milvus", hits, "text")
    assert [h.id for h in ranked] == [7, 3, 9]


def test_rerank_tokens_count_the_query_and_each_text() -> None:
    hits = [_hit(1, 0.1, "one two three"), Hit(id=2, distance=0.2, fields={})]
    ranked, tokens = rerank_hits("alpha beta", hits, "text")
    assert tokens == 2 * count_tokens("alpha beta") + count_tokens("one two three")
    assert len(ranked) == 2  # a hit without the text field scores on similarity alone


def test_search_pipeline_with_reranker_orders_by_blended_score_and_pages_after(
    http: httpx.Client,
) -> None:
    collection = unique("rerank")
    ingestion = create_text_ingestion(http, collection)
    search_id = create_search(http, collection, reranker="zilliz/bge-reranker-base")
    texts = [
        "Milvus stores vectors in collections",
        "Milvus vectors search is fast",
        "cats purr softly on the mat",
        "vectors of cats",
    ]
    ok(http.post(f"/v1/pipelines/{ingestion}/run", json={"data": {"text_list": texts}}))
    url = f"/v1/pipelines/{search_id}/run"
    query = {"query_text": "milvus vectors"}
    full = ok(http.post(url, json={"data": query, "params": {"limit": 4}}))
    distances = [r["distance"] for r in full["result"]]
    assert distances == sorted(distances, reverse=True)
    assert {r["text"] for r in full["result"][:2]} == set(texts[:2])
    assert full["usage"]["rerank"] > 0
    page = ok(http.post(url, json={"data": query, "params": {"limit": 2, "offset": 2}}))
    assert [r["id"] for r in page["result"]] == [r["id"] for r in full["result"][2:]]
