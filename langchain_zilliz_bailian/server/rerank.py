"""The stand-in for ``zilliz/bge-reranker-base``: vector similarity blended with term overlap.

No cross-encoder runs offline; instead each hit's score becomes the mean of its vector similarity
and the share of the query's terms found in its text, so a hit that names the query's words moves
up. Usage is counted like the hosted reranker: the query's and the text's tokens, per hit.
"""

from __future__ import annotations

from collections.abc import Sequence

from langchain_zilliz_bailian.server.storage import Hit
from langchain_zilliz_bailian.server.text import count_tokens, terms


def rerank_hits(query: str, hits: Sequence[Hit], text_field: str) -> tuple[list[Hit], int]:
    """``hits`` best first by the blended score (written to ``distance``), and rerank tokens.

    Ties keep the search order (a stable sort); the caller applies offset and limit afterwards.
    """
    query_terms = set(terms(query))
    query_tokens = count_tokens(query)
    tokens = 0
    scored: list[tuple[float, Hit]] = []
    for hit in hits:
        text = str(hit.fields.get(text_field, ""))
        tokens += query_tokens + count_tokens(text)
        overlap = len(query_terms & set(terms(text))) / max(1, len(query_terms))
        scored.append((0.5 * hit.distance + 0.5 * overlap, hit))
    scored.sort(key=lambda pair: -pair[0])
    for score, hit in scored:
        hit.distance = round(score, 6)
    return [hit for _, hit in scored], tokens
