"""``ZillizPipelineRetriever``: a LlamaIndex retriever over a Zilliz Pipelines search pipeline.

Thin: it builds the search call (query, ``similarity_top_k``, the Milvus filter), sends it through
:class:`ZillizPipelinesClient` (sync, or native async for ``aretrieve``) and maps each hit to a
``NodeWithScore`` whose node id is the hit's id as ``str`` (64-bit ids keep every digit).
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any, Literal

import httpx
from llama_index.core.base.base_retriever import BaseRetriever
from llama_index.core.callbacks import CallbackManager
from llama_index.core.schema import NodeWithScore, QueryBundle, TextNode
from llama_index.core.vector_stores.types import MetadataFilters
from pydantic import SecretStr

from langchain_zilliz_bailian._http.checks import (
    check_base_url,
    check_client_options,
    check_id,
    check_search_window,
    check_str_list,
    insecure_url_reported,
)
from langchain_zilliz_bailian.errors import InvalidInputError
from langchain_zilliz_bailian.zilliz.actions import content_field, content_of, max_limit
from langchain_zilliz_bailian.zilliz.client import ZillizPipelinesClient
from langchain_zilliz_bailian.zilliz.described import DescribedPipelines
from langchain_zilliz_bailian.zilliz.models import Pipeline, SearchHit, SearchResult
from llama_index_ext.filters import combine_expressions, to_milvus_expression

__all__ = ["ZillizPipelineRetriever", "hit_to_node"]

DEFAULT_TOP_K = 4


def hit_to_node(hit: SearchHit, text_field: str) -> NodeWithScore:
    """Text from ``text_field``, every other returned field as metadata, distance as score."""
    text, metadata = content_of(hit.fields, text_field)
    node = TextNode(id_=hit.id, text=text, metadata=metadata)
    return NodeWithScore(node=node, score=hit.distance)


class ZillizPipelineRetriever(BaseRetriever):
    """Retrieve nodes from a Zilliz Cloud Pipelines search pipeline (or a compatible server).

    ``api_key`` falls back to ``ZILLIZ_CLOUD_API_KEY``, ``cloud_region`` to
    ``ZILLIZ_CLOUD_REGION`` and ``base_url`` to ``ZILLIZ_PIPELINES_BASE_URL``. ``filter`` is a
    Milvus boolean expression; ``filters`` (LlamaIndex ``MetadataFilters``) is translated to one
    and ANDed with it. The pipeline is described once, on the first query, to pick the text field
    and check it is a serving SEARCH pipeline
    (:class:`~langchain_zilliz_bailian.errors.PipelineTypeError` otherwise); setting
    ``content_field`` skips that call and its checks.

    Example:
        .. code-block:: python

            retriever = ZillizPipelineRetriever(pipeline_id="pipe-...", similarity_top_k=3)
            engine = RetrieverQueryEngine.from_args(retriever, llm=BailianAppLLM(app_id="..."))
    """

    def __init__(
        self,
        pipeline_id: str,
        *,
        api_key: str | SecretStr | None = None,
        cloud_region: str | None = None,
        base_url: str | None = None,
        similarity_top_k: int = DEFAULT_TOP_K,
        offset: int = 0,
        filter: str | None = None,
        filters: MetadataFilters | None = None,
        output_fields: Sequence[str] | None = None,
        query_type: Literal["text", "image_url"] = "text",
        content_field: str | None = None,
        timeout: float | None = None,
        max_retries: int = 2,
        http_client: httpx.Client | None = None,
        http_async_client: httpx.AsyncClient | None = None,
        callback_manager: CallbackManager | None = None,
        verbose: bool = False,
    ) -> None:
        self.pipeline_id = check_id("pipeline_id", pipeline_id)
        check_search_window(similarity_top_k, offset)
        check_client_options(
            api_key=api_key,
            timeout=timeout,
            max_retries=max_retries,
            http_client=http_client,
            http_async_client=http_async_client,
        )
        if cloud_region is not None:
            check_id("cloud_region", cloud_region)
        if base_url is not None:
            base_url = check_base_url(base_url)  # warns here, at the user's line
        if filter is not None and not isinstance(filter, str):
            raise InvalidInputError(f"filter must be a Milvus expression string: {filter!r}")
        if query_type not in ("text", "image_url"):
            raise InvalidInputError(f"query_type must be 'text' or 'image_url': {query_type!r}")
        self.similarity_top_k = similarity_top_k
        self.offset = offset
        self.filter = filter
        self.filters = filters
        self.expression()  # an untranslatable filter fails here, not at the first query
        self.output_fields = (
            check_str_list("output_fields", output_fields) if output_fields is not None else None
        )
        self.query_type = query_type
        self.content_field = content_field
        self._client_args: dict[str, Any] = {
            # Kept as a SecretStr, so vars(), debuggers and span handlers never show the key.
            "api_key": SecretStr(api_key) if isinstance(api_key, str) else api_key,
            "cloud_region": cloud_region,
            "base_url": base_url,
            "timeout": timeout,
            "max_retries": max_retries,
            "http_client": http_client,
            "http_async_client": http_async_client,
        }
        self._client: ZillizPipelinesClient | None = None
        self._pipelines = DescribedPipelines()
        self._lock = threading.Lock()
        super().__init__(callback_manager=callback_manager, verbose=verbose)

    def __repr__(self) -> str:
        return (
            f"ZillizPipelineRetriever(pipeline_id={self.pipeline_id!r}, "
            f"similarity_top_k={self.similarity_top_k}, filter={self.expression()!r})"
        )

    @property
    def client(self) -> ZillizPipelinesClient:
        """The framework-free client (one connection pool), built on first use."""
        if self._client is None:
            with self._lock:
                if self._client is None:
                    with insecure_url_reported():  # warned at construction
                        self._client = ZillizPipelinesClient(**self._client_args)
        return self._client

    def expression(self) -> str | None:
        """The Milvus expression sent as ``filter``: ``filter`` AND the translated ``filters``."""
        return combine_expressions([self.filter, to_milvus_expression(self.filters)])

    # -- one search -----------------------------------------------------------------------------

    def _described(self) -> Pipeline | None:
        return self._pipelines.get(self.pipeline_id)

    def _search_args(self, query_bundle: QueryBundle, expression: str | None) -> dict[str, Any]:
        query = query_bundle.query_str
        args: dict[str, Any] = {
            "limit": self.similarity_top_k,
            "offset": self.offset,
            "filter": expression,
            "output_fields": self.output_fields,
            "max_limit": max_limit(self._described()),
        }
        if self.query_type == "image_url":
            return {**args, "query_image_url": query}
        return {**args, "query_text": query}

    def _nodes(self, result: SearchResult) -> list[NodeWithScore]:
        field = self.content_field or content_field(self._described())
        return [hit_to_node(hit, field) for hit in result.hits]

    def _retrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        expression = self.expression()  # an untranslatable filter fails before any request
        if self.content_field is None:  # described once: a SEARCH pipeline that serves
            self._pipelines.require(self.client, self.pipeline_id, "SEARCH")
        args = self._search_args(query_bundle, expression)
        return self._nodes(self.client.search(self.pipeline_id, **args))

    async def _aretrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        expression = self.expression()
        if self.content_field is None:
            await self._pipelines.arequire(self.client, self.pipeline_id, "SEARCH")
        args = self._search_args(query_bundle, expression)
        return self._nodes(await self.client.asearch(self.pipeline_id, **args))

    # -- lifecycle ------------------------------------------------------------------------------

    def close(self) -> None:
        """Close the connection pools (the retriever reopens them on demand)."""
        if self._client is not None:
            self._client.close()

    async def aclose(self) -> None:
        """Async twin of :meth:`close`."""
        if self._client is not None:
            await self._client.aclose()
