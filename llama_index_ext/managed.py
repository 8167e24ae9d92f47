"""``ZillizPipelineIndex``: a LlamaIndex managed index over a Zilliz Cloud Pipelines set.

The service embeds and stores; this class maps LlamaIndex calls onto the shared cores: inserts
go through :class:`IngestionSession` (batching, partial-failure reports), searches through
:class:`ZillizPipelineRetriever`, deletes through the deletion pipeline. Each inserted Document's
id is kept in a preserved VarChar field (``doc_id``), so ``delete_ref_doc`` removes exactly its
chunks. ``ZillizCloudPipelineIndex`` (``managed_compat``) takes 0.3.0's arguments.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any, TypeVar, cast

from llama_index.core.base.base_retriever import BaseRetriever
from llama_index.core.callbacks import CallbackManager
from llama_index.core.data_structs.data_structs import IndexDict
from llama_index.core.indices.managed.base import BaseManagedIndex
from llama_index.core.ingestion import arun_transformations, run_transformations
from llama_index.core.schema import BaseNode, Document, TransformComponent
from llama_index.core.storage.storage_context import StorageContext
from pydantic import SecretStr
from typing_extensions import Unpack

from langchain_zilliz_bailian._http.adapter import Closeable
from langchain_zilliz_bailian.errors import InvalidInputError
from langchain_zilliz_bailian.zilliz.client import PipelineSet
from langchain_zilliz_bailian.zilliz.connection import ZillizConnection
from langchain_zilliz_bailian.zilliz.ingestion_session import IngestionOptions, IngestionSession
from langchain_zilliz_bailian.zilliz.models import DeletionResult
from llama_index_ext.managed_layout import (
    DEFAULT_REF_DOC_FIELD,
    check_ref_doc_field,
    check_ref_doc_id,
    pipeline_ids_of,
    sparing,
)
from llama_index_ext.managed_pipelines import Transport, create_pipelines
from llama_index_ext.managed_retriever import ZillizPipelineIndexRetriever
from llama_index_ext.managed_writer import PipelineSetWriter
from llama_index_ext.retrievers import DEFAULT_TOP_K

__all__ = ["IndexOptions", "ZillizPipelineIndex"]

logger = logging.getLogger(__name__)

IndexT = TypeVar("IndexT", bound="ZillizPipelineIndex")

_CONNECTION_KEYS = frozenset(ZillizConnection.__optional_keys__)


class IndexOptions(Transport, total=False):
    """What the index takes besides its named arguments; every key is optional."""

    #: Texts per ingestion request (default 100).
    batch_size: int
    #: Requests in flight at once in the async methods (default 4).
    max_concurrency: int


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
        self._writer = PipelineSetWriter(self._session, ids, self.ref_doc_field)
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

    @property
    def session(self) -> IngestionSession:
        """The shared ingestion core (client, described pipelines, token count)."""
        return self._session

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
        with index.closed_on_error():
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
        with index.closed_on_error():
            index.insert_doc_url(url, metadata=metadata)
        return index

    @contextmanager
    def closed_on_error(self) -> Iterator[None]:
        """Close the connection pools if the block raises (a classmethod's index is then lost)."""
        try:
            yield
        except BaseException:
            self.close()
            raise

    # -- inserting ------------------------------------------------------------------------------

    def _insert(
        self,
        nodes: Sequence[BaseNode],
        metadata: Mapping[str, Any] | None = None,
        **insert_kwargs: Any,
    ) -> None:
        """Store each node as one text of the ingestion pipeline."""
        self._writer.store(nodes, metadata)

    def insert_documents(
        self, documents: Sequence[Document], metadata: Mapping[str, Any] | None = None
    ) -> None:
        """Split ``documents`` with the index's transformations and store every node."""
        with self._callback_manager.as_trace("insert"):
            self._writer.store(self._nodes(documents), metadata)
            self._hashes.update((document.id_, document.hash) for document in documents)

    async def ainsert_documents(
        self, documents: Sequence[Document], metadata: Mapping[str, Any] | None = None
    ) -> None:
        """Async twin of :meth:`insert_documents` (native async requests)."""
        with self._callback_manager.as_trace("ainsert"):
            await self._writer.astore(await self._anodes(documents), metadata)
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
        self._writer.store(nodes, insert_kwargs.get("metadata"))

    async def ainsert_nodes(self, nodes: Sequence[BaseNode], **insert_kwargs: Any) -> None:
        """Async twin of :meth:`insert_nodes`."""
        await self._writer.astore(nodes, insert_kwargs.get("metadata"))

    def insert_doc_url(self, url: str, metadata: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """Ingest the document at ``url`` (a presigned URL) into a doc pipeline set.

        Returns what was stored: ``doc_name`` (its ref-doc id), ``num_chunks``, ``token_usage``.
        """
        return self._writer.store_url(url, metadata).metadata

    async def ainsert_doc_url(
        self, url: str, metadata: Mapping[str, Any] | None = None
    ) -> dict[str, Any]:
        """Async twin of :meth:`insert_doc_url`."""
        return (await self._writer.astore_url(url, metadata)).metadata

    # -- deleting -------------------------------------------------------------------------------

    def delete_ref_doc(
        self, ref_doc_id: str, delete_from_docstore: bool = False, **delete_kwargs: Any
    ) -> None:
        """Delete every chunk stored for ``ref_doc_id`` (a Document's id, or a ``doc_name``)."""
        check_ref_doc_id(ref_doc_id)
        result = self._session.delete(self._writer.ref_deletion(ref_doc_id))
        self._hashes.pop(ref_doc_id, None)
        logger.debug("Deleted %d entities of %r", result.num_deleted, ref_doc_id)

    async def adelete_ref_doc(
        self, ref_doc_id: str, delete_from_docstore: bool = False, **delete_kwargs: Any
    ) -> None:
        """Async twin of :meth:`delete_ref_doc`."""
        check_ref_doc_id(ref_doc_id)
        result = await self._session.adelete(await self._writer.aref_deletion(ref_doc_id))
        self._hashes.pop(ref_doc_id, None)
        logger.debug("Deleted %d entities of %r", result.num_deleted, ref_doc_id)

    def update_ref_doc(self, document: Document, **update_kwargs: Any) -> None:
        """Replace ``document``'s chunks with its current ones.

        The new chunks are stored first and the Document's other chunks deleted after, so a
        failed insert leaves the old version searchable (LlamaIndex's default deletes first).
        """
        (document,) = _documents([document])
        metadata = update_kwargs.get("insert_kwargs", {}).get("metadata")
        old = self._writer.ref_deletion(check_ref_doc_id(document.id_))
        with self._callback_manager.as_trace("update_ref_doc"):
            if "expression" not in old.target:  # a doc_name cannot spare the new chunks
                self._session.delete(old)
            stored = self._writer.store(self._nodes([document]), metadata)
            if "expression" in old.target:
                self._session.delete(sparing(old, stored))
        self._hashes[document.id_] = document.hash

    async def aupdate_ref_doc(self, document: Document, **update_kwargs: Any) -> None:
        """Async twin of :meth:`update_ref_doc`."""
        (document,) = _documents([document])
        metadata = update_kwargs.get("insert_kwargs", {}).get("metadata")
        old = await self._writer.aref_deletion(check_ref_doc_id(document.id_))
        with self._callback_manager.as_trace("aupdate_ref_doc"):
            if "expression" not in old.target:
                await self._session.adelete(old)
            stored = await self._writer.astore(await self._anodes([document]), metadata)
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
        deletion = self._session.deletion(
            expression=expression, pipeline_id=self._writer.deletion_id()
        )
        return self._session.delete(deletion)

    def delete_by_doc_name(self, doc_name: str) -> DeletionResult:
        """Delete a stored document's chunks by its ``doc_name`` (doc pipeline sets)."""
        deletion = self._session.deletion(doc_name=doc_name, pipeline_id=self._writer.deletion_id())
        return self._session.delete(deletion)

    def _delete_node(self, node_id: str, **delete_kwargs: Any) -> None:
        """Delete one stored text by its id (the ``id_`` of a retrieved node)."""
        self._session.delete(
            self._session.deletion(ids=[node_id], pipeline_id=self._writer.deletion_id())
        )

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
            retriever.output_fields = sorted(self._writer.layout().preserved)
        return retriever

    # -- lifecycle ------------------------------------------------------------------------------

    def close(self) -> None:
        """Close the connection pools of the ingestion session."""
        self._session.close()

    async def aclose(self) -> None:
        """Close the pools, the current event loop's async one included."""
        await self._session.aclose()


def _documents(documents: Sequence[Document]) -> list[Document]:
    """``documents`` as a list of Documents (a single Document or a string is refused)."""
    if isinstance(documents, Document | str) or not all(
        isinstance(document, Document) for document in documents
    ):
        raise InvalidInputError("documents must be a list of llama_index Documents.")
    return list(documents)
