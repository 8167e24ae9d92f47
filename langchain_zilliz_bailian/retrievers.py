"""``ZillizPipelineRetriever``: a LangChain retriever over a Zilliz search pipeline.

Thin: it builds the search call, sends it through :class:`ZillizPipelinesClient` (sync, or native
async for ``ainvoke``) and maps each hit to a ``Document``. Per-call overrides
(``invoke(q, k=2, filter=..., offset=...)``) are declared on both the sync and the async method,
so ``ainvoke`` accepts them too.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any, Literal

import httpx
from langchain_core.callbacks import (
    AsyncCallbackManagerForRetrieverRun,
    CallbackManagerForRetrieverRun,
)
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever, LangSmithRetrieverParams
from langchain_core.utils import from_env, secret_from_env
from pydantic import ConfigDict, Field, PrivateAttr, SecretStr, StrictInt, model_validator

from langchain_zilliz_bailian._http.checks import (
    check_base_url,
    check_client_options,
    check_id,
    check_search_window,
    insecure_url_reported,
    typed_construction,
)
from langchain_zilliz_bailian.errors import PipelineNotServingError
from langchain_zilliz_bailian.zilliz.actions import (
    content_field,
    content_of,
    max_limit,
)
from langchain_zilliz_bailian.zilliz.client import (
    API_KEY_ENV,
    BASE_URL_ENV,
    DEFAULT_REGION,
    REGION_ENV,
    ZillizPipelinesClient,
)
from langchain_zilliz_bailian.zilliz.described import DescribedPipelines
from langchain_zilliz_bailian.zilliz.models import Pipeline, SearchHit, SearchResult

__all__ = ["PipelineNotServingError", "ZillizPipelineRetriever", "hit_to_document"]


def hit_to_document(hit: SearchHit, content_field: str) -> Document:
    """``page_content`` from ``content_field``; the rest, ``id`` and ``distance`` in metadata."""
    content, fields = content_of(hit.fields, content_field)
    return Document(
        page_content=content, metadata={**fields, "id": hit.id, "distance": hit.distance}
    )


class ZillizPipelineRetriever(BaseRetriever):
    """Retrieve from a Zilliz Cloud Pipelines search pipeline (or a compatible server).

    Setup: ``pip install "langchain-zilliz-bailian[langchain]"`` and set
    ``ZILLIZ_CLOUD_API_KEY`` (and ``ZILLIZ_PIPELINES_BASE_URL`` for a self-hosted server).

    Example:
        .. code-block:: python

            retriever = ZillizPipelineRetriever(pipeline_id="pipe-...", k=4)
            docs = retriever.invoke("What is Milvus Lite?", filter='doc_name == "lite.md"')
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
    query_type: Literal["text", "image_url"] = "text"
    """``"image_url"`` sends the query as ``query_image_url`` (SEARCH_IMAGE_BY_IMAGE)."""
    content_field: str | None = None
    """Field that becomes ``page_content``; by default chosen from the pipeline's function.

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

    _client: ZillizPipelinesClient | None = PrivateAttr(default=None)
    _pipelines: DescribedPipelines = PrivateAttr(default_factory=DescribedPipelines)
    _lock: threading.Lock = PrivateAttr(default_factory=threading.Lock)

    if not TYPE_CHECKING:  # type checkers keep pydantic's typed signature

        def __init__(self, **data: Any) -> None:
            """Bad arguments raise :class:`InvalidInputError`, as the LlamaIndex retriever does."""
            with typed_construction(type(self).__name__):
                super().__init__(**data)

    @model_validator(mode="after")
    def _validate(self) -> ZillizPipelineRetriever:
        check_id("pipeline_id", self.pipeline_id)
        check_search_window(self.k, self.offset)
        check_id("cloud_region", self.cloud_region)
        if self.base_url is not None:
            self.base_url = check_base_url(self.base_url, stacklevel=6)  # the user's line
        check_client_options(
            timeout=self.timeout,
            max_retries=self.max_retries,
            http_client=self.http_client,
            http_async_client=self.http_async_client,
        )
        return self

    @property
    def lc_secrets(self) -> dict[str, str]:
        return {"api_key": API_KEY_ENV}

    @property
    def client(self) -> ZillizPipelinesClient:
        """The framework-free client (one connection pool), built on first use."""
        if self._client is None:
            with self._lock:
                if self._client is None:
                    with insecure_url_reported():  # warned at construction
                        self._client = self._build_client()
        return self._client

    def _build_client(self) -> ZillizPipelinesClient:
        return ZillizPipelinesClient(
            api_key=self.api_key,
            cloud_region=self.cloud_region,
            base_url=self.base_url,
            timeout=self.timeout,
            max_retries=self.max_retries,
            http_client=self.http_client,
            http_async_client=self.http_async_client,
        )

    def _get_ls_params(self, **kwargs: Any) -> LangSmithRetrieverParams:
        params = super()._get_ls_params(**kwargs)
        params["ls_retriever_name"] = "zilliz_pipeline"
        return params

    # -- the pipeline's function, read once -----------------------------------------------------

    def _described(self) -> Pipeline | None:
        return self._pipelines.get(self.pipeline_id)

    def _content_field(self) -> str:
        return self.content_field or content_field(self._described())

    # -- search ---------------------------------------------------------------------------------

    def _search_kwargs(
        self,
        k: int | None,
        filter: str | None,
        offset: int | None,
        output_fields: list[str] | None,
    ) -> dict[str, Any]:
        return {
            "limit": self.k if k is None else k,
            "offset": self.offset if offset is None else offset,
            "filter": self.filter if filter is None else filter,
            "output_fields": self.output_fields if output_fields is None else output_fields,
            "max_limit": max_limit(self._described()),
        }

    def _query(self, query: str) -> dict[str, Any]:
        if self.query_type == "image_url":
            return {"query_text": None, "query_image_url": query}
        return {"query_text": query, "query_image_url": None}

    def _documents(self, result: SearchResult) -> list[Document]:
        field = self._content_field()
        return [hit_to_document(hit, field) for hit in result.hits]

    def _get_relevant_documents(
        self,
        query: str,
        *,
        run_manager: CallbackManagerForRetrieverRun,
        k: int | None = None,
        filter: str | None = None,
        offset: int | None = None,
        output_fields: list[str] | None = None,
    ) -> list[Document]:
        if self.content_field is None:  # described once: a SEARCH pipeline that serves
            self._pipelines.require(self.client, self.pipeline_id, "SEARCH")
        result = self.client.search(
            self.pipeline_id,
            **self._query(query),
            **self._search_kwargs(k, filter, offset, output_fields),
        )
        return self._documents(result)

    async def _aget_relevant_documents(
        self,
        query: str,
        *,
        run_manager: AsyncCallbackManagerForRetrieverRun,
        k: int | None = None,
        filter: str | None = None,
        offset: int | None = None,
        output_fields: list[str] | None = None,
    ) -> list[Document]:
        if self.content_field is None:
            await self._pipelines.arequire(self.client, self.pipeline_id, "SEARCH")
        result = await self.client.asearch(
            self.pipeline_id,
            **self._query(query),
            **self._search_kwargs(k, filter, offset, output_fields),
        )
        return self._documents(result)

    def close(self) -> None:
        """Close the connection pools (the retriever stays usable and reopens on demand)."""
        if self._client is not None:
            self._client.close()

    async def aclose(self) -> None:
        """Async twin of :meth:`close`."""
        if self._client is not None:
            await self._client.aclose()
