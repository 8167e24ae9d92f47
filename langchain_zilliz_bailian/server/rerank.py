"""``reranker: zilliz/bge-reranker-base``: where its model lives, and reranking search hits.

The reranker is an ONNX cross-encoder (:mod:`.cross_encoder`) read from a local model directory;
nothing is downloaded. A search pipeline naming it is refused at create time when no directory
holds the model, with a message saying where to put it. Reranked hits carry the cross-encoder's
relevance score in ``distance`` (larger is better, Z6).
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path

from langchain_zilliz_bailian.server.cross_encoder import (
    CrossEncoder,
    CrossEncoderError,
    is_model_dir,
)
from langchain_zilliz_bailian.server.errors import bad_param
from langchain_zilliz_bailian.server.storage import Hit

#: Contract reranker name -> the directory name its model is looked up under.
RERANKER_DIRS = {"zilliz/bge-reranker-base": "bge-reranker-base"}


class Rerankers:
    """Finds each reranker's model under the model roots (first match wins), loads it once."""

    def __init__(self, roots: Sequence[Path]) -> None:
        self.roots = list(roots)
        self._loaded: dict[str, CrossEncoder] = {}
        self._lock = threading.Lock()

    def candidates(self, name: str) -> list[Path]:
        """Directories searched for ``name``: ``<root>/<dir name>`` then ``<root>/<name>``."""
        short = RERANKER_DIRS.get(name, name.rsplit("/", 1)[-1])
        return [d for root in self.roots for d in (root / short, root / name)]

    def find(self, name: str) -> Path | None:
        """The first candidate directory holding a complete model, or None."""
        return next((d for d in self.candidates(name) if is_model_dir(d)), None)

    def require(self, name: str) -> Path:
        """The model directory of ``name``; a 400 saying where to put the model otherwise."""
        found = self.find(name)
        if found is None:
            where = self.candidates(name)[0] if self.roots else Path("<model dir>")
            raise bad_param(
                f"Reranker {name!r} needs a local ONNX cross-encoder and this server is offline: "
                f"put model.onnx and tokenizer.json (the ONNX export of BAAI/bge-reranker-base) "
                f"in {where}, then create the pipeline again."
            )
        return found

    def get(self, name: str) -> CrossEncoder:
        """The loaded cross-encoder for ``name`` (loaded on first use)."""
        with self._lock:
            if name not in self._loaded:
                directory = self.require(name)
                try:
                    self._loaded[name] = CrossEncoder(directory)
                except CrossEncoderError as exc:
                    raise bad_param(f"Reranker {name!r} cannot be loaded: {exc}") from None
            return self._loaded[name]


def rerank_hits(
    encoder: CrossEncoder, query: str, hits: Sequence[Hit], text_field: str
) -> tuple[list[Hit], int]:
    """``hits`` best first by cross-encoder score (written to ``distance``), and rerank tokens.

    Ties keep the search order (a stable sort); the caller applies offset and limit afterwards.
    """
    if not hits:
        return [], 0
    texts = [str(hit.fields.get(text_field) or "") for hit in hits]
    scored = encoder.score(query, texts)
    ranked = sorted(zip(scored.scores, hits, strict=True), key=lambda pair: -pair[0])
    for score, hit in ranked:
        hit.distance = round(score, 6)
    return [hit for _, hit in ranked], scored.tokens
