"""``ZillizPipelineLoader``: the write side of Zilliz Cloud Pipelines for LangChain.

Loading *is* ingesting: ``load()`` / ``lazy_load()`` / ``alazy_load()`` send the sources to an
ingestion pipeline and yield one ``Document`` per stored unit, carrying what is needed to find or
delete it later. Deletion through a deletion pipeline is on the same class.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from contextlib import aclosing
from typing import Any

import httpx
from langchain_core.document_loaders import BaseLoader
from langchain_core.documents import Document
from pydantic import SecretStr

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

__all__ = ["ImageSource", "ZillizPipelineLoader"]

ImageInput = ImageSource | Mapping[str, Any] | tuple[str, str]


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


def _select(metadata: Mapping[str, Any], keys: Sequence[str] | None) -> dict[str, Any]:
    """The metadata sent as PRESERVE fields: all of it, or only ``keys`` (when given)."""
    if keys is None:
        return dict(metadata)
    if isinstance(keys, str):
        raise InvalidInputError("metadata_keys takes a list of field names, not one string.")
    return {key: metadata[key] for key in keys if key in metadata}


class ZillizPipelineLoader(BaseLoader):
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

            loader = ZillizPipelineLoader(
                pipeline_id="pipe-...",
                documents=[Document(page_content="...", metadata={"year": 2024})],
                deletion_pipeline_id="pipe-...",
            )
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
        deletion_pipeline_id: str | None = None,
        api_key: str | SecretStr | None = None,
        cloud_region: str | None = None,
        base_url: str | None = None,
        batch_size: int = 100,
        max_concurrency: int = 4,
        show_progress: bool = False,
        timeout: float | None = None,
        max_retries: int = 2,
        http_client: httpx.Client | None = None,
        http_async_client: httpx.AsyncClient | None = None,
    ) -> None:
        self.pipeline_id = check_id("pipeline_id", pipeline_id)
        self.deletion_pipeline_id = (
            check_id("pipeline_id", deletion_pipeline_id) if deletion_pipeline_id else None
        )
        if isinstance(texts, str) or isinstance(doc_urls, str) or isinstance(file_paths, str):
            raise InvalidInputError("texts, doc_urls and file_paths take lists, not one string.")
        self.units: list[Unit] = plan_units(
            texts=texts,
            documents=[
                (doc.page_content, _select(doc.metadata, metadata_keys)) for doc in documents
            ],
            doc_urls=doc_urls,
            file_paths=file_paths,
            images=[_image(image) for image in images],
            metadata=metadata,
            batch_size=batch_size,
        )
        self.max_concurrency = check_positive_int("max_concurrency", max_concurrency)
        self.show_progress = show_progress
        self.client = ZillizPipelinesClient(
            api_key=api_key,
            cloud_region=cloud_region,
            base_url=base_url,
            timeout=timeout,
            max_retries=max_retries,
            http_client=http_client,
            http_async_client=http_async_client,
        )
        #: Tokens used by this loader's ingestion calls so far.
        self.total_tokens = 0
        self._pipelines = DescribedPipelines()

    def __repr__(self) -> str:
        return (
            f"ZillizPipelineLoader(pipeline_id={self.pipeline_id!r}, units={len(self.units)}, "
            f"base_url={self.client.base_url!r})"
        )

    # -- ingestion -----------------------------------------------------------------------------

    def _progress(self) -> tuple[Callable[[int], None] | None, Callable[[], None]]:
        if not self.show_progress:
            return None, lambda: None
        try:
            from tqdm.auto import tqdm
        except ImportError as exc:  # pragma: no cover - tqdm ships with the langchain extra
            raise ImportError("show_progress=True needs tqdm: pip install tqdm") from exc
        total = sum(len(unit.items) for unit in self.units)
        bar = tqdm(total=total, desc=f"Ingesting into {self.pipeline_id}", unit="item")
        return bar.update, bar.close

    def _documents(self, stored: Stored) -> Iterator[Document]:
        self.total_tokens += stored.usage
        for record in stored.records:
            common = {"pipeline_id": self.pipeline_id, "token_usage": stored.usage}
            if record["kind"] == "text":
                metadata = {**record["metadata"], **common, "id": record["id"]}
                yield Document(page_content=record["text"], metadata=metadata, id=record["id"])
            else:
                fields = {k: v for k, v in record.items() if k != "kind"}
                yield Document(page_content="", metadata={**fields, **common})

    def lazy_load(self) -> Iterator[Document]:
        """Ingest in order, yielding each stored unit as its request succeeds."""
        update, close = self._progress()
        try:
            batches = ingest(
                self.client,
                self.pipeline_id,
                self.units,
                progress=update,
                pipelines=self._pipelines,
            )
            for stored in batches:
                for n, document in enumerate(self._documents(stored), 1):
                    try:
                        yield document
                    except BaseException:  # the consumer stopped inside this batch
                        report_unyielded(stored.records[n:])
                        raise
        finally:
            close()

    async def alazy_load(self) -> AsyncIterator[Document]:
        """Ingest with up to ``max_concurrency`` requests in flight (native async, in order)."""
        update, close = self._progress()
        batches = aingest(
            self.client,
            self.pipeline_id,
            self.units,
            max_concurrency=self.max_concurrency,
            progress=update,
            pipelines=self._pipelines,
        )
        try:
            # aclosing: a consumer that stops early settles the writes in flight right away.
            async with aclosing(batches):
                async for stored in batches:
                    for n, document in enumerate(self._documents(stored), 1):
                        try:
                            yield document
                        except BaseException:  # the consumer stopped inside this batch
                            report_unyielded(stored.records[n:])
                            raise
        finally:
            close()

    # -- deletion ------------------------------------------------------------------------------

    def _deletion_target(
        self,
        pipeline_id: str | None,
        documents: Sequence[Document] | None,
        ids: Sequence[str | int] | None,
        doc_name: str | None,
    ) -> tuple[str, Sequence[str | int] | None, str | None]:
        target = pipeline_id or self.deletion_pipeline_id
        if target is None:
            raise InvalidInputError(
                "Deleting needs a DELETION pipeline: pass deletion_pipeline_id to the loader "
                "or pipeline_id to delete()."
            )
        if documents is not None:
            if ids is not None or doc_name is not None:
                raise InvalidInputError("Pass documents, or ids/doc_name, not both.")
            doc_ids = [d.metadata["id"] for d in documents if "id" in d.metadata]
            names = {d.metadata["doc_name"] for d in documents if "doc_name" in d.metadata}
            if (doc_ids and names) or len(names) > 1:
                raise InvalidInputError(
                    "One delete call handles either text ids or one doc_name; split the list."
                )
            if not doc_ids and not names:
                raise InvalidInputError("These documents carry no 'id' or 'doc_name' to delete.")
            return target, doc_ids or None, next(iter(names), None)
        return target, ids, doc_name

    def delete(
        self,
        *,
        ids: Sequence[str | int] | None = None,
        documents: Sequence[Document] | None = None,
        doc_name: str | None = None,
        image_id: str | None = None,
        expression: str | None = None,
        pipeline_id: str | None = None,
    ) -> DeletionResult:
        """Delete through the deletion pipeline: by text ``ids`` (or the loaded ``documents``),
        ``doc_name``, ``image_id`` or a Milvus ``expression``. A count of 0 is not an error.
        """
        target, ids, doc_name = self._deletion_target(pipeline_id, documents, ids, doc_name)
        return delete(
            self.client,
            self._pipelines,
            target,
            ids=ids,
            doc_name=doc_name,
            image_id=image_id,
            expression=expression,
        )

    async def adelete(
        self,
        *,
        ids: Sequence[str | int] | None = None,
        documents: Sequence[Document] | None = None,
        doc_name: str | None = None,
        image_id: str | None = None,
        expression: str | None = None,
        pipeline_id: str | None = None,
    ) -> DeletionResult:
        """Async twin of :meth:`delete`."""
        target, ids, doc_name = self._deletion_target(pipeline_id, documents, ids, doc_name)
        return await adelete(
            self.client,
            self._pipelines,
            target,
            ids=ids,
            doc_name=doc_name,
            image_id=image_id,
            expression=expression,
        )
