"""``ZillizPipelineRetriever``: a LlamaIndex retriever over a Zilliz Pipelines search pipeline.

Thin: it builds the search call (query, ``similarity_top_k``, the Milvus filter), sends it through
:class:`ZillizPipelinesClient` (sync, or native async for ``aretrieve``) and maps each hit to a
``NodeWithScore`` whose node id is the hit's id as ``str`` (64-bit ids keep every digit);
``score_threshold`` drops the hits less close than it (the core's rule, :class:`SearchRequest`).
"""

from __future__ import annotations

from collections.abc import Sequence

from llama_index.core.base.base_retriever import BaseRetriever
from llama_index.core.callbacks import CallbackManager
from llama_index.core.schema import NodeWithScore, QueryBundle, TextNode
from llama_index.core.vector_stores.types import MetadataFilters
from typing_extensions import Unpack

from langchain_zilliz_bailian._http.adapter import Closeable
from langchain_zilliz_bailian.zilliz.client import ZillizPipelinesClient
from langchain_zilliz_bailian.zilliz.connection import ZillizConnection
from langchain_zilliz_bailian.zilliz.retrieval import (
    QueryType,
    RetrievalSession,
    Retrieved,
    SearchRequest,
)
from llama_index_ext.filters import combine_expressions, to_milvus_expression

__all__ = ["ZillizPipelineRetriever", "to_node"]

DEFAULT_TOP_K = 4


def to_node(hit: Retrieved) -> NodeWithScore:
    """The hit's text, its other fields as metadata and its distance as the score."""
    return NodeWithScore(
        node=TextNode(id_=hit.id, text=hit.text, metadata=hit.fields), score=hit.distance
    )


class ZillizPipelineRetriever(BaseRetriever, Closeable):
    """Retrieve nodes from a Zilliz Cloud Pipelines search pipeline (or a compatible server).

    ``api_key`` falls back to ``ZILLIZ_CLOUD_API_KEY``, ``cloud_region`` to
    ``ZILLIZ_CLOUD_REGION`` and ``base_url`` to ``ZILLIZ_PIPELINES_BASE_URL``. ``filter`` is a
    Milvus boolean expression; ``filters`` (LlamaIndex ``MetadataFilters``) is translated to one
    and ANDed with it. The pipeline is described once, on the first query, to pick the text field
    and check it is a serving SEARCH pipeline
    (:class:`~langchain_zilliz_bailian.errors.PipelineTypeError` otherwise); setting
    ``content_field`` skips that call and its checks (the field is then asked for in
    ``outputFields``; an image hit without it is named by its ``image_url`` or ``image_id``).
    ``score_threshold`` drops hits less close than it after the search (so fewer than
    ``similarity_top_k`` may come back): higher is closer (``score >= score_threshold`` passes),
    as pipelines return similarities (COSINE/IP) or reranker scores; only a search function
    described with a metric where smaller is closer (``metricType`` L2, JACCARD, HAMMING) flips
    it to ``<=``. Like every attribute it is read at each query, so it may be changed between
    queries.

    Example:
        .. code-block:: python

            retriever = ZillizPipelineRetriever(pipeline_id="pipe-...", similarity_top_k=3)
            engine = RetrieverQueryEngine.from_args(retriever, llm=BailianAppLLM(app_id="..."))

    ``close``/``aclose``, ``with`` and ``async with`` close its connection pools (it reopens
    them if used again).
    """

    def __init__(
        self,
        pipeline_id: str,
        *,
        similarity_top_k: int = DEFAULT_TOP_K,
        offset: int = 0,
        filter: str | None = None,
        filters: MetadataFilters | None = None,
        output_fields: Sequence[str] | None = None,
        query_type: QueryType = "text",
        content_field: str | None = None,
        score_threshold: float | None = None,
        callback_manager: CallbackManager | None = None,
        verbose: bool = False,
        **connection: Unpack[ZillizConnection],
    ) -> None:
        """Every setting is checked here; ``connection``: :class:`ZillizConnection` (``api_key``,
        ``base_url``, ``timeout``, ``max_retries``, ``http_client``, ...)."""
        self.pipeline_id = pipeline_id
        self.similarity_top_k = similarity_top_k
        self.offset = offset
        self.filter = filter
        self.filters = filters
        self.output_fields = output_fields
        self.query_type = query_type
        self.content_field = content_field
        self.score_threshold = score_threshold
        self._request("")  # checked now; an untranslatable filter fails here, not at a query
        self._session = RetrievalSession(**connection)
        super().__init__(callback_manager=callback_manager, verbose=verbose)

    def __repr__(self) -> str:
        return (
            f"ZillizPipelineRetriever(pipeline_id={self.pipeline_id!r}, "
            f"similarity_top_k={self.similarity_top_k}, filter={self.expression()!r})"
        )

    @property
    def client(self) -> ZillizPipelinesClient:
        """The framework-free client (one connection pool), built on first use."""
        return self._session.client

    def expression(self) -> str | None:
        """The Milvus expression sent as ``filter``: ``filter`` AND the translated ``filters``."""
        return combine_expressions([self.filter, to_milvus_expression(self.filters)])

    def _request(self, query: str) -> SearchRequest:
        """The attributes as one search (read at each query, so they may be changed)."""
        return SearchRequest(
            pipeline_id=self.pipeline_id,
            query=query,
            limit=self.similarity_top_k,
            offset=self.offset,
            filter=self.filter,  # checked to be an expression before it is combined
            output_fields=self.output_fields,
            query_type=self.query_type,
            content_field=self.content_field,
            score_threshold=self.score_threshold,
        ).override(filter=self.expression())

    def _retrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        hits = self._session.search(self._request(query_bundle.query_str))
        return [to_node(hit) for hit in hits]

    async def _aretrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        hits = await self._session.asearch(self._request(query_bundle.query_str))
        return [to_node(hit) for hit in hits]

    def close(self) -> None:
        """Close the connection pools (the retriever reopens them on demand)."""
        self._session.close()

    async def aclose(self) -> None:
        """Close the pools, the current event loop's async one included."""
        await self._session.aclose()
