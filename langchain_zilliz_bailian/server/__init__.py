"""Local compatible server for Zilliz Cloud Pipelines and Bailian app completion.

Needs the ``[server]`` extra.

Zilliz discontinued hosted Pipelines; this server implements the documented contract on Milvus Lite
(or any Milvus) with offline embedders (MiniLM by default, models per pipeline), plus Bailian apps
defined in a registry: an offline extractive responder or any OpenAI-compatible model.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from langchain_zilliz_bailian._lazy import lazy_getattr

if TYPE_CHECKING:
    from langchain_zilliz_bailian.server.app import DEFAULT_API_KEY, create_app
    from langchain_zilliz_bailian.server.apps import AppRegistry, AppSpec
    from langchain_zilliz_bailian.server.embeddings import Embedder, LexicalEmbedder, load_embedder
    from langchain_zilliz_bailian.server.faults import FaultConfig, FaultInjector
    from langchain_zilliz_bailian.server.models import (
        HybridEmbedder,
        MiniLMEmbedder,
        ModelRegistry,
        ModelUnavailableError,
    )
    from langchain_zilliz_bailian.server.runner import LocalServer
    from langchain_zilliz_bailian.server.storage import DataDirInUseError, StorageError

#: Public name -> defining module. Imported on first use, so that a process needing one small
#: module (the Milvus Lite child process) does not load the whole server.
_EXPORTS = {
    "AppRegistry": "langchain_zilliz_bailian.server.apps",
    "AppSpec": "langchain_zilliz_bailian.server.apps",
    "DEFAULT_API_KEY": "langchain_zilliz_bailian.server.app",
    "DataDirInUseError": "langchain_zilliz_bailian.server.storage",
    "Embedder": "langchain_zilliz_bailian.server.embeddings",
    "FaultConfig": "langchain_zilliz_bailian.server.faults",
    "FaultInjector": "langchain_zilliz_bailian.server.faults",
    "HybridEmbedder": "langchain_zilliz_bailian.server.models",
    "LexicalEmbedder": "langchain_zilliz_bailian.server.embeddings",
    "LocalServer": "langchain_zilliz_bailian.server.runner",
    "MiniLMEmbedder": "langchain_zilliz_bailian.server.models",
    "ModelRegistry": "langchain_zilliz_bailian.server.models",
    "ModelUnavailableError": "langchain_zilliz_bailian.server.models",
    "StorageError": "langchain_zilliz_bailian.server.storage",
    "create_app": "langchain_zilliz_bailian.server.app",
    "load_embedder": "langchain_zilliz_bailian.server.embeddings",
}


__getattr__ = lazy_getattr(__name__, _EXPORTS)


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))


__all__ = [
    "AppRegistry",
    "AppSpec",
    "DEFAULT_API_KEY",
    "DataDirInUseError",
    "Embedder",
    "FaultConfig",
    "FaultInjector",
    "HybridEmbedder",
    "LexicalEmbedder",
    "LocalServer",
    "MiniLMEmbedder",
    "ModelRegistry",
    "ModelUnavailableError",
    "StorageError",
    "create_app",
    "load_embedder",
]
