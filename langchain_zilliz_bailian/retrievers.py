"""``ZillizPipelineRetriever``: a LangChain retriever over a Zilliz search pipeline.

Thin: its fields make a :class:`SearchRequest` (per-call ``k``, ``filter``, ``offset``,
``output_fields`` and ``score_threshold`` override them, on ``invoke`` and ``ainvoke`` alike), a
:class:`RetrievalSession` runs it, and each hit becomes a ``Document``.
"""

from __future__ import annotations

from typing import Any, Literal

import httpx
from langchain_core.callbacks import (
    AsyncCallbackManagerForRetrieverRun,
    CallbackManagerForRetrieverRun,
)
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever, LangSmithRetrieverParams
from langchain_core.utils import from_env, secret_from_env
from pydantic import (
    ConfigDict,
    Field,
    PrivateAttr,
    SecretStr,
    StrictFloat,
    StrictInt,
    model_validator,
)

from langchain_zilliz_bailian._construction import TypedConstruction
from langchain_zilliz_bailian._http.adapter import Closeable
from langchain_zilliz_bailian.errors import InvalidInputError, PipelineNotServingError
from langchain_zilliz_bailian.zilliz.client import (
    API_KEY_ENV,
    BASE_URL_ENV,
    DEFAULT_REGION,
    REGION_ENV,
    ZillizPipelinesClient,
)
from langchain_zilliz_bailian.zilliz.connection import ZillizConnection
from langchain_zilliz_bailian.zilliz.retrieval import RetrievalSession, Retrieved, SearchRequest

__all__ = ["PipelineNotServingError", "ZillizPipelineRetriever", "to_document"]

#: What ``invoke``/``ainvoke`` take per call, over the fields of the same name (``k``: limit).
_PER_CALL = frozenset({"k", "filter", "offset", "output_fields", "score_threshold"})


def to_document(hit: Retrieved) -> Document:
    """``page_content`` is the hit's text; its other fields, ``id`` and ``distance`` metadata."""
    return Document(
        page_content=hit.text, metadata={**hit.fields, "id": hit.id, "distance": hit.distance}
    )


class ZillizPipelineRetriever(TypedConstruction, BaseRetriever, Closeable):
    """Retrieve from a Zilliz Cloud Pipelines search pipeline (or a compatible server).

    Setup: ``pip install "langchain-zilliz-bailian[langchain]"`` and set
    ``ZILLIZ_CLOUD_API_KEY`` (and ``ZILLIZ_PIPELINES_BASE_URL`` for a self-hosted server).

    Example:
        .. code-block:: python

            retriever = ZillizPipelineRetriever(pipeline_id="pipe-...", k=4)
            docs = retriever.invoke("What is Milvus Lite?", filter='doc_name == "lite.md"')
            close = retriever.invoke("What is Milvus Lite?", score_threshold=0.5)

    ``close``/``aclose``, ``with`` and ``async with`` close its connection pools (it reopens
    them if used again).
    """

    model_config = ConfigDict(populate_by_name=True, arbitrary_types_allowed=True)

    pipeline_id: str
    """A SEARCH pipeline id (``pipe-...``)."""
    api_key: SecretStr | None = Field(
        default_factory=secret_from_env(API_KEY_ENV, default=None), alias="token"
    )
    """API key; defaults to ``ZILLIZ_CLOUD_API_KEY``. Never shown in a repr or a dump."""
    cloud_region: str = Field(default_factory=from_env(REGION_ENV, default=DEFAULT_REGION))
    """Region used to build the default host; defaults to ``ZILLIZ_CLOUD_REGION``."""
    base_url: str | None = Field(default_factory=from_env(BASE_URL_ENV, default=None))
    """Full base URL (China hosts, the local server); defaults to ``ZILLIZ_PIPELINES_BASE_URL``."""
    k: StrictInt = 4
    """Number of documents to return."""
    offset: StrictInt = 0
    """Number of hits to skip (``k + offset <= 1024``)."""
    filter: str | None = None
    """A Milvus boolean expression, e.g. ``'doc_name == "a.md" and year >= 2024'``."""
    output_fields: list[str] | None = None
    """Preserved fields to return besides id, distance and the text."""
    score_threshold: StrictFloat | None = None
    """Drop hits less close than this ``distance`` (checked after the search, so fewer than ``k``
    may come back). Higher is closer (``distance >= score_threshold`` passes): pipelines return
    similarities (COSINE/IP) or reranker scores. Only a search function described with a metric
    where smaller is closer (``metricType`` L2, JACCARD, HAMMING) flips it to ``<=``."""
    query_type: Literal["text", "image_url"] = "text"
    """``"image_url"`` sends the query as ``query_image_url`` (SEARCH_IMAGE_BY_IMAGE)."""
    content_field: str | None = None
    """Field that becomes ``page_content`` (asked for in ``outputFields``, e.g. a preserved
    ``image_title``); by default chosen from the pipeline's function. An image hit without it
    shows its ``image_url`` if returned, else its ``image_id`` (kept in ``metadata`` too).

    Setting it skips the one describe call, and with it the checks that the pipeline is a
    SEARCH one (:class:`PipelineTypeError`) and serving."""
    timeout: float | None = None
    """Read timeout in seconds (default 75 s, above the server's 60 s limit)."""
    max_retries: int = 2
    """Retries for connection errors, timeouts, 408, 429 and 5xx, with backoff."""
    http_client: httpx.Client | None = Field(default=None, exclude=True)
    """Optional ``httpx.Client`` (proxies, custom TLS); used as is, never closed here."""
    http_async_client: httpx.AsyncClient | None = Field(default=None, exclude=True)
    """Optional ``httpx.AsyncClient``, likewise."""

    _session: RetrievalSession = PrivateAttr()

    @model_validator(mode="after")
    def _validate(self) -> ZillizPipelineRetriever:
        self._request("")  # the search settings, checked now
        connection = {key: getattr(self, key) for key in ZillizConnection.__optional_keys__}
        self._session = RetrievalSession(stacklevel=6, **connection)  # 6: the user's line
        return self

    @property
    def lc_secrets(self) -> dict[str, str]:
        return {"api_key": API_KEY_ENV}

    @property
    def client(self) -> ZillizPipelinesClient:
        """The framework-free client (one connection pool), built on first use."""
        return self._session.client

    def _get_ls_params(self, **kwargs: Any) -> LangSmithRetrieverParams:
        params = super()._get_ls_params(**kwargs)
        params["ls_retriever_name"] = "zilliz_pipeline"
        return params

    def _request(self, query: str, **overrides: Any) -> SearchRequest:
        """The fields as a search, with the per-call ``k``/``filter``/``offset``/... given."""
        request = SearchRequest(
            pipeline_id=self.pipeline_id,
            query=query,
            limit=self.k,
            offset=self.offset,
            filter=self.filter,
            output_fields=self.output_fields,
            query_type=self.query_type,
            content_field=self.content_field,
            score_threshold=self.score_threshold,
        )
        unknown = set(overrides) - _PER_CALL
        if unknown:
            raise InvalidInputError(
                f"Unknown search argument(s) {sorted(unknown)}; use {sorted(_PER_CALL)}."
            )
        limit = overrides.pop("k", None)
        return request.override(limit=limit, **overrides)

    def _get_relevant_documents(
        self, query: str, *, run_manager: CallbackManagerForRetrieverRun, **overrides: Any
    ) -> list[Document]:
        """``invoke(query, k=..., filter=..., offset=..., output_fields=...,
        score_threshold=...)``."""
        return [to_document(hit) for hit in self._session.search(self._request(query, **overrides))]

    async def _aget_relevant_documents(
        self, query: str, *, run_manager: AsyncCallbackManagerForRetrieverRun, **overrides: Any
    ) -> list[Document]:
        """Native async; concurrent first calls on a cold retriever share one describe."""
        hits = await self._session.asearch(self._request(query, **overrides))
        return [to_document(hit) for hit in hits]

    def close(self) -> None:
        """Close the connection pools (the retriever stays usable and reopens on demand)."""
        self._session.close()

    async def aclose(self) -> None:
        """Close the pools, the current event loop's async one included."""
        await self._session.aclose()
