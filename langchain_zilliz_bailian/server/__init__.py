"""Local compatible server for Zilliz Cloud Pipelines and Bailian app completion.

Needs the ``[server]`` extra.

Zilliz discontinued hosted Pipelines; this server implements the documented contract on Milvus Lite
(or any Milvus) with offline embedders (MiniLM by default, models per pipeline), plus Bailian apps
defined in a registry: an offline extractive responder or any OpenAI-compatible model.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

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
    "AppRegistry": "apps",
    "AppSpec": "apps",
    "DEFAULT_API_KEY": "app",
    "DataDirInUseError": "storage",
    "Embedder": "embeddings",
    "FaultConfig": "faults",
    "FaultInjector": "faults",
    "HybridEmbedder": "models",
    "LexicalEmbedder": "embeddings",
    "LocalServer": "runner",
    "MiniLMEmbedder": "models",
    "ModelRegistry": "models",
    "ModelUnavailableError": "models",
    "StorageError": "storage",
    "create_app": "app",
    "load_embedder": "embeddings",
}


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


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
