"""Embedding models of the local server: the bundled MiniLM encoder, the per-pipeline registry,
the model file store (``--model-dir`` and the cache under the data dir) and remote providers."""

from langchain_zilliz_bailian.server.models.files import (
    ModelFile,
    ModelIntegrityError,
    ModelSource,
    ModelStore,
    ModelUnavailableError,
    sha256_of,
)
from langchain_zilliz_bailian.server.models.hybrid import HybridEmbedder
from langchain_zilliz_bailian.server.models.onnx_text import (
    MiniLMEmbedder,
    OnnxTextEmbedder,
    open_session,
)
from langchain_zilliz_bailian.server.models.registry import (
    BGE_SOURCES,
    LOCAL_MODELS,
    ModelRegistry,
    Served,
    build_registry,
)
from langchain_zilliz_bailian.server.models.remote import RemoteEmbedder, RemoteEmbeddingError

__all__ = [
    "BGE_SOURCES",
    "LOCAL_MODELS",
    "HybridEmbedder",
    "MiniLMEmbedder",
    "ModelFile",
    "ModelIntegrityError",
    "ModelRegistry",
    "ModelSource",
    "ModelStore",
    "ModelUnavailableError",
    "OnnxTextEmbedder",
    "RemoteEmbedder",
    "RemoteEmbeddingError",
    "Served",
    "build_registry",
    "open_session",
    "sha256_of",
]
