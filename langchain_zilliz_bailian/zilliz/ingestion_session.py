"""One writer, framework-free: what the LangChain loader and the LlamaIndex reader share.

An :class:`IngestionSession` owns the client and the pipelines it described. It turns sources into
a plan (images coerced, metadata selected, everything checked before anything is sent), runs the
plan and hands each stored unit out as a :class:`StoredItem` (text, metadata and id), sync or
async, and deletes through a deletion pipeline. Whatever was stored but never handed out, because
the consumer stopped early, is logged with its id. The framework classes only build their own
``Document`` from each item.
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from contextlib import aclosing, closing
from dataclasses import dataclass
from typing import Any, TypeVar

from typing_extensions import TypedDict, Unpack

from langchain_zilliz_bailian._http.adapter import Closeable
from langchain_zilliz_bailian._http.checks import (
    check_id,
    check_positive_int,
    insecure_url_reported,
)
from langchain_zilliz_bailian.errors import InvalidInputError
from langchain_zilliz_bailian.zilliz.client import ZillizPipelinesClient, deletion_data
from langchain_zilliz_bailian.zilliz.connection import ZillizConnection, checked_connection
from langchain_zilliz_bailian.zilliz.described import DescribedPipelines
from langchain_zilliz_bailian.zilliz.ingestion import (
    ImageSource,
    Kind,
    Stored,
    StoredRecord,
    Unit,
    aingest,
    ingest,
    plan_units,
    report_unyielded,
)
from langchain_zilliz_bailian.zilliz.models import DeletionResult

__all__ = [
    "Deletion",
    "DeletionTarget",
    "ImageInput",
    "IngestionOptions",
    "IngestionSession",
    "OwnsIngestionSession",
    "PlainSources",
    "StoredItem",
    "as_image",
    "select_metadata",
]

T = TypeVar("T")

#: An image as the framework classes accept it: ``ImageSource``, ``(url, id)`` or a mapping.
ImageInput = ImageSource | Mapping[str, Any] | tuple[str, str]


def as_image(value: ImageInput) -> ImageSource:
    """``value`` as an :class:`ImageSource` (a mapping's other keys are its metadata)."""
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


def select_metadata(metadata: Mapping[str, Any], keys: Sequence[str] | None) -> dict[str, Any]:
    """The metadata sent as PRESERVE fields: all of it, or only ``keys`` (when given)."""
    if keys is None:
        return dict(metadata)
    if isinstance(keys, str):
        raise InvalidInputError("metadata_keys takes a list of field names, not one string.")
    return {key: metadata[key] for key in keys if key in metadata}


@dataclass(frozen=True)
class StoredItem:
    """One stored unit as a framework document: ``id`` is the key to delete it by (a text's id,
    a document's ``doc_name``, an image's ``image_id``); ``metadata`` also carries
    ``pipeline_id`` and ``token_usage`` (the tokens of the request that stored it)."""

    kind: Kind
    id: str | None
    text: str
    metadata: dict[str, Any]


class PlainSources(TypedDict, total=False):
    """Sources to ingest other than a framework's Documents; every key is optional."""

    #: Plain texts (INDEX_TEXT), batched ``batch_size`` per request.
    texts: Sequence[str]
    #: Documents the server downloads (INDEX_DOC).
    doc_urls: Sequence[str]
    #: Local files uploaded one per request (INDEX_DOC).
    file_paths: Sequence[str | os.PathLike[str]]
    #: Images (INDEX_IMAGE): ``ImageSource``, ``(url, id)`` or ``{"url", "id", ...}``.
    images: Sequence[ImageInput]
    #: Preserved fields for every source (a document's own metadata is merged over it).
    metadata: Mapping[str, Any] | None
    #: Only these keys of each document's metadata are sent (default: all of them).
    metadata_keys: Sequence[str] | None


class IngestionOptions(ZillizConnection, total=False):
    """What a loader or reader takes besides its pipeline and sources; every key is optional."""

    #: The DELETION pipeline ``delete`` runs by default.
    deletion_pipeline_id: str | None
    #: Texts per request (default 100).
    batch_size: int
    #: Requests in flight at once in the async methods (default 4).
    max_concurrency: int
    #: Show a tqdm progress bar of the items stored (default ``False``).
    show_progress: bool


_OWN_KEYS = frozenset(IngestionOptions.__optional_keys__ - ZillizConnection.__optional_keys__)


class DeletionTarget(TypedDict, total=False):
    """What a delete call names: exactly one of the first four, and optionally the pipeline."""

    #: Stored text ids (ints or their str form; 64-bit ids keep every digit as str).
    ids: Sequence[str | int] | None
    #: The ``doc_name`` of a stored document (all its chunks).
    doc_name: str | None
    #: The ``image_id`` of a stored image.
    image_id: str | None
    #: A Milvus boolean expression over preserved fields.
    expression: str | None
    #: The DELETION pipeline to run (default: the session's ``deletion_pipeline_id``).
    pipeline_id: str | None


@dataclass(frozen=True)
class Deletion:
    """One deletion run: the DELETION pipeline and exactly one target (ids, expression, ...)."""

    pipeline_id: str
    target: Mapping[str, Any]


class _Handout:
    """The stored items of the current request on their way to the consumer, and the progress
    bar; on exit, the items the consumer never took are logged with their ids."""

    def __init__(self, session: IngestionSession, units: Sequence[Unit]) -> None:
        self._session = session
        self._pending: deque[tuple[StoredItem, StoredRecord]] = deque()
        progress, self._end = session._progress_bar(units)
        #: What the run takes: the bar's update and the session's described pipelines.
        self.options: dict[str, Any] = {"progress": progress, "pipelines": session.pipelines}

    def take(self, stored: Stored) -> Iterator[StoredItem]:
        """Each item of ``stored``, removed from the pending ones before it is handed out."""
        self._pending.extend(self._session._items(stored))
        while self._pending:
            yield self._pending.popleft()[0]

    def close(self) -> None:
        """Log what the consumer never took; close the progress bar."""
        report_unyielded([record for _, record in self._pending])
        self._pending.clear()
        self._end()


class IngestionSession(Closeable):
    """Ingest into one INGESTION pipeline and delete through a DELETION one.

    Each pipeline is described once, before its first run, and must be of the right type and
    serving (:class:`~langchain_zilliz_bailian.errors.PipelineTypeError` otherwise, before
    anything is sent). ``total_tokens`` sums the usage of every ingestion request so far.
    """

    def __init__(
        self, pipeline_id: str, *, stacklevel: int = 3, **options: Unpack[IngestionOptions]
    ) -> None:
        """Check every option now and build the client (``stacklevel``: as for
        :class:`~langchain_zilliz_bailian.zilliz.retrieval.RetrievalSession`)."""
        connection: dict[str, Any] = dict(options)
        own = {key: connection.pop(key) for key in _OWN_KEYS if key in connection}
        self.pipeline_id = check_id("pipeline_id", pipeline_id)
        deletion_pipeline_id = own.get("deletion_pipeline_id")
        self.deletion_pipeline_id = (
            check_id("pipeline_id", deletion_pipeline_id) if deletion_pipeline_id else None
        )
        self.batch_size = check_positive_int("batch_size", own.get("batch_size", 100))
        self.max_concurrency = check_positive_int("max_concurrency", own.get("max_concurrency", 4))
        self.show_progress = bool(own.get("show_progress", False))
        checked = checked_connection(connection, stacklevel=stacklevel + 1)
        with insecure_url_reported():  # warned just now, at the user's line
            self.client = ZillizPipelinesClient(**checked)
        self.pipelines = DescribedPipelines()
        self.total_tokens = 0

    # -- planning -------------------------------------------------------------------------------

    def plan(
        self,
        documents: Sequence[tuple[str, Mapping[str, Any]]] = (),
        **sources: Unpack[PlainSources],
    ) -> list[Unit]:
        """The requests for these sources, all checked; nothing is sent.

        ``documents`` are ``(text, metadata)`` pairs; only ``metadata_keys`` of their metadata
        (all of it by default) is merged over ``metadata`` and sent as preserved fields.
        """
        texts, doc_urls = sources.get("texts", ()), sources.get("doc_urls", ())
        file_paths, keys = sources.get("file_paths", ()), sources.get("metadata_keys")
        if isinstance(texts, str) or isinstance(doc_urls, str) or isinstance(file_paths, str):
            raise InvalidInputError("texts, doc_urls and file_paths take lists, not one string.")
        return plan_units(
            texts=texts,
            documents=[(text, select_metadata(meta, keys)) for text, meta in documents],
            doc_urls=doc_urls,
            file_paths=file_paths,
            images=[as_image(image) for image in sources.get("images", ())],
            metadata=sources.get("metadata"),
            batch_size=self.batch_size,
        )

    # -- running --------------------------------------------------------------------------------

    def items(self, units: Sequence[Unit], make: Callable[[StoredItem], T]) -> Iterator[T]:
        """Send the units in order, handing out ``make(item)`` for each stored unit as its
        request succeeds."""
        with closing(_Handout(self, units)) as handout:
            for stored in ingest(self.client, self.pipeline_id, units, **handout.options):
                yield from map(make, handout.take(stored))

    async def aitems(
        self, units: Sequence[Unit], make: Callable[[StoredItem], T]
    ) -> AsyncIterator[T]:
        """Up to ``max_concurrency`` requests in flight, items handed out in input order.

        A consumer that stops early (even with a bare ``break``, the generator then closed by
        ``asyncio.run``) gets the writes in flight settled and whatever they stored logged.
        """
        with closing(_Handout(self, units)) as handout:
            concurrency = self.max_concurrency
            batches = aingest(
                self.client, self.pipeline_id, units, max_concurrency=concurrency, **handout.options
            )
            async with aclosing(batches):  # settles the writes in flight at once
                async for stored in batches:
                    for item in handout.take(stored):
                        yield make(item)

    def _items(self, stored: Stored) -> Iterator[tuple[StoredItem, StoredRecord]]:
        self.total_tokens += stored.usage
        common = {"pipeline_id": self.pipeline_id, "token_usage": stored.usage}
        for record in stored.records:
            if record.kind == "text":
                metadata = {**record.fields, **common, "id": record.id}
            else:
                metadata = {**record.fields, **common}
            yield StoredItem(record.kind, record.id, record.text, metadata), record

    def _progress_bar(
        self, units: Sequence[Unit]
    ) -> tuple[Callable[[int], None] | None, Callable[[], None]]:
        """``(update, close)`` of a tqdm bar counting items, or ``(None, no-op)`` without one."""
        if not self.show_progress:
            return None, lambda: None
        try:
            from tqdm.auto import tqdm
        except ImportError as exc:  # pragma: no cover - tqdm ships with both extras
            raise ImportError("show_progress=True needs tqdm: pip install tqdm") from exc
        total = sum(len(unit.items) for unit in units)
        bar = tqdm(total=total, desc=f"Ingesting into {self.pipeline_id}", unit="item")
        return bar.update, bar.close

    # -- deletion -------------------------------------------------------------------------------

    def deletion(
        self,
        *,
        ids: Sequence[str | int] | None = None,
        stored: Sequence[Mapping[str, Any]] | None = None,
        doc_name: str | None = None,
        image_id: str | None = None,
        expression: str | None = None,
        pipeline_id: str | None = None,
    ) -> Deletion:
        """One deletion, checked before any request.

        ``stored`` is the metadata of items this session handed out: their text ``id`` values,
        or their one ``doc_name``, become the target.
        """
        target = pipeline_id or self.deletion_pipeline_id
        if target is None:
            raise InvalidInputError(
                "Deleting needs a DELETION pipeline: pass deletion_pipeline_id when constructing, "
                "or pipeline_id to delete()."
            )
        if stored is not None:
            if ids is not None or doc_name is not None:
                raise InvalidInputError("Pass documents, or ids/doc_name, not both.")
            ids, doc_name = _stored_target(stored)
        deletion_data(ids=ids, expression=expression, doc_name=doc_name, image_id=image_id)
        fields = {"ids": ids, "expression": expression, "doc_name": doc_name, "image_id": image_id}
        return Deletion(target, {key: value for key, value in fields.items() if value is not None})

    def delete(self, deletion: Deletion) -> DeletionResult:
        """Run ``deletion`` once its pipeline is known to be a serving DELETION one."""
        self.pipelines.require(self.client, deletion.pipeline_id, "DELETION")
        return self.client.delete(deletion.pipeline_id, **deletion.target)

    async def adelete(self, deletion: Deletion) -> DeletionResult:
        """Async twin of :meth:`delete`."""
        await self.pipelines.arequire(self.client, deletion.pipeline_id, "DELETION")
        return await self.client.adelete(deletion.pipeline_id, **deletion.target)

    # -- lifecycle ------------------------------------------------------------------------------

    def close(self) -> None:
        """Close the connection pools this session opened."""
        self.client.close()

    async def aclose(self) -> None:
        """Close the pools, the current event loop's async one included."""
        await self.client.aclose()


def _stored_target(
    stored: Sequence[Mapping[str, Any]],
) -> tuple[list[Any] | None, str | None]:
    """The text ids, or the one ``doc_name``, that items' metadata name."""
    ids = [meta["id"] for meta in stored if "id" in meta]
    names = {meta["doc_name"] for meta in stored if "doc_name" in meta}
    if (ids and names) or len(names) > 1:
        raise InvalidInputError(
            "One delete call handles either text ids or one doc_name; split the list."
        )
    if not ids and not names:
        raise InvalidInputError("These documents carry no 'id' or 'doc_name' to delete.")
    return ids or None, next(iter(names), None)


class OwnsIngestionSession(Closeable):
    """What a framework loader or reader shows of its :attr:`session`, and its lifecycle:
    ``with`` / ``async with`` and ``close`` / ``aclose`` close the session's pools."""

    session: IngestionSession

    @property
    def pipeline_id(self) -> str:
        """The INGESTION pipeline written to."""
        return self.session.pipeline_id

    @property
    def deletion_pipeline_id(self) -> str | None:
        """The DELETION pipeline ``delete`` runs by default."""
        return self.session.deletion_pipeline_id

    @deletion_pipeline_id.setter
    def deletion_pipeline_id(self, value: str | None) -> None:
        self.session.deletion_pipeline_id = check_id("pipeline_id", value) if value else None

    @property
    def client(self) -> ZillizPipelinesClient:
        """The framework-free client (one connection pool)."""
        return self.session.client

    @property
    def total_tokens(self) -> int:
        """Tokens used by the ingestion calls so far."""
        return self.session.total_tokens

    def close(self) -> None:
        """Close the connection pools the session opened."""
        self.session.close()

    async def aclose(self) -> None:
        """Close the pools, the current event loop's async one included."""
        await self.session.aclose()
