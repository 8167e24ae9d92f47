"""``ZillizPipelineVectorStore``: a LangChain vector store over three TEXT pipelines.

Thin: a :class:`~langchain_zilliz_bailian.zilliz.keyed.KeyedRecords` stores each text under the
caller's id (kept in a preserved field) and does every request; this class maps Documents in and
out. The pipelines embed on the server, so :attr:`embeddings` is ``None``. Having ``add_documents``
with ids and ``delete(ids=...)``, it works with LangChain's indexing API (``index``/``aindex``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, cast

from langchain_core.documents import Document
from langchain_core.embeddings import Embeddings
from langchain_core.vectorstores import VectorStore
from typing_extensions import Self, Unpack

from langchain_zilliz_bailian._http.adapter import Closeable
from langchain_zilliz_bailian._http.checks import insecure_url_reported
from langchain_zilliz_bailian.errors import InvalidInputError
from langchain_zilliz_bailian.zilliz.client import PipelineSet, ZillizPipelinesClient
from langchain_zilliz_bailian.zilliz.connection import ZillizConnection, checked_connection
from langchain_zilliz_bailian.zilliz.keyed import (
    DEFAULT_KEY_FIELD,
    DEFAULT_METADATA_FIELD,
    KeyedHit,
    KeyedOptions,
    KeyedRecords,
    KeyedSetOptions,
    acreate_keyed_pipelines,
    check_options,
    create_keyed_pipelines,
    keyed_set_arguments,
)

__all__ = ["StoreCreation", "ZillizPipelineVectorStore"]

#: What ``add_texts`` accepts besides ids: ``batch_size`` (sent by ``index()``) has no effect,
#: since every record is its own request (a preserved value covers a whole request, Z20).
_ADD_OPTIONS = frozenset({"batch_size"})


def _document(hit: KeyedHit) -> Document:
    return Document(page_content=hit.text, metadata=hit.metadata, id=hit.key)


def _scored(hits: Sequence[KeyedHit]) -> list[tuple[Document, float]]:
    return [(_document(hit), float(hit.distance or 0.0)) for hit in hits]


def _no_embedding(embedding: Embeddings | None) -> None:
    if embedding is not None:
        raise InvalidInputError(
            "ZillizPipelineVectorStore embeds on the server (the pipelines' embedding model); "
            "pass embedding=None."
        )


def _unknown(kwargs: Mapping[str, Any], allowed: frozenset[str], where: str) -> None:
    unknown = set(kwargs) - allowed
    if unknown:
        raise InvalidInputError(f"Unknown argument(s) {sorted(unknown)} for {where}.")


class StoreCreation(KeyedSetOptions, KeyedOptions, total=False):
    """What :meth:`ZillizPipelineVectorStore.create` takes: the pipeline set's options
    (``name``, ``project_id``, ``cluster_id`` required; ``collection_name``, ``preserve``,
    ``language``, ``embedding``, ``reranker``, ``description``), the store's (``key_field``,
    ``metadata_field``, default ``lc_metadata``, ``unknown_metadata``, ``max_concurrency``,
    ``relevance_score_fn``) and the connection's."""

    relevance_score_fn: Callable[[float], float] | None


class ZillizPipelineVectorStore(VectorStore, Closeable):
    """A vector store over the ingestion, search and deletion pipelines of one TEXT collection.

    Each Document is stored under its id (``Document.id``, ``ids=``, or a new uuid4) in the
    preserved VarChar ``key_field``; adding an id again replaces its record, ``delete(ids=...)``
    removes records by id, and ``get_by_ids`` finds them through the search pipeline. Metadata
    keys the pipeline preserves are stored as those fields (filterable); the others go as JSON
    into ``metadata_field`` when the pipelines have one (:meth:`create` makes it), else they
    are refused (:class:`InvalidInputError` naming them) or, with ``unknown_metadata="drop"``,
    left out. Every preserved field needs a value in every Document (the pipeline requires one).

    Scores (:meth:`similarity_search_with_score`) are the pipeline's raw distances: cosine
    similarity on the local server (larger is nearer); Zilliz Cloud does not publish its
    metric, and a reranker makes them relevance scores (larger is better). Relevance scores
    in [0, 1] need ``relevance_score_fn``. Searches by vector and MMR are not possible (the
    pipelines take text and return no vectors).

    Example:
        .. code-block:: python

            store = ZillizPipelineVectorStore.create(
                name="notes", project_id="proj-...", cluster_id="in01-..."
            )
            store.add_documents([Document(page_content="...", id="a")])
            store.similarity_search("...", k=4, filter='lc_id != "a"')
            store.delete(ids=["a"])
    """

    def __init__(
        self,
        ingestion_pipeline_id: str,
        search_pipeline_id: str,
        deletion_pipeline_id: str,
        *,
        relevance_score_fn: Callable[[float], float] | None = None,
        **options: Unpack[KeyedOptions],
    ) -> None:
        """Checked now, no request sent. ``options``: ``key_field`` (default ``lc_id``),
        ``metadata_field`` (default none), ``unknown_metadata``, ``max_concurrency`` and the
        connection: ``api_key`` (default ``ZILLIZ_CLOUD_API_KEY``), ``base_url``,
        ``cloud_region``, ``timeout``, ``max_retries``, ``http_client``, ``http_async_client``."""
        self.relevance_score_fn = _checked_relevance(relevance_score_fn)
        self.records = KeyedRecords(
            ingestion_pipeline_id, search_pipeline_id, deletion_pipeline_id, stacklevel=3, **options
        )

    def __repr__(self) -> str:
        records = self.records
        return (
            f"ZillizPipelineVectorStore(ingestion={records.ingestion_pipeline_id!r}, "
            f"search={records.search_pipeline_id!r}, deletion={records.deletion_pipeline_id!r}, "
            f"base_url={records.client.base_url!r})"
        )

    @property
    def client(self) -> ZillizPipelinesClient:
        """The framework-free client (one connection pool)."""
        return self.records.client

    # -- writing --------------------------------------------------------------------------------

    def add_texts(
        self,
        texts: Iterable[str],
        metadatas: list[dict[str, Any]] | None = None,
        *,
        ids: list[str] | None = None,
        **kwargs: Any,
    ) -> list[str]:
        """Store texts under ``ids`` (missing ones get a uuid4), replacing what those ids held;
        returns the ids. A failure part-way raises :class:`PartialBatchError`."""
        _unknown(kwargs, _ADD_OPTIONS, "add_texts")
        return self.records.add(list(texts), metadatas, ids)

    async def aadd_texts(
        self,
        texts: Iterable[str],
        metadatas: list[dict[str, Any]] | None = None,
        *,
        ids: list[str] | None = None,
        **kwargs: Any,
    ) -> list[str]:
        """Async twin of :meth:`add_texts` (native; ``max_concurrency`` writes in flight)."""
        _unknown(kwargs, _ADD_OPTIONS, "aadd_texts")
        return await self.records.aadd(list(texts), metadatas, ids)

    def delete(self, ids: list[str] | None = None, **kwargs: Any) -> bool:
        """Delete the records stored under ``ids`` (missing ids are not an error); ``True``
        once done. Deleting everything (``ids=None``) is refused: drop the collection instead."""
        _unknown(kwargs, frozenset(), "delete")
        self.records.delete(_ids_to_delete(ids))
        return True

    async def adelete(self, ids: list[str] | None = None, **kwargs: Any) -> bool:
        """Async twin of :meth:`delete`."""
        _unknown(kwargs, frozenset(), "adelete")
        await self.records.adelete(_ids_to_delete(ids))
        return True

    # -- reading --------------------------------------------------------------------------------

    def get_by_ids(self, ids: Sequence[str], /) -> list[Document]:
        """The Documents stored under ``ids`` (one per id found, in no set order)."""
        return [_document(hit) for hit in self.records.get(ids)]

    async def aget_by_ids(self, ids: Sequence[str], /) -> list[Document]:
        """Async twin of :meth:`get_by_ids`."""
        return [_document(hit) for hit in await self.records.aget(ids)]

    def similarity_search_with_score(
        self, query: str, k: int = 4, filter: str | None = None, **kwargs: Any
    ) -> list[tuple[Document, float]]:
        """The ``k`` nearest Documents with the pipeline's raw distance (see the class
        docstring for its direction); ``filter``: a Milvus expression over preserved fields."""
        _unknown(kwargs, frozenset(), "a search")
        return _scored(self.records.search(query, k, filter))

    async def asimilarity_search_with_score(
        self, query: str, k: int = 4, filter: str | None = None, **kwargs: Any
    ) -> list[tuple[Document, float]]:
        """Async twin of :meth:`similarity_search_with_score`."""
        _unknown(kwargs, frozenset(), "a search")
        return _scored(await self.records.asearch(query, k, filter))

    def similarity_search(
        self, query: str, k: int = 4, filter: str | None = None, **kwargs: Any
    ) -> list[Document]:
        """The ``k`` nearest Documents, nearest first."""
        return [doc for doc, _ in self.similarity_search_with_score(query, k, filter, **kwargs)]

    async def asimilarity_search(
        self, query: str, k: int = 4, filter: str | None = None, **kwargs: Any
    ) -> list[Document]:
        """Async twin of :meth:`similarity_search`."""
        scored = await self.asimilarity_search_with_score(query, k, filter, **kwargs)
        return [doc for doc, _ in scored]

    def _select_relevance_score_fn(self) -> Callable[[float], float]:
        """``relevance_score_fn``: the pipelines' metric is not published, so none is assumed."""
        if self.relevance_score_fn is None:
            raise NotImplementedError(
                "Relevance scores need relevance_score_fn=...: Zilliz Cloud Pipelines do not "
                "publish their distance metric (and a reranker changes it). On the local server "
                "distances are cosine similarities, e.g. relevance_score_fn=lambda d: (1 + d) / 2."
            )
        return self.relevance_score_fn

    # -- construction ---------------------------------------------------------------------------

    @classmethod
    def from_texts(
        cls,
        texts: list[str],
        embedding: Embeddings | None = None,
        metadatas: list[dict[str, Any]] | None = None,
        *,
        ids: list[str] | None = None,
        **kwargs: Any,
    ) -> Self:
        """A store over existing pipelines (``kwargs``: the constructor's, the three pipeline
        ids by name) holding ``texts``; ``embedding`` must be ``None`` (server-side)."""
        _no_embedding(embedding)
        store = cls(**kwargs)
        store.add_texts(texts, metadatas, ids=ids)
        return store

    @classmethod
    async def afrom_texts(
        cls,
        texts: list[str],
        embedding: Embeddings | None = None,
        metadatas: list[dict[str, Any]] | None = None,
        *,
        ids: list[str] | None = None,
        **kwargs: Any,
    ) -> Self:
        """Async twin of :meth:`from_texts`."""
        _no_embedding(embedding)
        store = cls(**kwargs)
        await store.aadd_texts(texts, metadatas, ids=ids)
        return store

    @classmethod
    def from_documents(
        cls, documents: list[Document], embedding: Embeddings | None = None, **kwargs: Any
    ) -> Self:
        """As :meth:`from_texts`, each Document stored under its ``id`` when it has one."""
        return super().from_documents(documents, embedding, **kwargs)  # type: ignore[arg-type]

    @classmethod
    async def afrom_documents(
        cls, documents: list[Document], embedding: Embeddings | None = None, **kwargs: Any
    ) -> Self:
        """Async twin of :meth:`from_documents`."""
        return await super().afrom_documents(documents, embedding, **kwargs)  # type: ignore[arg-type]

    @classmethod
    def create(cls, **options: Unpack[StoreCreation]) -> Self:
        """Create a compatible pipeline set (``{name}_ingestion``/``_search``/``_deletion`` over
        ``collection_name``, default ``name``, keeping ``lc_id`` and ``lc_metadata``) and return
        a store over it. ``options``: see :class:`StoreCreation`; all checked before a request."""
        made_with, store_options = _creation(options)
        checked = checked_connection(_connection(store_options), stacklevel=3)
        with insecure_url_reported(), ZillizPipelinesClient(**checked) as client:
            made = create_keyed_pipelines(client, **made_with)
        return cls._over(made, store_options)

    @classmethod
    async def acreate(cls, **options: Unpack[StoreCreation]) -> Self:
        """Async twin of :meth:`create`."""
        made_with, store_options = _creation(options)
        checked = checked_connection(_connection(store_options), stacklevel=3)
        with insecure_url_reported():
            client = ZillizPipelinesClient(**checked)
        async with client:
            made = await acreate_keyed_pipelines(client, **made_with)
        return cls._over(made, store_options)

    @classmethod
    def _over(cls, made: PipelineSet, store_options: dict[str, Any]) -> Self:
        ids = (made.ingestion.pipeline_id, made.search.pipeline_id, made.deletion.pipeline_id)
        with insecure_url_reported():  # warned once, by create
            return cls(*ids, **store_options)

    # -- lifecycle ------------------------------------------------------------------------------

    def close(self) -> None:
        """Close the connection pools (reopened on demand)."""
        self.records.close()

    async def aclose(self) -> None:
        """Close the pools, the current event loop's async one included."""
        await self.records.aclose()


def _ids_to_delete(ids: list[str] | None) -> list[str]:
    if ids is None:
        raise InvalidInputError(
            "delete() needs ids: deleting every record is not supported (drop the pipelines' "
            "collection instead)."
        )
    return ids


def _checked_relevance(
    function: Callable[[float], float] | None,
) -> Callable[[float], float] | None:
    if function is not None and not callable(function):
        raise InvalidInputError("relevance_score_fn must be a function of the distance.")
    return function


def _connection(options: Mapping[str, Any]) -> dict[str, Any]:
    return {
        key: value for key, value in options.items() if key in ZillizConnection.__optional_keys__
    }


def _creation(options: Mapping[str, Any]) -> tuple[KeyedSetOptions, dict[str, Any]]:
    """``options`` split into the pipeline set's and the store's (both checked, no request);
    the key and metadata fields go to both."""
    given: dict[str, Any] = {"metadata_field": DEFAULT_METADATA_FIELD, **options}
    store_keys = KeyedOptions.__optional_keys__ | {"relevance_score_fn"}
    shared = {"key_field", "metadata_field"}
    made_with = {k: v for k, v in given.items() if k not in store_keys or k in shared}
    store = {k: v for k, v in given.items() if k in store_keys}
    keyed_set_arguments(made_with)
    _checked_relevance(store.get("relevance_score_fn"))
    check_options(
        given.get("key_field", DEFAULT_KEY_FIELD),
        given["metadata_field"],
        given.get("unknown_metadata", "raise"),
        given.get("max_concurrency", 4),
    )
    return cast(KeyedSetOptions, made_with), store
