"""One search, framework-free: what both ``ZillizPipelineRetriever`` classes send and get back.

A :class:`RetrievalSession` owns the connection (the client is built on first use, once, under a
lock) and the pipelines it described (:class:`DescribedPipelines`: single-flight, and a check
that the pipeline is a serving SEARCH one). A :class:`SearchRequest` holds one search's settings;
the answer is a list of :class:`Retrieved` (text, remaining fields, id, distance), which the
framework classes only turn into their own types.
"""

from __future__ import annotations

import copy
import dataclasses
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from typing_extensions import Unpack

from langchain_zilliz_bailian._http.adapter import Closeable
from langchain_zilliz_bailian._http.checks import (
    check_id,
    check_search_window,
    check_str_list,
    insecure_url_reported,
)
from langchain_zilliz_bailian.errors import InvalidInputError
from langchain_zilliz_bailian.zilliz.actions import (
    content_field,
    hit_content,
    max_limit,
    requested_fields,
)
from langchain_zilliz_bailian.zilliz.client import ZillizPipelinesClient
from langchain_zilliz_bailian.zilliz.connection import ZillizConnection, checked_connection
from langchain_zilliz_bailian.zilliz.described import DescribedPipelines
from langchain_zilliz_bailian.zilliz.models import SearchResult
from langchain_zilliz_bailian.zilliz.scores import check_threshold, higher_is_closer, passes

__all__ = ["QueryType", "Retrieved", "RetrievalSession", "SearchRequest"]

QueryType = Literal["text", "image_url"]


@dataclass(frozen=True)
class SearchRequest:
    """One search: the pipeline, the query and its window, filter and fields.

    ``content_field`` names the field that holds a hit's text (asked for in ``outputFields``
    unless the search returns it unasked); left ``None``, the pipeline is described (once per
    session) to choose it and to check that it is a serving SEARCH one. An image hit without
    that text is named by its URL or ``image_id`` (:func:`~.actions.hit_content`).
    ``score_threshold`` drops, after the search, the hits farther than it in the direction of
    the pipeline's distance (:mod:`~langchain_zilliz_bailian.zilliz.scores`: ``distance >=``
    the threshold unless the described metric is one where smaller is closer), so fewer than
    ``limit`` hits may come back.
    """

    pipeline_id: str
    query: str
    limit: int = 4
    offset: int = 0
    filter: str | None = None
    output_fields: Sequence[str] | None = None
    query_type: QueryType = "text"
    content_field: str | None = None
    score_threshold: float | None = None

    def __post_init__(self) -> None:
        check_id("pipeline_id", self.pipeline_id)
        object.__setattr__(self, "score_threshold", check_threshold(self.score_threshold))
        check_search_window(self.limit, self.offset)
        if self.filter is not None and not isinstance(self.filter, str):
            raise InvalidInputError(f"filter must be a Milvus expression string: {self.filter!r}")
        if self.output_fields is not None:
            object.__setattr__(
                self, "output_fields", check_str_list("output_fields", self.output_fields)
            )
        if self.query_type not in ("text", "image_url"):
            raise InvalidInputError(
                f"query_type must be 'text' or 'image_url': {self.query_type!r}"
            )

    def override(self, **changes: Any) -> SearchRequest:
        """This request with the per-call values given (``None`` keeps the instance's value)."""
        given = {key: value for key, value in changes.items() if value is not None}
        return dataclasses.replace(self, **given) if given else self


@dataclass(frozen=True)
class Retrieved:
    """One hit as text and metadata: ``fields`` are the returned fields other than the text."""

    id: str
    text: str
    fields: dict[str, Any]
    distance: float


class RetrievalSession(Closeable):
    """The connection and described pipelines of one retriever; safe to share across threads
    and event loops (the client keeps one async pool per loop)."""

    def __init__(self, *, stacklevel: int = 3, **connection: Unpack[ZillizConnection]) -> None:
        """Check every option now (bad input fails before any request); connect on first use.

        ``stacklevel`` points the insecure-URL warning at the user's line (1: this method).
        """
        self._client_args = checked_connection(connection, stacklevel=stacklevel + 1)
        self._client: ZillizPipelinesClient | None = None
        self._lock = threading.Lock()
        self.pipelines = DescribedPipelines()

    def __getstate__(self) -> dict[str, Any]:
        """Copies and pickles keep the settings and what was described, not the connection."""
        return {"_client_args": self._client_args, "pipelines": self.pipelines}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state, _client=None, _lock=threading.Lock())

    def __deepcopy__(self, memo: dict[int, Any]) -> RetrievalSession:
        """A session with the same settings (injected httpx clients shared) and its own pool."""
        clone = copy.copy(self)
        clone.pipelines = copy.deepcopy(self.pipelines, memo)
        return clone

    @property
    def client(self) -> ZillizPipelinesClient:
        """The framework-free client (one connection pool), built on first use."""
        if self._client is None:
            with self._lock:
                if self._client is None:
                    with insecure_url_reported():  # warned at construction
                        self._client = ZillizPipelinesClient(**self._client_args)
        return self._client

    def search(self, request: SearchRequest) -> list[Retrieved]:
        """Run one search (describing the pipeline first, once, unless the field is given)."""
        if request.content_field is None:
            self.pipelines.require(self.client, request.pipeline_id, "SEARCH")
        return self._retrieved(request, self.client.search(**self._arguments(request)))

    async def asearch(self, request: SearchRequest) -> list[Retrieved]:
        """Async twin of :meth:`search` (one describe however many first calls overlap)."""
        if request.content_field is None:
            await self.pipelines.arequire(self.client, request.pipeline_id, "SEARCH")
        return self._retrieved(request, await self.client.asearch(**self._arguments(request)))

    def _arguments(self, request: SearchRequest) -> dict[str, Any]:
        image = request.query_type == "image_url"
        return {
            "pipeline_id": request.pipeline_id,
            "query_text": None if image else request.query,
            "query_image_url": request.query if image else None,
            "limit": request.limit,
            "offset": request.offset,
            "filter": request.filter,
            "output_fields": requested_fields(request.output_fields, request.content_field),
            "max_limit": max_limit(self.pipelines.get(request.pipeline_id)),
        }

    def _retrieved(self, request: SearchRequest, result: SearchResult) -> list[Retrieved]:
        pipeline = self.pipelines.get(request.pipeline_id)
        field = request.content_field or content_field(pipeline)
        higher = higher_is_closer(pipeline)
        hits = []
        for hit in result.hits:
            if not passes(hit.distance, request.score_threshold, higher=higher):
                continue
            text, fields = hit_content(hit, field, pipeline)
            hits.append(Retrieved(id=hit.id, text=text, fields=fields, distance=hit.distance))
        return hits

    def close(self) -> None:
        """Close the connection pools (the session reopens them on demand)."""
        if self._client is not None:
            self._client.close()

    async def aclose(self) -> None:
        """Close the pools, the current event loop's async one included."""
        if self._client is not None:
            await self._client.aclose()
