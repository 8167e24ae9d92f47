"""Planning and running ingestion batches; shared by the LangChain and LlamaIndex write sides.

A job is a list of :class:`Unit` (texts with identical preserved fields, one document URL, one file
or one image); each unit is one request. Units run in order (sync) or with bounded concurrency
(async), and a failure stops the job without losing track of anything. If something was stored,
a :class:`~langchain_zilliz_bailian.errors.PartialBatchError` lists what was stored, what was not,
and what may or may not have been; if nothing was, the error that stopped the job is raised itself
(an ``AuthenticationError`` stays one), carrying ``failed``, ``unknown_outcome`` and
``failed_units`` (see :class:`~langchain_zilliz_bailian.errors.ZillizBailianError`).
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
from collections.abc import AsyncGenerator, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from langchain_zilliz_bailian._http.checks import check_positive_int
from langchain_zilliz_bailian._http.retry import may_have_effect
from langchain_zilliz_bailian.errors import (
    APIError,
    InvalidInputError,
    PartialBatchError,
)
from langchain_zilliz_bailian.zilliz.client import ZillizPipelinesClient, check_preserved
from langchain_zilliz_bailian.zilliz.described import DescribedPipelines
from langchain_zilliz_bailian.zilliz.models import (
    DocIngestionResult,
    ImageIngestionResult,
    TextIngestionResult,
)

__all__ = [
    "ImageSource",
    "Stored",
    "Unit",
    "StoredRecord",
    "aingest",
    "certainly_not_stored",
    "ingest",
    "plan_units",
    "report_unyielded",
]

Kind = Literal["text", "doc_url", "file", "image"]
logger = logging.getLogger("langchain_zilliz_bailian")


@dataclass(frozen=True)
class ImageSource:
    """An image to ingest: its URL, the id to store it under and its preserved fields."""

    url: str
    id: str
    metadata: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Unit:
    """One ingestion request: ``items`` are the user's inputs it covers, in order."""

    kind: Kind
    items: tuple[Any, ...]
    preserved: Mapping[str, Any]

    def describe(self) -> list[str]:
        """Short names of the items, for error messages."""
        if self.kind == "text":
            return [_short(text) for text in self.items]
        if self.kind == "image":
            return [f"image {item.id} ({item.url})" for item in self.items]
        return [str(item) for item in self.items]


@dataclass(frozen=True)
class StoredRecord:
    """One stored unit of data: a text, a document or an image.

    ``id`` is the key to find or delete it by (the text's id, the document's ``doc_name``, the
    image's ``image_id``); ``fields`` are the preserved fields stored with a text, or what the
    server said about a document (``doc_name``, ``num_chunks``, ``source``/``doc_url``) or an
    image (``image_id``, ``image_url``).
    """

    kind: Kind
    id: str | None
    fields: Mapping[str, Any]
    text: str = ""

    def as_dict(self) -> dict[str, Any]:
        """The plain form errors carry (``PartialBatchError.stored``) and logs name."""
        if self.kind == "text":
            return {"kind": "text", "text": self.text, "id": self.id, "metadata": dict(self.fields)}
        return {"kind": self.kind, **self.fields}


@dataclass(frozen=True)
class Stored:
    """What one successful request stored: one record per stored unit of data."""

    unit: Unit
    records: list[StoredRecord]
    usage: int


def _short(text: str, limit: int = 60) -> str:
    text = " ".join(text.split())
    return repr(text if len(text) <= limit else text[:limit] + "...")


def _freeze(metadata: Mapping[str, Any]) -> str:
    return json.dumps(metadata, sort_keys=True, default=str)


def plan_units(
    *,
    texts: Sequence[str] = (),
    documents: Sequence[tuple[str, Mapping[str, Any]]] = (),
    doc_urls: Sequence[str] = (),
    file_paths: Sequence[str | os.PathLike[str]] = (),
    images: Sequence[ImageSource] = (),
    metadata: Mapping[str, Any] | None = None,
    batch_size: int = 100,
) -> list[Unit]:
    """Group inputs into requests, validating everything before anything is sent.

    Preserved fields apply to a whole request (Z20), so documents are grouped by identical
    metadata (merged over ``metadata``), in order of first appearance, then cut into batches.
    """
    check_positive_int("batch_size", batch_size)
    base = check_preserved(metadata)
    units: list[Unit] = []
    for start in range(0, len(texts), batch_size):
        chunk = tuple(texts[start : start + batch_size])
        if not all(isinstance(t, str) and t for t in chunk):
            raise InvalidInputError("texts must be non-empty strings.")
        units.append(Unit("text", chunk, base))
    groups: dict[str, tuple[dict[str, Any], list[tuple[str, Mapping[str, Any]]]]] = {}
    for content, doc_metadata in documents:
        if not isinstance(content, str) or not content:
            raise InvalidInputError("Every document needs non-empty text to ingest.")
        preserved = {**base, **check_preserved(doc_metadata)}
        groups.setdefault(_freeze(preserved), (preserved, []))[1].append((content, doc_metadata))
    for preserved, members in groups.values():
        for start in range(0, len(members), batch_size):
            batch = members[start : start + batch_size]
            units.append(Unit("text", tuple(content for content, _ in batch), preserved))
    for url in doc_urls:
        units.append(Unit("doc_url", (url,), base))
    for path in file_paths:
        if not Path(path).is_file():
            raise InvalidInputError(f"No such file: {path}")
        units.append(Unit("file", (str(path),), base))
    for image in images:
        if not isinstance(image, ImageSource):
            raise InvalidInputError(f"images must be ImageSource(url, id, metadata): {image!r}")
        units.append(Unit("image", (image,), {**base, **check_preserved(image.metadata)}))
    return units


def _records(unit: Unit, result: Any) -> Stored:
    if isinstance(result, TextIngestionResult):
        if len(result.ids) != len(unit.items):
            raise APIError(
                f"The server stored {len(unit.items)} texts but returned {len(result.ids)} ids.",
                body=result.model_dump_json(),
            )
        # What was stored with each text: exactly the request's preserved fields.
        records = [
            StoredRecord("text", stored_id, dict(unit.preserved), text)
            for text, stored_id in zip(unit.items, result.ids, strict=True)
        ]
        return Stored(unit, records, result.usage.total)
    if isinstance(result, DocIngestionResult):
        source_key = "doc_url" if unit.kind == "doc_url" else "source"
        fields = {
            "doc_name": result.doc_name,
            "num_chunks": result.num_chunks,
            source_key: unit.items[0],
        }
        name = str(result.doc_name) if result.doc_name else None
        return Stored(unit, [StoredRecord(unit.kind, name, fields)], result.usage.total)
    if isinstance(result, ImageIngestionResult):
        image: ImageSource = unit.items[0]
        fields = {"image_id": image.id, "image_url": image.url}
        return Stored(unit, [StoredRecord("image", image.id, fields)], result.usage.total)
    raise TypeError(f"unexpected ingestion result {type(result).__name__}")


def _send(client: ZillizPipelinesClient, pipeline_id: str, unit: Unit) -> Any:
    if unit.kind == "text":
        return client.ingest_texts(pipeline_id, list(unit.items), metadata=unit.preserved)
    if unit.kind == "doc_url":
        return client.ingest_doc_url(pipeline_id, unit.items[0], metadata=unit.preserved)
    if unit.kind == "file":
        return client.ingest_file(pipeline_id, unit.items[0], metadata=unit.preserved)
    image: ImageSource = unit.items[0]
    return client.ingest_image(pipeline_id, image.url, image.id, metadata=unit.preserved)


async def _asend(client: ZillizPipelinesClient, pipeline_id: str, unit: Unit) -> Any:
    if unit.kind == "text":
        return await client.aingest_texts(pipeline_id, list(unit.items), metadata=unit.preserved)
    if unit.kind == "doc_url":
        return await client.aingest_doc_url(pipeline_id, unit.items[0], metadata=unit.preserved)
    if unit.kind == "file":
        return await client.aingest_file(pipeline_id, unit.items[0], metadata=unit.preserved)
    image: ImageSource = unit.items[0]
    return await client.aingest_image(pipeline_id, image.url, image.id, metadata=unit.preserved)


def certainly_not_stored(error: BaseException) -> bool:
    """Whether a failed write certainly stored nothing (the transport's one rule, inverted)."""
    return not may_have_effect(error)


def _stopped(
    stored: list[Stored], failed_units: list[Unit], cause: BaseException, unknown: list[Unit]
) -> BaseException:
    """What a failed ingestion raises: ``cause`` itself when nothing was stored (with the items
    it left unstored attached), a :class:`PartialBatchError` around it otherwise."""
    failed = [item for unit in failed_units for item in unit.items]
    unknown_items = [item for unit in unknown for item in unit.items]
    if not stored:
        # The fields ZillizBailianError declares (set on any exception, so nothing is lost).
        vars(cause).update(
            failed=failed, unknown_outcome=unknown_items, failed_units=list(failed_units)
        )
        return cause
    stored_records = [record.as_dict() for done in stored for record in done.records]
    verdict = (
        f"; the outcome of {len(unknown_items)} item(s) is unknown (they may have been stored: "
        f"check before re-sending): {', '.join(n for u in unknown for n in u.describe())}"
        if unknown_items
        else ""
    )
    return PartialBatchError(
        f"Ingestion stopped after storing {len(stored_records)} item(s); {len(failed)} item(s) "
        f"were not stored{verdict}. Cause: {cause}",
        stored=stored_records,
        failed=failed,
        cause=cause,
        unknown_outcome=unknown_items,
        failed_units=failed_units,
    )


def ingest(
    client: ZillizPipelinesClient,
    pipeline_id: str,
    units: Sequence[Unit],
    *,
    progress: Callable[[int], None] | None = None,
    pipelines: DescribedPipelines | None = None,
) -> Iterator[Stored]:
    """Send the units in order, yielding what each stored.

    With ``pipelines``, the pipeline is first described (once per ``pipelines``) and must be a
    serving INGESTION one. A failure raises :class:`PartialBatchError` once something was
    stored, and the failure itself (with ``failed`` attached) while nothing was.
    """
    if units and pipelines is not None:
        try:
            pipelines.require(client, pipeline_id, "INGESTION")
        except Exception as exc:
            _stopped([], list(units), exc, [])  # nothing sent: every item goes on the error
            raise
    done: list[Stored] = []
    for index, unit in enumerate(units):
        try:
            stored = _records(unit, _send(client, pipeline_id, unit))
        except Exception as exc:
            unknown = [] if certainly_not_stored(exc) else [unit]
            error = _stopped(done, list(units[index:]), exc, unknown)
            if error is exc:
                raise
            raise error from exc
        done.append(stored)
        if progress is not None:
            progress(len(unit.items))
        yield stored


async def aingest(
    client: ZillizPipelinesClient,
    pipeline_id: str,
    units: Sequence[Unit],
    *,
    max_concurrency: int = 4,
    progress: Callable[[int], None] | None = None,
    pipelines: DescribedPipelines | None = None,
) -> AsyncGenerator[Stored, None]:
    """Send up to ``max_concurrency`` units at once, yielding results in input order.

    After a failure no new request starts; requests already in flight are awaited (cancelling a
    write would make its outcome unknown), and what they stored is yielded before the error:
    :class:`PartialBatchError` if anything was stored, else the failure itself, as :func:`ingest`
    (which also describes the pipeline first when given ``pipelines``).
    """
    check_positive_int("max_concurrency", max_concurrency)
    if units and pipelines is not None:
        try:
            await pipelines.arequire(client, pipeline_id, "INGESTION")
        except Exception as exc:
            _stopped([], list(units), exc, [])
            raise
    gate = asyncio.Semaphore(max_concurrency)
    stop = asyncio.Event()
    cut: list[Unit] = []  # writes cancelled after they were sent: outcome unknown

    async def run(unit: Unit) -> Stored | None:
        async with gate:
            if stop.is_set():
                return None
            try:
                return _records(unit, await _asend(client, pipeline_id, unit))
            except asyncio.CancelledError:
                stop.set()
                cut.append(unit)
                raise
            except BaseException:
                stop.set()
                raise

    tasks = [asyncio.ensure_future(run(unit)) for unit in units]
    done: list[Stored] = []
    first_error: BaseException | None = None
    not_stored: list[Unit] = []
    unknown: list[Unit] = []
    try:
        for unit, task in zip(units, tasks, strict=True):
            try:
                stored = await asyncio.shield(task)
            except Exception as exc:
                first_error = first_error or exc
                not_stored.append(unit)
                if not certainly_not_stored(exc):
                    unknown.append(unit)
                continue
            if stored is None:
                not_stored.append(unit)
                continue
            done.append(stored)
            if progress is not None:
                progress(len(unit.items))
            yield stored
    finally:
        await _settle(tasks, units, stop, cut, yielded=len(done) + len(not_stored))
    if first_error is not None:
        error = _stopped(done, not_stored, first_error, unknown)
        if error is first_error:
            raise first_error
        raise error from first_error


async def _settle(
    tasks: Sequence[asyncio.Future[Stored | None]],
    units: Sequence[Unit],
    stop: asyncio.Event,
    cut: list[Unit],
    *,
    yielded: int,
) -> None:
    """After the consumer stopped early: start nothing new, let writes in flight finish (a
    cancelled write has an unknown outcome) and say what they stored, since nobody will see it.

    The report is made even if this wait is cancelled, as ``asyncio.run`` does to every task
    left when its main coroutine returns, before it closes a generator the consumer broke out
    of: what had been stored by then is logged with its ids, and the writes cut off in flight
    are logged as of unknown outcome.
    """
    stop.set()
    pending = list(tasks[yielded:])
    if not pending:
        return
    try:
        await asyncio.wait(pending)
    finally:
        stored: list[StoredRecord] = []
        for task in pending:
            if task.done() and not task.cancelled() and task.exception() is None:
                result = task.result()
                if result is not None:
                    stored.extend(result.records)
        report_unyielded(stored)
        if cut:
            logger.warning(
                "Ingestion was stopped early; %d write(s) were cancelled in flight and may have "
                "stored: %s",
                len(cut),
                ", ".join(_describe_unit(unit) for unit in cut),
            )


def report_unyielded(records: Sequence[StoredRecord]) -> None:
    """Log, with their ids, stored records that the consumer stopped before receiving."""
    if records:
        logger.warning(
            "Ingestion was stopped early; %d item(s) were stored but not yielded: %s",
            len(records),
            ", ".join(str(record.id) for record in records),
        )


def _describe_unit(unit: Unit) -> str:
    """A short name for a unit's items (for logs): kind, count and the first one, cut short."""
    first = unit.items[0] if unit.items else ""
    name = first.id if isinstance(first, ImageSource) else str(first)[:40]
    return f"{len(unit.items)} {unit.kind} item(s) from {name!r}"
