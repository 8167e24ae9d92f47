"""``ZillizPipelineReader``: the write side of Zilliz Cloud Pipelines for LlamaIndex.

Loading *is* ingesting, as with the LangChain loader: the sources given to ``load_data`` go to
an ingestion pipeline through the shared planner (:mod:`langchain_zilliz_bailian.zilliz.ingestion`),
and one ``Document`` comes back per stored unit, carrying what is needed to find or delete it later.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterable, Iterator, Mapping, Sequence
from contextlib import aclosing
from typing import Any

import httpx
from llama_index.core.readers.base import BaseReader
from llama_index.core.schema import Document
from pydantic import SecretStr
from typing_extensions import TypedDict, Unpack

from langchain_zilliz_bailian._http.checks import check_id, check_positive_int
from langchain_zilliz_bailian.errors import InvalidInputError
from langchain_zilliz_bailian.zilliz.client import ZillizPipelinesClient
from langchain_zilliz_bailian.zilliz.described import DescribedPipelines
from langchain_zilliz_bailian.zilliz.ingestion import (
    ImageSource,
    Stored,
    Unit,
    adelete,
    aingest,
    delete,
    ingest,
    plan_units,
    report_unyielded,
)
from langchain_zilliz_bailian.zilliz.models import DeletionResult

__all__ = ["ImageSource", "Sources", "ZillizPipelineReader"]

ImageInput = ImageSource | Mapping[str, Any] | tuple[str, str]
#: Bookkeeping keys kept out of embeddings and LLM prompts if the Documents are indexed again.
_BOOKKEEPING = ["pipeline_id", "token_usage", "id", "num_chunks"]


def _image(value: ImageInput) -> ImageSource:
    if isinstance(value, ImageSource):
        return value
    if isinstance(value, tuple) and len(value) == 2:
        return ImageSource(url=value[0], id=value[1])
    if isinstance(value, Mapping) and "url" in value and "id" in value:
        rest = {k: v for k, v in value.items() if k not in ("url", "id")}
        return ImageSource(url=str(value["url"]), id=str(value["id"]), metadata=rest)
    raise InvalidInputError(
        f"An image is (url, id), {{'url', 'id', ...}} or ImageSource: {value!r}"
    )


class Sources(TypedDict, total=False):
    """What ``load_data`` and its twins ingest; every key is optional."""

    #: Plain texts (INDEX_TEXT), batched ``batch_size`` per request.
    texts: Sequence[str]
    #: LlamaIndex Documents: ``text`` is stored, metadata goes out as preserved fields.
    documents: Sequence[Document]
    #: Documents the server downloads (INDEX_DOC).
    doc_urls: Sequence[str]
    #: Local files uploaded one per request (INDEX_DOC).
    file_paths: Sequence[str | os.PathLike[str]]
    #: Images (INDEX_IMAGE): ``ImageSource``, ``(url, id)`` or ``{"url", "id", ...}``.
    images: Sequence[ImageInput]
    #: Preserved fields for every source (a Document's own metadata is merged over it).
    metadata: Mapping[str, Any] | None
    #: Only these keys of each Document's metadata are sent (default: all of them).
    metadata_keys: Sequence[str] | None


def _document_source(document: Document, keys: Sequence[str] | None) -> tuple[str, dict[str, Any]]:
    metadata = dict(document.metadata)
    if keys is not None:
        metadata = {k: metadata[k] for k in keys if k in metadata}
    return document.text, metadata


class ZillizPipelineReader(BaseReader):
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
    """

    def __init__(
        self,
        pipeline_id: str,
        *,
        deletion_pipeline_id: str | None = None,
        api_key: str | SecretStr | None = None,
        cloud_region: str | None = None,
        base_url: str | None = None,
        batch_size: int = 100,
        max_concurrency: int = 4,
        timeout: float | None = None,
        max_retries: int = 2,
        http_client: httpx.Client | None = None,
        http_async_client: httpx.AsyncClient | None = None,
    ) -> None:
        self.pipeline_id = check_id("pipeline_id", pipeline_id)
        self.deletion_pipeline_id = (
            check_id("pipeline_id", deletion_pipeline_id) if deletion_pipeline_id else None
        )
        self.batch_size = check_positive_int("batch_size", batch_size)
        self.max_concurrency = check_positive_int("max_concurrency", max_concurrency)
        self.client = ZillizPipelinesClient(
            api_key=api_key,
            cloud_region=cloud_region,
            base_url=base_url,
            timeout=timeout,
            max_retries=max_retries,
            http_client=http_client,
            http_async_client=http_async_client,
        )
        #: Tokens used by this reader's ingestion calls so far.
        self.total_tokens = 0
        self._pipelines = DescribedPipelines()

    def __repr__(self) -> str:
        return (
            f"ZillizPipelineReader(pipeline_id={self.pipeline_id!r}, "
            f"base_url={self.client.base_url!r})"
        )

    # -- planning and mapping -------------------------------------------------------------------

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
        texts, doc_urls = sources.get("texts", ()), sources.get("doc_urls", ())
        file_paths, documents = sources.get("file_paths", ()), sources.get("documents", ())
        if isinstance(texts, str) or isinstance(doc_urls, str) or isinstance(file_paths, str):
            raise InvalidInputError("texts, doc_urls and file_paths take lists, not one string.")
        if not all(isinstance(d, Document) for d in documents):
            raise InvalidInputError("documents must be llama_index Documents.")
        keys = sources.get("metadata_keys")
        return plan_units(
            texts=texts,
            documents=[_document_source(d, keys) for d in documents],
            doc_urls=doc_urls,
            file_paths=file_paths,
            images=[_image(image) for image in sources.get("images", ())],
            metadata=sources.get("metadata"),
            batch_size=self.batch_size,
        )

    def _documents(self, stored: Stored) -> Iterator[Document]:
        self.total_tokens += stored.usage
        common = {"pipeline_id": self.pipeline_id, "token_usage": stored.usage}
        for record in stored.records:
            if record["kind"] == "text":
                metadata = {**record["metadata"], **common, "id": record["id"]}
                yield self._document(record["id"], record["text"], metadata)
            else:
                fields = {k: v for k, v in record.items() if k != "kind"}
                doc_id = str(fields.get("doc_name") or fields.get("image_id") or "") or None
                yield self._document(doc_id, "", {**fields, **common})

    @staticmethod
    def _document(doc_id: str | None, text: str, metadata: dict[str, Any]) -> Document:
        extra: dict[str, Any] = {} if doc_id is None else {"id_": doc_id}
        return Document(
            text=text,
            metadata=metadata,
            excluded_embed_metadata_keys=[k for k in _BOOKKEEPING if k in metadata],
            excluded_llm_metadata_keys=[k for k in _BOOKKEEPING if k in metadata],
            **extra,
        )

    # -- loading is ingesting -------------------------------------------------------------------

    def _ingest(self, units: Sequence[Unit]) -> Iterator[Document]:
        for stored in ingest(self.client, self.pipeline_id, units, pipelines=self._pipelines):
            for n, document in enumerate(self._documents(stored), 1):
                try:
                    yield document
                except BaseException:  # the consumer stopped inside this batch
                    report_unyielded(stored.records[n:])
                    raise

    async def _aingest(self, units: Sequence[Unit]) -> AsyncIterator[Document]:
        batches = aingest(
            self.client,
            self.pipeline_id,
            units,
            max_concurrency=self.max_concurrency,
            pipelines=self._pipelines,
        )
        # aclosing: a consumer that stops early settles the writes in flight right away.
        async with aclosing(batches):
            async for stored in batches:
                for n, document in enumerate(self._documents(stored), 1):
                    try:
                        yield document
                    except BaseException:  # the consumer stopped inside this batch
                        report_unyielded(stored.records[n:])
                        raise

    def lazy_load_data(self, **sources: Unpack[Sources]) -> Iterator[Document]:
        """Ingest in order, yielding each stored unit as its request succeeds.

        The sources (:class:`Sources`) are validated here, before anything is sent.
        """
        return self._ingest(self.plan(**sources))

    def load_data(self, **sources: Unpack[Sources]) -> list[Document]:
        """Ingest everything and return the stored units (see :class:`Sources`)."""
        return list(self.lazy_load_data(**sources))

    def aiter_data(self, **sources: Unpack[Sources]) -> AsyncIterator[Document]:
        """Native async iteration: up to ``max_concurrency`` requests in flight, input order kept.

        The sources are validated here, before anything is sent.
        """
        return self._aingest(self.plan(**sources))

    async def alazy_load_data(self, **sources: Unpack[Sources]) -> Iterable[Document]:
        """The base class's contract (a coroutine returning an iterable), natively async.

        Iterate :meth:`aiter_data` instead to handle each Document as its request completes.
        """
        return [document async for document in self.aiter_data(**sources)]

    async def aload_data(self, **sources: Unpack[Sources]) -> list[Document]:
        """Async twin of :meth:`load_data` (native async, never a worker thread)."""
        return [document async for document in self.aiter_data(**sources)]

    # -- deletion -------------------------------------------------------------------------------

    def _deletion_pipeline(self, pipeline_id: str | None) -> str:
        target = pipeline_id or self.deletion_pipeline_id
        if target is None:
            raise InvalidInputError(
                "Deleting needs a DELETION pipeline: pass deletion_pipeline_id to the reader "
                "or pipeline_id to delete()."
            )
        return target

    def delete(
        self,
        *,
        ids: Sequence[str | int] | None = None,
        doc_name: str | None = None,
        image_id: str | None = None,
        expression: str | None = None,
        pipeline_id: str | None = None,
    ) -> DeletionResult:
        """Delete by text ``ids``, ``doc_name``, ``image_id`` or a Milvus ``expression``.

        A count of 0 is not an error (deleting what is not there is silent).
        """
        return delete(
            self.client,
            self._pipelines,
            self._deletion_pipeline(pipeline_id),
            ids=ids,
            doc_name=doc_name,
            image_id=image_id,
            expression=expression,
        )

    async def adelete(
        self,
        *,
        ids: Sequence[str | int] | None = None,
        doc_name: str | None = None,
        image_id: str | None = None,
        expression: str | None = None,
        pipeline_id: str | None = None,
    ) -> DeletionResult:
        """Async twin of :meth:`delete`."""
        return await adelete(
            self.client,
            self._pipelines,
            self._deletion_pipeline(pipeline_id),
            ids=ids,
            doc_name=doc_name,
            image_id=image_id,
            expression=expression,
        )

    def close(self) -> None:
        """Close the connection pools this reader opened."""
        self.client.close()

    async def aclose(self) -> None:
        """Async twin of :meth:`close`."""
        await self.client.aclose()
