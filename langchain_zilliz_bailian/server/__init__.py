"""Local compatible server for Zilliz Cloud Pipelines and Bailian app completion.

Needs the ``[server]`` extra.

Zilliz discontinued hosted Pipelines; this server implements the documented contract on Milvus Lite
(or any Milvus) with offline embedders (MiniLM by default, models per pipeline), plus Bailian apps
defined in a registry: an offline extractive responder or any OpenAI-compatible model.
"""

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
