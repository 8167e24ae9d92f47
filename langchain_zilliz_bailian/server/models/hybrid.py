"""A lexical + semantic mix in one vector: cosine of the concatenation is the weighted mean.

With unit vectors ``a`` (lexical) and ``b`` (semantic), ``[sqrt(w)·a, sqrt(1-w)·b]`` is a unit
vector whose dot product with another such vector is ``w·cos(a) + (1-w)·cos(b)``, so Milvus
ranks by the blended score without any change to search.
"""

from __future__ import annotations

import math

from langchain_zilliz_bailian.server.embeddings import Embedder


class HybridEmbedder:
    """``weight`` of the lexical similarity plus ``1 - weight`` of the semantic one."""

    def __init__(self, lexical: Embedder, semantic: Embedder, weight: float = 0.3) -> None:
        if not 0.0 < weight < 1.0:
            raise ValueError("weight must be strictly between 0 and 1")
        self._lexical = lexical
        self._semantic = semantic
        self._weight = weight
        self.name = f"hybrid-lexical{weight:g}-{getattr(semantic, 'name', 'semantic')}"

    @property
    def dim(self) -> int:
        """Sum of both dimensions."""
        return self._lexical.dim + self._semantic.dim

    def embed(self, texts: list[str]) -> list[list[float]]:
        """Both embeddings of each text, scaled and concatenated."""
        left, right = math.sqrt(self._weight), math.sqrt(1.0 - self._weight)
        return [
            [left * x for x in lex] + [right * y for y in sem]
            for lex, sem in zip(
                self._lexical.embed(texts), self._semantic.embed(texts), strict=True
            )
        ]
