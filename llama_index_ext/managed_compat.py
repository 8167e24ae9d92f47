"""``ZillizCloudPipelineIndex``: the name and arguments of ``llama-index-indices-managed-zilliz``.

That package (0.3.0, removed from LlamaIndex) cannot be installed beside llama-index-core 0.14;
code written for it runs on this one with only its import changed. The retriever also takes
0.3.0's ``search_top_k`` (default 2, as there) and ``output_metadata``.
"""

from __future__ import annotations

from typing import Any

from llama_index.core.base.base_retriever import BaseRetriever

from llama_index_ext.managed import ZillizPipelineIndex

__all__ = ["ZillizCloudPipelineIndex"]

#: 0.3.0's default number of results (LlamaIndex's DEFAULT_SIMILARITY_TOP_K).
LEGACY_TOP_K = 2


class ZillizCloudPipelineIndex(ZillizPipelineIndex):
    """:class:`ZillizPipelineIndex` under its 0.3.0 name, reading 0.3.0's retriever arguments."""

    def as_retriever(self, **kwargs: Any) -> BaseRetriever:
        """``search_top_k`` and ``output_metadata`` as 0.3.0 named them; the rest unchanged."""
        top_k = kwargs.pop("search_top_k", kwargs.pop("similarity_top_k", LEGACY_TOP_K))
        output = kwargs.pop("output_metadata", kwargs.pop("output_fields", None))
        return super().as_retriever(similarity_top_k=top_k, output_fields=output, **kwargs)
