"""``reranker: zilliz/bge-reranker-base``: where its model lives, and reranking search hits.

The reranker is an ONNX cross-encoder (:mod:`.cross_encoder`) found like the bge embedders: in
``--model-dir/bge-reranker-base``, then the cache ``<data_dir>/models/bge-reranker-base``, and
fetched into the cache only with ``--model-download`` (:class:`~.models.files.ModelStore`). A search
pipeline naming it is refused at create time when it is not available, with a message saying where
to put the files. Reranked hits carry the cross-encoder's relevance score in ``distance`` (larger
is better, Z6).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from langchain_zilliz_bailian.server.cross_encoder import CrossEncoder, CrossEncoderError
from langchain_zilliz_bailian.server.errors import bad_param
from langchain_zilliz_bailian.server.models.files import (
    ModelFile,
    ModelSource,
    ModelStore,
    ModelUnavailableError,
)
from langchain_zilliz_bailian.server.models.once import LoadOnce
from langchain_zilliz_bailian.server.storage import Hit

_XENOVA = "https://huggingface.co/Xenova/bge-reranker-base/resolve/main"
#: Contract reranker name -> its files (the ONNX export of BAAI/bge-reranker-base, MIT licence).
RERANKER_SOURCES = {
    "zilliz/bge-reranker-base": ModelSource(
        model="zilliz/bge-reranker-base",
        directory="bge-reranker-base",
        files=(
            ModelFile("model.onnx", f"{_XENOVA}/onnx/model.onnx"),
            ModelFile("tokenizer.json", f"{_XENOVA}/tokenizer.json"),
        ),
    )
}


class Rerankers:
    """Locates each reranker's files through the model store and loads the model once."""

    def __init__(self, store: ModelStore) -> None:
        self.store = store
        self._loaded: LoadOnce[CrossEncoder] = LoadOnce()

    def require(self, name: str) -> Path:
        """The model directory of ``name``; a 400 saying where to put the model otherwise."""
        try:
            return self.store.locate(RERANKER_SOURCES[name])
        except ModelUnavailableError as exc:
            raise bad_param(f"Reranker {name} is unavailable. {exc}") from None

    def get(self, name: str) -> CrossEncoder:
        """The loaded cross-encoder for ``name`` (loaded on first use, by one request)."""
        return self._loaded.get(name, lambda: self._load(name))

    def _load(self, name: str) -> CrossEncoder:
        directory = self.require(name)
        try:
            return CrossEncoder(directory)
        except CrossEncoderError as exc:
            raise bad_param(f"Reranker {name} cannot be loaded: {exc}") from None


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
