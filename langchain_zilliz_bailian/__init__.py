"""Zilliz Cloud Pipelines and Alibaba Bailian apps for LangChain, on one shared httpx adapter.

The LangChain classes are imported lazily, so ``langchain_zilliz_bailian.errors`` and the
framework-free clients load without langchain-core installed (the ``langchain`` extra adds it).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from langchain_zilliz_bailian._lazy import lazy_getattr
from langchain_zilliz_bailian._version import __version__

if TYPE_CHECKING:
    from langchain_zilliz_bailian.chat_models import ChatBailianApp
    from langchain_zilliz_bailian.document_loaders import ZillizPipelineLoader
    from langchain_zilliz_bailian.llms import BailianAppLLM
    from langchain_zilliz_bailian.retrievers import ZillizPipelineRetriever
    from langchain_zilliz_bailian.toolkits import ZillizBailianToolkit
    from langchain_zilliz_bailian.vectorstores import ZillizPipelineVectorStore
    from langchain_zilliz_bailian.zilliz import ZillizPipelinesClient

__all__ = [
    "BailianAppLLM",
    "ChatBailianApp",
    "ZillizBailianToolkit",
    "ZillizPipelineLoader",
    "ZillizPipelineRetriever",
    "ZillizPipelineVectorStore",
    "ZillizPipelinesClient",
    "__version__",
]

_LAZY = {
    "ChatBailianApp": "langchain_zilliz_bailian.chat_models",
    "BailianAppLLM": "langchain_zilliz_bailian.llms",
    "ZillizPipelineLoader": "langchain_zilliz_bailian.document_loaders",
    "ZillizPipelineRetriever": "langchain_zilliz_bailian.retrievers",
    "ZillizBailianToolkit": "langchain_zilliz_bailian.toolkits",
    "ZillizPipelineVectorStore": "langchain_zilliz_bailian.vectorstores",
    "ZillizPipelinesClient": "langchain_zilliz_bailian.zilliz",
}


__getattr__ = lazy_getattr(__name__, _LAZY)


def __dir__() -> list[str]:
    return sorted(__all__)
