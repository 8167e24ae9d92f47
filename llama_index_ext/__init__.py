"""LlamaIndex integrations over the framework-free clients of ``langchain_zilliz_bailian``.

``ZillizPipelineRetriever`` (search), ``ZillizPipelineReader`` (ingestion), ``ZillizPipelineIndex``
(a managed index over a pipeline set; ``ZillizCloudPipelineIndex`` for code written against the
removed llama-index-indices-managed-zilliz), ``BailianAppLLM`` (a Bailian app as a chat LLM), the
agent tool specs and citation helpers, all natively async. Importing this package never imports
``langchain_core``; install it with ``pip install "langchain-zilliz-bailian[llama-index]"``.
"""

from __future__ import annotations

from langchain_zilliz_bailian._version import __version__
from langchain_zilliz_bailian.errors import PipelineNotServingError, UnsupportedFilterError
from langchain_zilliz_bailian.zilliz.ingestion import ImageSource
from llama_index_ext.citations import (
    AppReferences,
    cite_source_nodes,
    render_response_with_sources,
)
from llama_index_ext.filters import to_milvus_expression
from llama_index_ext.llms import BailianAppLLM
from llama_index_ext.managed import ZillizPipelineIndex
from llama_index_ext.managed_compat import ZillizCloudPipelineIndex
from llama_index_ext.readers import ZillizPipelineReader
from llama_index_ext.retrievers import ZillizPipelineRetriever
from llama_index_ext.tools import BailianAppToolSpec, ZillizPipelineToolSpec

__all__ = [
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
]
