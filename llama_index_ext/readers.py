"""``ZillizPipelineReader``: the write side of Zilliz Cloud Pipelines for LlamaIndex.

Loading *is* ingesting, as with the LangChain loader: the sources given to ``load_data`` go to
an ingestion pipeline through the shared :class:`IngestionSession`, and one ``Document`` comes
back per stored unit, carrying what is needed to find or delete it later. Thin: this class maps
Documents in and out.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Iterator, Sequence
from typing import Any, cast

from llama_index.core.readers.base import BaseReader
from llama_index.core.schema import Document
from typing_extensions import Unpack

from langchain_zilliz_bailian.errors import InvalidInputError
from langchain_zilliz_bailian.zilliz.ingestion import ImageSource, Unit
from langchain_zilliz_bailian.zilliz.ingestion_session import (
    DeletionTarget,
    IngestionOptions,
    IngestionSession,
    OwnsIngestionSession,
    PlainSources,
    StoredItem,
)
from langchain_zilliz_bailian.zilliz.models import DeletionResult

__all__ = ["ImageSource", "Sources", "ZillizPipelineReader"]

#: Bookkeeping keys kept out of embeddings and LLM prompts if the Documents are indexed again.
_BOOKKEEPING = ["pipeline_id", "token_usage", "id", "num_chunks"]


def _document(item: StoredItem) -> Document:
    """A stored unit as a Document whose ``id_`` is its key (text id, doc_name or image_id)."""
    kept = [key for key in _BOOKKEEPING if key in item.metadata]
    extra: dict[str, Any] = {} if item.id is None else {"id_": item.id}
    return Document(
        text=item.text,
        metadata=item.metadata,
        excluded_embed_metadata_keys=kept,
        excluded_llm_metadata_keys=list(kept),
        **extra,
    )


class Sources(PlainSources, total=False):
    """What ``load_data`` and its twins ingest; every key is optional."""

    #: LlamaIndex Documents: ``text`` is stored, metadata goes out as preserved fields.
    documents: Sequence[Document]


class ZillizPipelineReader(BaseReader, OwnsIngestionSession):
    """Ingest texts, LlamaIndex Documents, document URLs, local files and images into a pipeline.

    Each Document returned stands for one stored unit: a text (``id_`` and ``metadata["id"]`` are
    the stored id, a str), a document (``id_`` is its ``doc_name``; ``num_chunks``) or an image
    (``id_`` is its ``image_id``); all carry ``pipeline_id`` and ``token_usage`` (the tokens of
    the request that stored it, shared by its batch). If a request fails after something was
    stored, a :class:`~langchain_zilliz_bailian.errors.PartialBatchError` names what was stored and
    what was not; the lazy loaders have already yielded everything stored before it. If nothing
    was stored, the failure itself is raised (``AuthenticationError``, ``NotFoundError``, ...), its
    ``failed`` listing every item. Each pipeline is described once before its first run: a
    SEARCH or DELETION id as ``pipeline_id`` (or a non-DELETION one to delete through) raises
    :class:`~langchain_zilliz_bailian.errors.PipelineTypeError` before anything is sent.

    Example:
        .. code-block:: python

            reader = ZillizPipelineReader("pipe-...", deletion_pipeline_id="pipe-...")
            stored = reader.load_data(documents=SimpleDirectoryReader("docs").load_data())
            reader.delete(ids=[d.id_ for d in stored if "id" in d.metadata])

    ``show_progress=True`` shows a tqdm bar of the items stored; the reader is a context manager
    (``with`` / ``async with``) that closes its connection pools.
    """

    def __init__(self, pipeline_id: str, **options: Unpack[IngestionOptions]) -> None:
        """``options``: :class:`IngestionOptions` (``deletion_pipeline_id``, ``batch_size``,
        ``max_concurrency``, ``show_progress``, the connection, ...)."""
        self.session = IngestionSession(pipeline_id, **options)

    def __repr__(self) -> str:
        return (
            f"ZillizPipelineReader(pipeline_id={self.pipeline_id!r}, "
            f"base_url={self.client.base_url!r})"
        )

    def plan(self, **sources: Unpack[Sources]) -> list[Unit]:
        """The requests ``load_data`` would send, validated; nothing is sent (see :class:`Sources`).

        ``metadata`` applies to every source; a Document's own metadata (only ``metadata_keys``
        of it, when given) is merged over it and sent as preserved fields.
        """
        unknown = set(sources) - set(Sources.__optional_keys__)
        if unknown:
            raise InvalidInputError(
                f"Unknown source(s) {sorted(unknown)}; use {sorted(Sources.__optional_keys__)}."
            )
        documents = sources.get("documents", ())
        if not all(isinstance(d, Document) for d in documents):
            raise InvalidInputError("documents must be llama_index Documents.")
        rest = cast(PlainSources, {k: v for k, v in sources.items() if k != "documents"})
        return self.session.plan([(d.text, d.metadata) for d in documents], **rest)

    # -- loading is ingesting -------------------------------------------------------------------

    def lazy_load_data(self, **sources: Unpack[Sources]) -> Iterator[Document]:
        """Ingest in order, yielding each stored unit as its request succeeds.

        The sources (:class:`Sources`) are validated here, before anything is sent.
        """
        return self.session.items(self.plan(**sources), _document)

    def load_data(self, **sources: Unpack[Sources]) -> list[Document]:
        """Ingest everything and return the stored units (see :class:`Sources`)."""
        return list(self.lazy_load_data(**sources))

    def aiter_data(self, **sources: Unpack[Sources]) -> AsyncIterator[Document]:
        """Native async iteration: up to ``max_concurrency`` requests in flight, input order kept.

        The sources are validated here, before anything is sent.
        """
        return self.session.aitems(self.plan(**sources), _document)

    async def alazy_load_data(self, **sources: Unpack[Sources]) -> Iterable[Document]:
        """The base class's contract (a coroutine returning an iterable), natively async.

        Iterate :meth:`aiter_data` instead to handle each Document as its request completes.
        """
        return [document async for document in self.aiter_data(**sources)]

    async def aload_data(self, **sources: Unpack[Sources]) -> list[Document]:
        """Async twin of :meth:`load_data` (native async, never a worker thread)."""
        return [document async for document in self.aiter_data(**sources)]

    # -- deletion -------------------------------------------------------------------------------

    def delete(self, **target: Unpack[DeletionTarget]) -> DeletionResult:
        """Delete by text ``ids``, ``doc_name``, ``image_id`` or a Milvus ``expression``.

        A count of 0 is not an error (deleting what is not there is silent).
        """
        return self.session.delete(self.session.deletion(**target))

    async def adelete(self, **target: Unpack[DeletionTarget]) -> DeletionResult:
        """Async twin of :meth:`delete`."""
        return await self.session.adelete(self.session.deletion(**target))
