"""``ZillizPipelineIndex``: a LlamaIndex managed index over a Zilliz Cloud Pipelines set.

The service embeds and stores; this class maps LlamaIndex calls onto the shared cores: inserts
go through :class:`IngestionSession` (batching, partial-failure reports), searches through
:class:`ZillizPipelineRetriever`, deletes through the deletion pipeline. Each inserted Document's
id is kept in a preserved VarChar field (``doc_id``), so ``delete_ref_doc`` removes exactly its
chunks. ``ZillizCloudPipelineIndex`` (``managed_compat``) takes 0.3.0's arguments.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any, TypeVar, cast

from llama_index.core.base.base_retriever import BaseRetriever
from llama_index.core.callbacks import CallbackManager
from llama_index.core.data_structs.data_structs import IndexDict
from llama_index.core.indices.managed.base import BaseManagedIndex
from llama_index.core.ingestion import arun_transformations, run_transformations
from llama_index.core.schema import (
    BaseNode,
    Document,
    NodeRelationship,
    NodeWithScore,
    QueryBundle,
    RelatedNodeInfo,
    TransformComponent,
)
from llama_index.core.storage.storage_context import StorageContext
from pydantic import SecretStr
from typing_extensions import Unpack

from langchain_zilliz_bailian._http.adapter import Closeable
from langchain_zilliz_bailian.errors import InvalidInputError
from langchain_zilliz_bailian.zilliz.client import PipelineSet
from langchain_zilliz_bailian.zilliz.connection import ZillizConnection
from langchain_zilliz_bailian.zilliz.ingestion_session import (
    Deletion,
    IngestionOptions,
    IngestionSession,
    StoredItem,
)
from langchain_zilliz_bailian.zilliz.models import DeletionResult
from llama_index_ext.managed_layout import (
    DEFAULT_REF_DOC_FIELD,
    IngestionLayout,
    check_ref_doc_field,
    check_ref_doc_id,
    node_payloads,
    pipeline_ids_of,
    ref_doc_deletion,
    sparing,
)
from llama_index_ext.managed_pipelines import Transport, acreate_pipelines, create_pipelines
from llama_index_ext.retrievers import DEFAULT_TOP_K, ZillizPipelineRetriever

__all__ = ["ZillizPipelineIndex", "ZillizPipelineIndexRetriever"]

logger = logging.getLogger(__name__)

IndexT = TypeVar("IndexT", bound="ZillizPipelineIndex")

_CONNECTION_KEYS = frozenset(ZillizConnection.__optional_keys__)
_DOCUMENTS_HINT = "Documents go to a text pipeline set (create_pipelines(data_type='text'))."
_URLS_HINT = "document URLs go to a doc pipeline set (create_pipelines(data_type='doc'))."


class IndexOptions(Transport, total=False):
    """What the index takes besides its named arguments; every key is optional."""

    #: Texts per ingestion request (default 100).
    batch_size: int
    #: Requests in flight at once in the async methods (default 4).
    max_concurrency: int


class ZillizPipelineIndexRetriever(ZillizPipelineRetriever):
    """The index's retriever: each node's ``ref_doc_id`` is the Document (or doc_name) it came
    from, read from the ref-doc field the hit returns; that field and ``chunk_id`` are kept out
    of LLM prompts."""

    def __init__(self, pipeline_id: str, *, ref_doc_field: str, **settings: Any) -> None:
        """``settings``: those of :class:`ZillizPipelineRetriever`."""
        self.ref_doc_field = ref_doc_field
        super().__init__(pipeline_id, **settings)

    def _with_sources(self, nodes: list[NodeWithScore]) -> list[NodeWithScore]:
        for scored in nodes:
            metadata = scored.node.metadata
            # Bookkeeping fields stay out of the LLM prompt and any re-embedding.
            kept = [key for key in (self.ref_doc_field, "chunk_id") if key in metadata]
            scored.node.excluded_llm_metadata_keys.extend(kept)
            scored.node.excluded_embed_metadata_keys.extend(kept)
            source = metadata.get(self.ref_doc_field) or metadata.get("doc_name")
            if isinstance(source, str) and source:
                scored.node.relationships[NodeRelationship.SOURCE] = RelatedNodeInfo(node_id=source)
        return nodes

    def _retrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        return self._with_sources(super()._retrieve(query_bundle))

    async def _aretrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        return self._with_sources(await super()._aretrieve(query_bundle))


class ZillizPipelineIndex(BaseManagedIndex, Closeable):
    """A managed index whose nodes live in Zilliz Cloud Pipelines (or a compatible server).

    ``pipeline_ids`` maps ``INGESTION``, ``SEARCH`` and ``DELETION`` (needed for deletes) to
    pipeline ids, as :meth:`create_pipelines` returns them (a ``PipelineSet`` works too).
    Documents (``from_documents``, ``insert``) go to a text set: the index's ``transformations``
    (default ``Settings.transformations``) split them, each node is stored as one text with its
    Document's id in ``ref_doc_field`` and whatever of its metadata the pipeline preserves
    (other keys stay out: the pipeline has no field for them). Document URLs
    (``from_document_url``, ``insert_doc_url``) go to a doc set; their ref-doc id is the
    ``doc_name``. Pipelines are described once, before their first use, and every argument is
    checked before any request. ``api_key``, ``cloud_region`` and the other connection options
    (``base_url``, ``timeout``, ...) fall back to the ``ZILLIZ_*`` variables.

    Example:
        .. code-block:: python

            ids = ZillizPipelineIndex.create_pipelines(project_id, cluster_id)
            index = ZillizPipelineIndex.from_documents(documents, pipeline_ids=ids)
            index.as_query_engine(llm=BailianAppLLM(app_id="...")).query("...")

    Unlike 0.3.0, failures raise (typed) instead of being logged; a partly stored batch raises
    :class:`~langchain_zilliz_bailian.errors.PartialBatchError` naming what was stored.
    """

    def __init__(
        self,
        pipeline_ids: Mapping[str, str] | PipelineSet | None = None,
        api_key: str | SecretStr | None = None,
        cloud_region: str | None = None,
        show_progress: bool = False,
        *,
        ref_doc_field: str = DEFAULT_REF_DOC_FIELD,
        transformations: list[TransformComponent] | None = None,
        callback_manager: CallbackManager | None = None,
        storage_context: StorageContext | None = None,
        **options: Unpack[IndexOptions],
    ) -> None:
        """``options``: ``batch_size``, ``max_concurrency`` and the connection (``base_url``,
        ``timeout``, ``max_retries``, ``http_client``, ...); all checked here."""
        ids = pipeline_ids_of(pipeline_ids)
        self.ref_doc_field = check_ref_doc_field(ref_doc_field)
        settings: dict[str, Any] = {**options, "api_key": api_key, "cloud_region": cloud_region}
        own = {"deletion_pipeline_id": ids.deletion, "show_progress": show_progress}
        self._session = IngestionSession(ids.ingestion, **cast(IngestionOptions, settings | own))
        self._connection = {k: v for k, v in settings.items() if k in _CONNECTION_KEYS}
        if isinstance(api_key, str):  # kept as a SecretStr, so vars() never shows the key
            self._connection["api_key"] = SecretStr(api_key)
        self.pipeline_ids = ids.as_dict()
        self._ids = ids
        #: Content hash of each Document this instance stored (for ``refresh_ref_docs``).
        self._hashes: dict[str, str] = {}
        struct = IndexDict(index_id="-".join(self.pipeline_ids.values()))
        struct.summary = "Zilliz Cloud Pipelines index"
        super().__init__(
            index_struct=struct,
            storage_context=storage_context,
            show_progress=show_progress,
            callback_manager=callback_manager,
            transformations=transformations,
        )

    def __repr__(self) -> str:
        return f"{type(self).__name__}(pipeline_ids={self.pipeline_ids!r})"

    # -- pipelines ------------------------------------------------------------------------------

    create_pipelines = staticmethod(create_pipelines)
    acreate_pipelines = staticmethod(acreate_pipelines)

    @property
    def session(self) -> IngestionSession:
        """The shared ingestion core (client, described pipelines, token count)."""
        return self._session

    def _layout(self) -> IngestionLayout:
        client, pipelines = self._session.client, self._session.pipelines
        return IngestionLayout.of(pipelines.require(client, self._ids.ingestion, "INGESTION"))

    async def _alayout(self) -> IngestionLayout:
        client, pipelines = self._session.client, self._session.pipelines
        described = await pipelines.arequire(client, self._ids.ingestion, "INGESTION")
        return IngestionLayout.of(described)

    def _deletion_id(self) -> str:
        if self._ids.deletion is None:
            raise InvalidInputError("Deleting needs pipeline_ids['DELETION'].")
        return self._ids.deletion

    # -- building -------------------------------------------------------------------------------

    @classmethod
    def from_documents(  # type: ignore[override]
        cls: type[IndexT],
        documents: Sequence[Document],
        pipeline_ids: Mapping[str, str] | PipelineSet | None = None,
        api_key: str | SecretStr | None = None,
        show_progress: bool = False,
        metadata: Mapping[str, Any] | None = None,
        **kwargs: Any,
    ) -> IndexT:
        """An index over ``pipeline_ids`` with ``documents`` inserted (one batched ingestion).

        ``metadata`` fills preserved fields of every node; ``kwargs`` go to the constructor.
        """
        index = cls(pipeline_ids, api_key=api_key, show_progress=show_progress, **kwargs)
        index.insert_documents(documents, metadata=metadata)
        return index

    @classmethod
    def from_document_url(
        cls: type[IndexT],
        url: str,
        pipeline_ids: Mapping[str, str] | PipelineSet | None = None,
        api_key: str | SecretStr | None = None,
        metadata: Mapping[str, Any] | None = None,
        show_progress: bool = False,
        **kwargs: Any,
    ) -> IndexT:
        """An index over a doc pipeline set with the document at ``url`` ingested."""
        index = cls(pipeline_ids, api_key=api_key, show_progress=show_progress, **kwargs)
        index.insert_doc_url(url, metadata=metadata)
        return index

    # -- inserting ------------------------------------------------------------------------------

    def _plan(
        self,
        layout: IngestionLayout,
        nodes: Sequence[BaseNode],
        metadata: Mapping[str, Any] | None,
    ) -> list[Any]:
        layout.require("INDEX_TEXT", _DOCUMENTS_HINT)
        layout.check_metadata(metadata, self.ref_doc_field)
        return self._session.plan(node_payloads(nodes, layout, self.ref_doc_field, metadata))

    def _store(
        self, nodes: Sequence[BaseNode], metadata: Mapping[str, Any] | None
    ) -> list[StoredItem]:
        """Store each node as one text of the ingestion pipeline; what was stored."""
        if not nodes:
            return []
        units = self._plan(self._layout(), nodes, metadata)
        return list(self._session.items(units, _stored))

    async def _astore(
        self, nodes: Sequence[BaseNode], metadata: Mapping[str, Any] | None
    ) -> list[StoredItem]:
        if not nodes:
            return []
        units = self._plan(await self._alayout(), nodes, metadata)
        return [item async for item in self._session.aitems(units, _stored)]

    def _insert(
        self,
        nodes: Sequence[BaseNode],
        metadata: Mapping[str, Any] | None = None,
        **insert_kwargs: Any,
    ) -> None:
        """Store each node as one text of the ingestion pipeline."""
        self._store(nodes, metadata)

    def insert_documents(
        self, documents: Sequence[Document], metadata: Mapping[str, Any] | None = None
    ) -> None:
        """Split ``documents`` with the index's transformations and store every node."""
        with self._callback_manager.as_trace("insert"):
            self._store(self._nodes(documents), metadata)
            self._hashes.update((document.id_, document.hash) for document in documents)

    async def ainsert_documents(
        self, documents: Sequence[Document], metadata: Mapping[str, Any] | None = None
    ) -> None:
        """Async twin of :meth:`insert_documents` (native async requests)."""
        with self._callback_manager.as_trace("ainsert"):
            await self._astore(await self._anodes(documents), metadata)
            self._hashes.update((document.id_, document.hash) for document in documents)

    async def _anodes(self, documents: Sequence[Document]) -> Sequence[BaseNode]:
        return await arun_transformations(
            _documents(documents), self._transformations, show_progress=self._show_progress
        )

    def _nodes(self, documents: Sequence[Document]) -> Sequence[BaseNode]:
        return run_transformations(
            _documents(documents), self._transformations, show_progress=self._show_progress
        )

    def insert(self, document: Document, **insert_kwargs: Any) -> None:
        """Store ``document``'s nodes (``metadata=`` fills preserved fields of each)."""
        self.insert_documents([document], metadata=insert_kwargs.get("metadata"))

    async def ainsert(self, document: Document, **insert_kwargs: Any) -> None:
        """Async twin of :meth:`insert`."""
        await self.ainsert_documents([document], metadata=insert_kwargs.get("metadata"))

    def insert_nodes(self, nodes: Sequence[BaseNode], **insert_kwargs: Any) -> None:
        """Store already split nodes (their ``ref_doc_id`` is kept as the Document's id)."""
        self._store(nodes, insert_kwargs.get("metadata"))

    async def ainsert_nodes(self, nodes: Sequence[BaseNode], **insert_kwargs: Any) -> None:
        """Async twin of :meth:`insert_nodes`."""
        await self._astore(nodes, insert_kwargs.get("metadata"))

    def insert_doc_url(self, url: str, metadata: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """Ingest the document at ``url`` (a presigned URL) into a doc pipeline set.

        Returns what was stored: ``doc_name`` (its ref-doc id), ``num_chunks``, ``token_usage``.
        """
        units = self._url_plan(self._layout(), url, metadata)
        return next(iter(self._session.items(units, _stored))).metadata

    async def ainsert_doc_url(
        self, url: str, metadata: Mapping[str, Any] | None = None
    ) -> dict[str, Any]:
        """Async twin of :meth:`insert_doc_url`."""
        units = self._url_plan(await self._alayout(), url, metadata)
        stored = [item async for item in self._session.aitems(units, _stored)]
        return stored[0].metadata

    def _url_plan(
        self, layout: IngestionLayout, url: str, metadata: Mapping[str, Any] | None
    ) -> list[Any]:
        if not isinstance(url, str):
            raise InvalidInputError(f"url must be a string, got {type(url).__name__}.")
        layout.require("INDEX_DOC", _URLS_HINT)
        return self._session.plan(doc_urls=[url], metadata=metadata)

    # -- deleting -------------------------------------------------------------------------------

    def _ref_deletion(self, layout: IngestionLayout, ref_doc_id: str) -> Deletion:
        client, pipelines = self._session.client, self._session.pipelines
        deletion = pipelines.require(client, self._deletion_id(), "DELETION")
        return ref_doc_deletion(
            ref_doc_id, layout=layout, deletion=deletion, ref_doc_field=self.ref_doc_field
        )

    def delete_ref_doc(
        self, ref_doc_id: str, delete_from_docstore: bool = False, **delete_kwargs: Any
    ) -> None:
        """Delete every chunk stored for ``ref_doc_id`` (a Document's id, or a ``doc_name``)."""
        check_ref_doc_id(ref_doc_id)
        result = self._session.delete(self._ref_deletion(self._layout(), ref_doc_id))
        self._hashes.pop(ref_doc_id, None)
        logger.debug("Deleted %d entities of %r", result.num_deleted, ref_doc_id)

    async def adelete_ref_doc(
        self, ref_doc_id: str, delete_from_docstore: bool = False, **delete_kwargs: Any
    ) -> None:
        """Async twin of :meth:`delete_ref_doc`."""
        check_ref_doc_id(ref_doc_id)
        result = await self._session.adelete(
            await self._aref_deletion(await self._alayout(), ref_doc_id)
        )
        self._hashes.pop(ref_doc_id, None)
        logger.debug("Deleted %d entities of %r", result.num_deleted, ref_doc_id)

    async def _aref_deletion(self, layout: IngestionLayout, ref_doc_id: str) -> Deletion:
        client, pipelines = self._session.client, self._session.pipelines
        deletion = await pipelines.arequire(client, self._deletion_id(), "DELETION")
        return ref_doc_deletion(
            ref_doc_id, layout=layout, deletion=deletion, ref_doc_field=self.ref_doc_field
        )

    def update_ref_doc(self, document: Document, **update_kwargs: Any) -> None:
        """Replace ``document``'s chunks with its current ones.

        The new chunks are stored first and the Document's other chunks deleted after, so a
        failed insert leaves the old version searchable (LlamaIndex's default deletes first).
        """
        (document,) = _documents([document])
        metadata = update_kwargs.get("insert_kwargs", {}).get("metadata")
        old = self._ref_deletion(self._layout(), check_ref_doc_id(document.id_))
        with self._callback_manager.as_trace("update_ref_doc"):
            if "expression" not in old.target:  # a doc_name cannot spare the new chunks
                self._session.delete(old)
            stored = self._store(self._nodes([document]), metadata)
            if "expression" in old.target:
                self._session.delete(sparing(old, stored))
        self._hashes[document.id_] = document.hash

    async def aupdate_ref_doc(self, document: Document, **update_kwargs: Any) -> None:
        """Async twin of :meth:`update_ref_doc`."""
        (document,) = _documents([document])
        metadata = update_kwargs.get("insert_kwargs", {}).get("metadata")
        old = await self._aref_deletion(await self._alayout(), check_ref_doc_id(document.id_))
        with self._callback_manager.as_trace("aupdate_ref_doc"):
            if "expression" not in old.target:
                await self._session.adelete(old)
            stored = await self._astore(await self._anodes([document]), metadata)
            if "expression" in old.target:
                await self._session.adelete(sparing(old, stored))
        self._hashes[document.id_] = document.hash

    def refresh_ref_docs(self, documents: Sequence[Document], **update_kwargs: Any) -> list[bool]:
        """Update each Document this index has not stored with this content; which were.

        Only hashes seen by this instance are known, so a Document stored earlier (another
        process) is updated (replaced, never duplicated).
        """
        changed = [self._hashes.get(d.id_) != d.hash for d in _documents(documents)]
        for document, stale in zip(documents, changed, strict=True):
            if stale:
                self.update_ref_doc(document, **update_kwargs.get("update_kwargs", {}))
        return changed

    async def arefresh_ref_docs(
        self, documents: Sequence[Document], **update_kwargs: Any
    ) -> list[bool]:
        """Async twin of :meth:`refresh_ref_docs`."""
        changed = [self._hashes.get(d.id_) != d.hash for d in _documents(documents)]
        for document, stale in zip(documents, changed, strict=True):
            if stale:
                await self.aupdate_ref_doc(document, **update_kwargs.get("update_kwargs", {}))
        return changed

    def delete_by_expression(self, expression: str) -> DeletionResult:
        """Run the deletion pipeline with a Milvus boolean ``expression``; the count deleted."""
        deletion = self._session.deletion(expression=expression, pipeline_id=self._deletion_id())
        return self._session.delete(deletion)

    def delete_by_doc_name(self, doc_name: str) -> DeletionResult:
        """Delete a stored document's chunks by its ``doc_name`` (doc pipeline sets)."""
        deletion = self._session.deletion(doc_name=doc_name, pipeline_id=self._deletion_id())
        return self._session.delete(deletion)

    def _delete_node(self, node_id: str, **delete_kwargs: Any) -> None:
        """Delete one stored text by its id (the ``id_`` of a retrieved node)."""
        self._session.delete(self._session.deletion(ids=[node_id], pipeline_id=self._deletion_id()))

    # -- querying -------------------------------------------------------------------------------

    def as_retriever(self, **kwargs: Any) -> BaseRetriever:
        """A retriever over the search pipeline.

        Takes ``similarity_top_k`` (default 4), ``filters`` (``MetadataFilters``), ``filter``
        (a Milvus expression), ``offset`` and ``output_fields`` (default: every preserved
        field). Other keyword arguments are the query or chat engine's (LlamaIndex passes the
        same ones to both) and are left to it.
        """
        retriever = ZillizPipelineIndexRetriever(
            self._ids.search,
            ref_doc_field=self.ref_doc_field,
            similarity_top_k=kwargs.get("similarity_top_k", DEFAULT_TOP_K),
            offset=kwargs.get("offset", 0),
            filter=kwargs.get("filter"),
            filters=kwargs.get("filters"),
            output_fields=kwargs.get("output_fields"),
            callback_manager=kwargs.get("callback_manager", self._callback_manager),
            **self._connection,
        )
        if retriever.output_fields is None:
            retriever.output_fields = sorted(self._layout().preserved)
        return retriever

    # -- lifecycle ------------------------------------------------------------------------------

    def close(self) -> None:
        """Close the connection pools of the ingestion session."""
        self._session.close()

    async def aclose(self) -> None:
        """Close the pools, the current event loop's async one included."""
        await self._session.aclose()


def _stored(item: StoredItem) -> StoredItem:
    return item


def _documents(documents: Sequence[Document]) -> list[Document]:
    """``documents`` as a list of Documents (a single Document or a string is refused)."""
    if isinstance(documents, Document | str) or not all(
        isinstance(document, Document) for document in documents
    ):
        raise InvalidInputError("documents must be a list of llama_index Documents.")
    return list(documents)
