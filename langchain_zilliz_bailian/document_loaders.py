"""``ZillizPipelineLoader``: the write side of Zilliz Cloud Pipelines for LangChain.

Loading *is* ingesting: ``load()`` / ``lazy_load()`` / ``alazy_load()`` send the sources to an
ingestion pipeline and yield one ``Document`` per stored unit, carrying what is needed to find or
delete it later. Deletion through a deletion pipeline is on the same class. Thin: an
:class:`IngestionSession` does the work; this class maps Documents in and out.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from typing import Any

from langchain_core.document_loaders import BaseLoader
from langchain_core.documents import Document
from typing_extensions import Unpack

from langchain_zilliz_bailian.zilliz.ingestion import ImageSource, Unit
from langchain_zilliz_bailian.zilliz.ingestion_session import (
    Deletion,
    DeletionTarget,
    ImageInput,
    IngestionOptions,
    IngestionSession,
    OwnsIngestionSession,
    StoredItem,
)
from langchain_zilliz_bailian.zilliz.models import DeletionResult

__all__ = ["ImageSource", "ZillizPipelineLoader"]


def _document(item: StoredItem) -> Document:
    """A stored unit as a Document (a text's stored id is also the Document's ``id``)."""
    text_id = item.id if item.kind == "text" else None
    return Document(page_content=item.text, metadata=item.metadata, id=text_id)


class ZillizPipelineLoader(BaseLoader, OwnsIngestionSession):
    """Ingest texts, LangChain Documents, document URLs, local files and images into a pipeline.

    A Document's metadata is sent as the pipeline's PRESERVE fields; a pipeline rejects fields
    it does not preserve, so pass ``metadata_keys=[...]`` to send only those (LangChain loaders
    add keys such as ``source``). Each yielded ``Document`` stands for one stored unit: a text
    (``metadata["id"]``, a str), a document (``doc_name``, ``num_chunks``) or an image
    (``image_id``); all carry ``pipeline_id`` and ``token_usage`` (the tokens of the request
    that stored it, shared by its batch). If a batch fails after something was stored, a
    :class:`~langchain_zilliz_bailian.errors.PartialBatchError` names what was stored and what
    was not; everything stored before it was already yielded. If nothing was stored, the failure
    itself is raised (``AuthenticationError``, ``NotFoundError``, ...), its ``failed`` listing
    every item. Each pipeline is described once before its first run: a SEARCH or DELETION id
    as ``pipeline_id`` (or a non-DELETION one to delete through) raises
    :class:`~langchain_zilliz_bailian.errors.PipelineTypeError` before anything is sent.

    Example:
        .. code-block:: python

            with ZillizPipelineLoader(  # closes its connection pools on exit
                pipeline_id="pipe-...",
                documents=[Document(page_content="...", metadata={"year": 2024})],
                deletion_pipeline_id="pipe-...",
                show_progress=True,
            ) as loader:
                stored = loader.load()
                loader.delete(ids=[d.metadata["id"] for d in stored])
    """

    def __init__(
        self,
        pipeline_id: str,
        *,
        texts: Sequence[str] = (),
        documents: Sequence[Document] = (),
        doc_urls: Sequence[str] = (),
        file_paths: Sequence[str | os.PathLike[str]] = (),
        images: Sequence[ImageInput] = (),
        metadata: Mapping[str, Any] | None = None,
        metadata_keys: Sequence[str] | None = None,
        **options: Unpack[IngestionOptions],
    ) -> None:
        """The sources are planned (and checked) here; ``options``: :class:`IngestionOptions`
        (``deletion_pipeline_id``, ``batch_size``, ``show_progress``, the connection, ...)."""
        self.session = IngestionSession(pipeline_id, **options)
        self.units: list[Unit] = self.session.plan(
            [(doc.page_content, doc.metadata) for doc in documents],
            texts=texts,
            doc_urls=doc_urls,
            file_paths=file_paths,
            images=images,
            metadata=metadata,
            metadata_keys=metadata_keys,
        )

    def __repr__(self) -> str:
        return (
            f"ZillizPipelineLoader(pipeline_id={self.pipeline_id!r}, units={len(self.units)}, "
            f"base_url={self.client.base_url!r})"
        )

    # -- ingestion -----------------------------------------------------------------------------

    def lazy_load(self) -> Iterator[Document]:
        """Ingest in order, yielding each stored unit as its request succeeds."""
        return self.session.items(self.units, _document)

    def alazy_load(self) -> AsyncIterator[Document]:
        """Ingest with up to ``max_concurrency`` requests in flight (native async, in order)."""
        return self.session.aitems(self.units, _document)

    # -- deletion ------------------------------------------------------------------------------

    def delete(
        self, *, documents: Sequence[Document] | None = None, **target: Unpack[DeletionTarget]
    ) -> DeletionResult:
        """Delete through the deletion pipeline: by text ``ids`` (or the loaded ``documents``),
        ``doc_name``, ``image_id`` or a Milvus ``expression`` (see :class:`DeletionTarget`).
        A count of 0 is not an error.
        """
        return self.session.delete(self._deletion(documents, target))

    async def adelete(
        self, *, documents: Sequence[Document] | None = None, **target: Unpack[DeletionTarget]
    ) -> DeletionResult:
        """Async twin of :meth:`delete`."""
        return await self.session.adelete(self._deletion(documents, target))

    def _deletion(self, documents: Sequence[Document] | None, target: DeletionTarget) -> Deletion:
        stored = None if documents is None else [document.metadata for document in documents]
        return self.session.deletion(stored=stored, **target)
