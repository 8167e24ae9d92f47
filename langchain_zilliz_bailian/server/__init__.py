"""Local compatible server for Zilliz Cloud Pipelines and Bailian app completion.

Needs the ``[server]`` extra.

Zilliz discontinued hosted Pipelines; this server implements the documented contract on Milvus Lite
(or any Milvus) with an offline embedder, plus a built-in extractive RAG app for the Bailian API.
"""

from langchain_zilliz_bailian.server.app import DEFAULT_API_KEY, create_app
from langchain_zilliz_bailian.server.embeddings import Embedder, LexicalEmbedder, load_embedder
from langchain_zilliz_bailian.server.faults import FaultConfig, FaultInjector
from langchain_zilliz_bailian.server.runner import LocalServer
from langchain_zilliz_bailian.server.storage import DataDirInUseError, StorageError

__all__ = [
    "DEFAULT_API_KEY",
    "DataDirInUseError",
    "Embedder",
    "FaultConfig",
    "FaultInjector",
    "LexicalEmbedder",
    "LocalServer",
    "StorageError",
    "create_app",
    "load_embedder",
]
