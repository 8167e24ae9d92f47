"""``PipelineSetWriter``: the managed index's writes, over the shared ingestion core.

Describes the ingestion and deletion pipelines once (through :class:`IngestionSession`), plans
nodes or a document URL into requests (everything checked before anything is sent), stores them
and builds the deletion of one reference document. Knows LlamaIndex nodes, not the index.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from llama_index.core.schema import BaseNode

from langchain_zilliz_bailian.errors import InvalidInputError
from langchain_zilliz_bailian.zilliz.ingestion import Unit
from langchain_zilliz_bailian.zilliz.ingestion_session import (
    Deletion,
    IngestionSession,
    StoredItem,
)
from langchain_zilliz_bailian.zilliz.inputs import http_url
from llama_index_ext.managed_layout import (
    IngestionLayout,
    PipelineIds,
    node_payloads,
    ref_doc_deletion,
)

__all__ = ["PipelineSetWriter"]

_DOCUMENTS_HINT = "Documents go to a text pipeline set (create_pipelines(data_type='text'))."
_URLS_HINT = "document URLs go to a doc pipeline set (create_pipelines(data_type='doc'))."


def _item(item: StoredItem) -> StoredItem:
    return item


class PipelineSetWriter:
    """Ingest into and delete from one index's pipelines (sync and native async)."""

    def __init__(self, session: IngestionSession, ids: PipelineIds, ref_doc_field: str) -> None:
        self.session = session
        self.ids = ids
        self.ref_doc_field = ref_doc_field

    # -- what the pipelines are -----------------------------------------------------------------

    def layout(self) -> IngestionLayout:
        """The ingestion pipeline's action and preserved fields (described once)."""
        client, pipelines = self.session.client, self.session.pipelines
        return IngestionLayout.of(pipelines.require(client, self.ids.ingestion, "INGESTION"))

    async def alayout(self) -> IngestionLayout:
        """Async twin of :meth:`layout`."""
        client, pipelines = self.session.client, self.session.pipelines
        described = await pipelines.arequire(client, self.ids.ingestion, "INGESTION")
        return IngestionLayout.of(described)

    def deletion_id(self) -> str:
        """The DELETION pipeline, or a typed error when the index has none."""
        if self.ids.deletion is None:
            raise InvalidInputError("Deleting needs pipeline_ids['DELETION'].")
        return self.ids.deletion

    # -- storing --------------------------------------------------------------------------------

    def _node_plan(
        self, layout: IngestionLayout, nodes: Sequence[BaseNode], metadata: Mapping[str, Any] | None
    ) -> list[Unit]:
        layout.require("INDEX_TEXT", _DOCUMENTS_HINT)
        layout.check_metadata(metadata, self.ref_doc_field)
        return self.session.plan(node_payloads(nodes, layout, self.ref_doc_field, metadata))

    def store(
        self, nodes: Sequence[BaseNode], metadata: Mapping[str, Any] | None
    ) -> list[StoredItem]:
        """Store each node as one text of the ingestion pipeline; what was stored."""
        if not nodes:
            return []
        return list(self.session.items(self._node_plan(self.layout(), nodes, metadata), _item))

    async def astore(
        self, nodes: Sequence[BaseNode], metadata: Mapping[str, Any] | None
    ) -> list[StoredItem]:
        """Async twin of :meth:`store` (up to ``max_concurrency`` requests in flight)."""
        if not nodes:
            return []
        units = self._node_plan(await self.alayout(), nodes, metadata)
        return [item async for item in self.session.aitems(units, _item)]

    def _url_plan(self, url: str, metadata: Mapping[str, Any] | None) -> list[Unit]:
        """The URL's request, checked before the pipeline is even described."""
        checked = http_url("doc_url", url, schemes="https?|file")  # as the client checks it
        return self.session.plan(doc_urls=[checked], metadata=metadata)

    def store_url(self, url: str, metadata: Mapping[str, Any] | None) -> StoredItem:
        """Ingest the document at ``url``; the stored document (its id is the doc_name)."""
        units = self._url_plan(url, metadata)
        self.layout().require("INDEX_DOC", _URLS_HINT)
        return next(iter(self.session.items(units, _item)))

    async def astore_url(self, url: str, metadata: Mapping[str, Any] | None) -> StoredItem:
        """Async twin of :meth:`store_url`."""
        units = self._url_plan(url, metadata)
        (await self.alayout()).require("INDEX_DOC", _URLS_HINT)
        (stored,) = [item async for item in self.session.aitems(units, _item)]
        return stored

    # -- deleting -------------------------------------------------------------------------------

    def ref_deletion(self, ref_doc_id: str) -> Deletion:
        """The deletion of every chunk of ``ref_doc_id`` (both pipelines described first)."""
        layout = self.layout()
        client, pipelines = self.session.client, self.session.pipelines
        deletion = pipelines.require(client, self.deletion_id(), "DELETION")
        return ref_doc_deletion(
            ref_doc_id, layout=layout, deletion=deletion, ref_doc_field=self.ref_doc_field
        )

    async def aref_deletion(self, ref_doc_id: str) -> Deletion:
        """Async twin of :meth:`ref_deletion`."""
        layout = await self.alayout()
        client, pipelines = self.session.client, self.session.pipelines
        deletion = await pipelines.arequire(client, self.deletion_id(), "DELETION")
        return ref_doc_deletion(
            ref_doc_id, layout=layout, deletion=deletion, ref_doc_field=self.ref_doc_field
        )
