"""Every public ``__all__`` is pinned: adding, removing or renaming a public name fails here first.

A change to the public surface is then a deliberate edit of this file, seen in review. Every
module of the package that declares ``__all__`` must also define each name it lists.
"""

from __future__ import annotations

import importlib
import pkgutil

import pytest

import langchain_zilliz_bailian
import llama_index_ext

PUBLIC: dict[str, list[str]] = {
    "langchain_zilliz_bailian": [
        "BailianAppLLM",
        "ChatBailianApp",
        "ZillizBailianToolkit",
        "ZillizPipelineLoader",
        "ZillizPipelineRetriever",
        "ZillizPipelineVectorStore",
        "ZillizPipelinesClient",
        "__version__",
    ],
    "langchain_zilliz_bailian.errors": [
        "APIConnectionError",
        "APIError",
        "APITimeoutError",
        "AuthenticationError",
        "BadRequestError",
        "CodeTable",
        "CumulativeStreamWarning",
        "EndpointUnavailableError",
        "ErrorRow",
        "InsecureBaseURLWarning",
        "InternalServerError",
        "InvalidInputError",
        "NO_CODES",
        "NotFoundError",
        "PartialBatchError",
        "PermissionDeniedError",
        "PipelineNotServingError",
        "PipelineTypeError",
        "RateLimitError",
        "RequestTimeoutError",
        "ResponseFormatError",
        "StreamInterruptedError",
        "ToolCallingUnsupportedError",
        "UnsupportedFilterError",
        "ZillizBailianError",
        "classify",
    ],
    "langchain_zilliz_bailian.zilliz": [
        "DeletionResult",
        "DocIngestionResult",
        "ImageIngestionResult",
        "KeyedRecords",
        "Pipeline",
        "PipelineFunction",
        "PipelineSet",
        "SearchHit",
        "SearchResult",
        "TextIngestionResult",
        "Usage",
        "ZillizPipelinesClient",
        "acreate_keyed_pipelines",
        "create_keyed_pipelines",
    ],
    "langchain_zilliz_bailian.bailian": [
        "API_KEY_ENV",
        "APP_ID_ENV",
        "AppCompletion",
        "AppOptions",
        "AppOutput",
        "AppResponse",
        "AppStream",
        "AppStreamChunk",
        "AppUsage",
        "AsyncAppStream",
        "BASE_URL_ENV",
        "BailianAppClient",
        "Citation",
        "CitationParser",
        "CitedAnswer",
        "CumulativeStreamWarning",
        "DEFAULT_BASE_URL",
        "DocReference",
        "INTL_BASE_URL",
        "ModelUsage",
        "NumberedStream",
        "StopSequenceFilter",
        "StreamAssembler",
        "Thought",
        "WorkflowMessage",
        "citations",
        "parse_citations",
        "render_with_sources",
        "truncate_at_stop",
    ],
    "langchain_zilliz_bailian.server": [
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
    ],
    "llama_index_ext": [
        "AppReferences",
        "BailianAppLLM",
        "BailianAppToolSpec",
        "ImageSource",
        "PipelineNotServingError",
        "UnsupportedFilterError",
        "ZillizCloudPipelineIndex",
        "ZillizPipelineIndex",
        "ZillizPipelineReader",
        "ZillizPipelineRetriever",
        "ZillizPipelineToolSpec",
        "__version__",
        "cite_source_nodes",
        "render_response_with_sources",
        "to_milvus_expression",
    ],
    "langchain_zilliz_bailian.retrievers": [
        "PipelineNotServingError",
        "ZillizPipelineRetriever",
        "to_document",
    ],
    "langchain_zilliz_bailian.document_loaders": ["ImageSource", "ZillizPipelineLoader"],
    "langchain_zilliz_bailian.chat_models": ["ChatBailianApp"],
    "langchain_zilliz_bailian.llms": ["BailianAppLLM"],
    "langchain_zilliz_bailian.toolkits": [
        "BailianAppTool",
        "ZillizBailianToolkit",
        "ZillizPipelineSearchTool",
    ],
    "langchain_zilliz_bailian.vectorstores": ["StoreCreation", "ZillizPipelineVectorStore"],
}


@pytest.mark.parametrize("module", sorted(PUBLIC))
def test_public_names_are_pinned(module: str) -> None:
    assert sorted(importlib.import_module(module).__all__) == PUBLIC[module]


def _modules() -> list[str]:
    names = []
    for package in (langchain_zilliz_bailian, llama_index_ext):
        names.append(package.__name__)
        prefix = package.__name__ + "."
        names += [m.name for m in pkgutil.walk_packages(package.__path__, prefix)]
    return sorted(names)


@pytest.mark.parametrize("module", _modules())
def test_every_listed_name_exists(module: str) -> None:
    imported = importlib.import_module(module)
    missing = [name for name in getattr(imported, "__all__", ()) if not hasattr(imported, name)]
    assert missing == []
