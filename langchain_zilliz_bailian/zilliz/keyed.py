"""Records keyed by the caller's own ids, over the three pipelines of one TEXT collection.

Pipelines give every stored text an id of their own and never deduplicate (Z19), so a framework
that manages ids itself (LangChain's indexing API, a vector store's ``add(ids=...)``) needs its
ids stored with the text. :class:`KeyedRecords` keeps them in a preserved VarChar field (the key
field, ``lc_id`` by default): adding writes through the INGESTION pipeline and then removes older
copies of the same keys (an upsert that never loses data: a failure leaves a duplicate, not a
gap), deleting runs ``key in [...]`` through the DELETION pipeline, and searching returns each
hit's text, metadata, key and distance. Framework-free; sync and native async.

Metadata: a key the pipeline preserves is sent as that field; the others go, as one JSON object,
into the optional ``metadata_field`` (a preserved VarChar) when there is one, and are otherwise
refused (:class:`InvalidInputError` naming them) or, with ``unknown_metadata="drop"``, dropped.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from typing_extensions import Required, TypedDict, Unpack

from langchain_zilliz_bailian._http.adapter import Closeable
from langchain_zilliz_bailian._http.checks import (
    check_id,
    check_positive_int,
    check_search_window,
)
from langchain_zilliz_bailian.errors import InvalidInputError, PartialBatchError
from langchain_zilliz_bailian.zilliz.actions import content_field, content_of
from langchain_zilliz_bailian.zilliz.client import PipelineSet, ZillizPipelinesClient
from langchain_zilliz_bailian.zilliz.connection import ZillizConnection
from langchain_zilliz_bailian.zilliz.expressions import (
    FIELD_NAME,
    ExpressionError,
    field_in,
    string_literal,
)
from langchain_zilliz_bailian.zilliz.ingestion import Unit
from langchain_zilliz_bailian.zilliz.ingestion_session import IngestionSession, StoredItem
from langchain_zilliz_bailian.zilliz.inputs import MAX_VARCHAR
from langchain_zilliz_bailian.zilliz.models import Pipeline, SearchResult

__all__ = [
    "DEFAULT_KEY_FIELD",
    "DEFAULT_METADATA_FIELD",
    "KeyedHit",
    "KeyedOptions",
    "KeyedRecords",
    "KeyedSchema",
    "KeyedSetOptions",
    "UnknownMetadata",
    "acreate_keyed_pipelines",
    "check_keys",
    "check_options",
    "create_keyed_pipelines",
    "keyed_preserve",
    "keyed_set_arguments",
]

DEFAULT_KEY_FIELD = "lc_id"
DEFAULT_METADATA_FIELD = "lc_metadata"
#: What to do with metadata keys the pipeline does not preserve (without a metadata field).
UnknownMetadata = Literal["raise", "drop"]
#: Keys per deletion expression and per lookup search (a search returns at most 500 hits, which
#: leaves room for a key stored more than once).
_KEYS_PER_REQUEST = 100
_LOOKUP_LIMIT = 500
#: The query of a lookup by key (the filter selects; the ranking does not matter).
_LOOKUP_QUERY = "lookup by key"


class _Fields(TypedDict, total=False):
    """The preserved fields a keyed set reserves for itself."""

    #: The VarChar field holding each record's key (default ``lc_id``).
    key_field: str
    #: The VarChar field holding, as JSON, the metadata keys without a field of their own
    #: (records: default ``None``, none; pipeline sets: default ``lc_metadata``).
    metadata_field: str | None


class KeyedOptions(_Fields, ZillizConnection, total=False):
    """What :class:`KeyedRecords` takes besides its pipelines; every key is optional."""

    #: Metadata keys the pipeline does not preserve, without a metadata field: ``"raise"``
    #: (default, :class:`InvalidInputError` naming them) or ``"drop"``.
    unknown_metadata: UnknownMetadata
    #: Writes in flight at once in the async methods (default 4).
    max_concurrency: int


class KeyedSetOptions(_Fields, total=False):
    """What a keyed pipeline set is made of (as ``create_pipeline_set`` takes it)."""

    name: Required[str]
    project_id: Required[str]
    cluster_id: Required[str]
    #: The collection (default: ``name``).
    collection_name: str | None
    #: More preserved fields, name to ``fieldType`` (typed, filterable metadata).
    preserve: Mapping[str, str] | None
    language: Literal["ENGLISH", "CHINESE"]
    embedding: str | None
    reranker: str | None
    description: str


_CONNECTION_KEYS = frozenset(ZillizConnection.__optional_keys__)
_RECORD_KEYS = frozenset(KeyedOptions.__optional_keys__) - _CONNECTION_KEYS
_SET_KEYS = frozenset(KeyedSetOptions.__required_keys__ | KeyedSetOptions.__optional_keys__)
#: Spelled out: ``Required`` in a postponed annotation is not seen at run time on every Python.
_REQUIRED_SET_KEYS = frozenset({"name", "project_id", "cluster_id"})


@dataclass(frozen=True)
class KeyedHit:
    """One stored record: the caller's ``key``, its text and metadata, and the search distance
    (``None`` for a lookup by key). ``distance`` is the pipeline's raw value: see
    :meth:`KeyedRecords.search` for its direction."""

    key: str
    text: str
    metadata: dict[str, Any]
    distance: float | None = None


@dataclass(frozen=True)
class KeyedSchema:
    """What the INGESTION pipeline preserves (field name to ``fieldType``) and which of those
    fields hold the key and the JSON metadata; checked against the pipeline's description."""

    key_field: str
    metadata_field: str | None
    preserved: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def of(cls, pipeline: Pipeline, key_field: str, metadata_field: str | None) -> KeyedSchema:
        """The schema of ``pipeline``; the key and metadata fields must be preserved VarChars."""
        preserved = {
            function.output_field: function.field_type or ""
            for function in pipeline.functions
            if function.action == "PRESERVE" and function.output_field
        }
        for role, name in (("key_field", key_field), ("metadata_field", metadata_field)):
            if name is not None and preserved.get(name, "").lower() != "varchar":
                raise InvalidInputError(
                    f"{role} {name!r} must be a VarChar field that ingestion pipeline "
                    f"{pipeline.pipeline_id} preserves; it preserves {preserved or 'nothing'}. "
                    "Create the pipelines with create_keyed_pipelines(...)."
                )
        return cls(key_field, metadata_field, preserved)

    @property
    def own_fields(self) -> frozenset[str]:
        """Preserved fields that hold the caller's metadata keys one by one."""
        return frozenset(self.preserved) - {self.key_field, self.metadata_field}

    def preserved_values(
        self, key: str, metadata: Mapping[str, Any], unknown: UnknownMetadata
    ) -> dict[str, Any]:
        """The preserved fields that store ``metadata`` under ``key``; bad metadata raises."""
        if not isinstance(metadata, Mapping):
            raise InvalidInputError(f"metadata must be a mapping, got {type(metadata).__name__}.")
        taken = {self.key_field, self.metadata_field or self.key_field} & set(metadata)
        if taken:
            raise InvalidInputError(
                f"Metadata key(s) {sorted(taken)} name the fields that hold the record's key and "
                "metadata; rename them."
            )
        own = self.own_fields
        values = {name: value for name, value in metadata.items() if name in own}
        missing = sorted(own - set(values))
        if missing:
            raise InvalidInputError(
                f"Metadata lacks {missing}: the pipeline preserves these fields and needs a "
                "value for each of them in every record."
            )
        rest = {name: value for name, value in metadata.items() if name not in own}
        if rest and self.metadata_field is not None:
            values[self.metadata_field] = _json_metadata(rest, self.metadata_field)
        elif self.metadata_field is not None:
            values[self.metadata_field] = "{}"
        elif rest and unknown == "raise":
            raise InvalidInputError(
                f"Metadata key(s) {sorted(rest)} are not preserved by the ingestion pipeline "
                f"(it preserves {sorted(own) or 'no metadata fields'}). Pass "
                "unknown_metadata='drop' to leave them out, or use pipelines with a metadata "
                "field (create_keyed_pipelines makes one)."
            )
        values[self.key_field] = key
        return values

    def record(self, fields: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
        """``(key, metadata)`` of a stored record from its returned preserved fields."""
        key = fields.get(self.key_field)
        metadata: dict[str, Any] = {
            name: value
            for name, value in fields.items()
            if name in self.own_fields and value is not None
        }
        raw = fields.get(self.metadata_field) if self.metadata_field else None
        if isinstance(raw, str) and raw:
            try:
                extra = json.loads(raw)
            except ValueError:
                extra = None
            if isinstance(extra, dict):
                metadata.update(extra)
        return ("" if key is None else str(key)), metadata


def _json_metadata(values: Mapping[str, Any], field_name: str) -> str:
    try:
        text = json.dumps(dict(values), sort_keys=True, ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise InvalidInputError(
            f"Metadata key(s) {sorted(values)} go into {field_name!r} as JSON, but {exc}."
        ) from None
    if len(text) > MAX_VARCHAR:
        raise InvalidInputError(
            f"The metadata kept in {field_name!r} is {len(text)} characters as JSON; the field "
            f"holds at most {MAX_VARCHAR}."
        )
    return text


def check_keys(ids: Sequence[str]) -> list[str]:
    """Caller ids: a list of distinct non-empty strings that fit a VarChar and a literal."""
    if isinstance(ids, str | bytes) or not isinstance(ids, Sequence):
        raise InvalidInputError("ids must be a list of strings.")
    keys: list[str] = []
    for value in ids:
        if not isinstance(value, str) or not value:
            raise InvalidInputError(f"Every id must be a non-empty string: {value!r}")
        if len(value) > MAX_VARCHAR:
            raise InvalidInputError(f"An id is longer than {MAX_VARCHAR} characters.")
        try:
            string_literal(value)
        except ExpressionError as exc:
            raise InvalidInputError(f"Id {value!r} cannot be stored: {exc}.") from None
        keys.append(value)
    return keys


def check_options(
    key_field: str,
    metadata_field: str | None,
    unknown_metadata: UnknownMetadata = "raise",
    max_concurrency: int = 4,
) -> None:
    """The options of :class:`KeyedRecords`, checked (also before creating pipelines for one)."""
    for name, value in (("key_field", key_field), ("metadata_field", metadata_field)):
        if value is not None and (
            not isinstance(value, str) or FIELD_NAME.fullmatch(value) is None
        ):
            raise InvalidInputError(f"{name} must be a plain field name: {value!r}")
    if key_field == metadata_field:
        raise InvalidInputError("key_field and metadata_field must differ.")
    if unknown_metadata not in ("raise", "drop"):
        raise InvalidInputError(f"unknown_metadata must be 'raise' or 'drop': {unknown_metadata!r}")
    check_positive_int("max_concurrency", max_concurrency)


def _chunks(values: Sequence[Any], size: int) -> Iterator[list[Any]]:
    for start in range(0, len(values), size):
        yield list(values[start : start + size])


@dataclass(frozen=True)
class _Inputs:
    """One add call, checked: texts, metadata and keys in input order, and whether older copies
    of the keys may exist (some ids were given) and must be removed after the write."""

    texts: list[str]
    metadatas: list[Mapping[str, Any]]
    keys: list[str]
    replace: bool


class KeyedRecords(Closeable):
    """Add, delete, look up and search records by caller id over three TEXT pipelines.

    The INGESTION pipeline is described before the first call (once) to learn what it preserves;
    the key field (and ``metadata_field`` when given) must be preserved VarChar fields. Each
    record is one ingestion request, since a preserved value applies to a whole request (Z20);
    the async methods keep ``max_concurrency`` of them in flight.
    """

    def __init__(
        self,
        ingestion_pipeline_id: str,
        search_pipeline_id: str,
        deletion_pipeline_id: str,
        *,
        stacklevel: int = 2,
        **options: Unpack[KeyedOptions],
    ) -> None:
        """Check everything now (bad input raises before any request); ``options``: see
        :class:`KeyedOptions`. ``stacklevel``: the frame the insecure-URL warning names (1: this
        method, 2: its caller)."""
        connection: dict[str, Any] = dict(options)
        own = {key: connection.pop(key) for key in _RECORD_KEYS if key in connection}
        self.key_field: str = own.get("key_field", DEFAULT_KEY_FIELD)
        self.metadata_field: str | None = own.get("metadata_field")
        self.unknown_metadata: UnknownMetadata = own.get("unknown_metadata", "raise")
        max_concurrency = own.get("max_concurrency", 4)
        check_options(self.key_field, self.metadata_field, self.unknown_metadata, max_concurrency)
        self.search_pipeline_id = check_id("pipeline_id", search_pipeline_id)
        self.session = IngestionSession(
            ingestion_pipeline_id,
            deletion_pipeline_id=check_id("pipeline_id", deletion_pipeline_id),
            batch_size=1,
            max_concurrency=max_concurrency,
            stacklevel=stacklevel + 1,
            **connection,
        )

    @property
    def client(self) -> ZillizPipelinesClient:
        """The framework-free client (one connection pool)."""
        return self.session.client

    @property
    def ingestion_pipeline_id(self) -> str:
        """The INGESTION pipeline written to."""
        return self.session.pipeline_id

    @property
    def deletion_pipeline_id(self) -> str:
        """The DELETION pipeline that removes records by key."""
        return str(self.session.deletion_pipeline_id)

    # -- schema ---------------------------------------------------------------------------------

    def schema(self) -> KeyedSchema:
        """What the ingestion pipeline preserves (described on first use, then remembered)."""
        pipeline = self.session.pipelines.require(
            self.client, self.ingestion_pipeline_id, "INGESTION"
        )
        return KeyedSchema.of(pipeline, self.key_field, self.metadata_field)

    async def aschema(self) -> KeyedSchema:
        """Async twin of :meth:`schema`."""
        pipeline = await self.session.pipelines.arequire(
            self.client, self.ingestion_pipeline_id, "INGESTION"
        )
        return KeyedSchema.of(pipeline, self.key_field, self.metadata_field)

    # -- adding ---------------------------------------------------------------------------------

    def _inputs(
        self,
        texts: Sequence[str],
        metadatas: Sequence[Mapping[str, Any]] | None,
        ids: Sequence[str | None] | None,
    ) -> _Inputs:
        """The texts, metadata and keys of an add call, checked before any request."""
        if isinstance(texts, str):
            raise InvalidInputError("texts takes a list of strings, not one string.")
        texts = list(texts)
        metas = [{} for _ in texts] if metadatas is None else list(metadatas)
        given = [None for _ in texts] if ids is None else list(ids)
        if len(metas) != len(texts) or len(given) != len(texts):
            raise InvalidInputError(
                f"{len(texts)} texts, {len(metas)} metadatas and {len(given)} ids: the lengths "
                "must match."
            )
        keys = check_keys([key if key is not None else str(uuid.uuid4()) for key in given])
        repeated = sorted({key for key in keys if keys.count(key) > 1})
        if repeated:
            raise InvalidInputError(f"Ids {repeated} appear more than once in one call.")
        if not all(isinstance(text, str) and text.strip() for text in texts):
            raise InvalidInputError("Every text to store must be a non-empty string.")
        return _Inputs(texts, metas, keys, replace=any(key is not None for key in given))

    def _plan(self, schema: KeyedSchema, inputs: _Inputs) -> list[Unit]:
        """One request per record: its text and preserved fields (key and metadata)."""
        documents = [
            (text, schema.preserved_values(key, meta, self.unknown_metadata))
            for text, key, meta in zip(inputs.texts, inputs.keys, inputs.metadatas, strict=True)
        ]
        return self.session.plan(documents) if documents else []

    def add(
        self,
        texts: Sequence[str],
        metadatas: Sequence[Mapping[str, Any]] | None = None,
        ids: Sequence[str | None] | None = None,
    ) -> list[str]:
        """Store ``texts`` under ``ids`` (a uuid4 for each missing one); returns the keys.

        Records already stored under a given id are replaced: the new ones are written first,
        then the older copies are deleted. A failure part-way raises the ingestion's
        :class:`PartialBatchError` (its ``stored`` and ``failed_units`` carry each record's key
        in their preserved fields) after the older copies of what was stored were removed.
        """
        inputs = self._inputs(texts, metadatas, ids)
        if not inputs.keys:
            return []
        units = self._plan(self.schema(), inputs)
        stored: list[StoredItem] = []
        try:
            for item in self.session.items(units, _same):
                stored.append(item)
        except PartialBatchError:
            self._replace(inputs, stored)
            raise
        self._replace(inputs, stored)
        return inputs.keys

    async def aadd(
        self,
        texts: Sequence[str],
        metadatas: Sequence[Mapping[str, Any]] | None = None,
        ids: Sequence[str | None] | None = None,
    ) -> list[str]:
        """Async twin of :meth:`add` (``max_concurrency`` writes in flight)."""
        inputs = self._inputs(texts, metadatas, ids)
        if not inputs.keys:
            return []
        units = self._plan(await self.aschema(), inputs)
        stored: list[StoredItem] = []
        try:
            async for item in self.session.aitems(units, _same):
                stored.append(item)
        except PartialBatchError:
            await self._areplace(inputs, stored)
            raise
        await self._areplace(inputs, stored)
        return inputs.keys

    def _older_copies(self, inputs: _Inputs, stored: Sequence[StoredItem]) -> Iterator[str]:
        """Expressions matching the stored keys' records other than the ones just written."""
        if not inputs.replace:
            return
        pairs = [(item.metadata[self.key_field], int(str(item.id))) for item in stored]
        for chunk in _chunks(pairs, _KEYS_PER_REQUEST):
            keys = field_in(self.key_field, [key for key, _ in chunk])
            yield f"({keys}) and not ({field_in('id', [new for _, new in chunk])})"

    def _replace(self, inputs: _Inputs, stored: Sequence[StoredItem]) -> None:
        for expression in self._older_copies(inputs, stored):
            self.session.delete(self.session.deletion(expression=expression))

    async def _areplace(self, inputs: _Inputs, stored: Sequence[StoredItem]) -> None:
        for expression in self._older_copies(inputs, stored):
            await self.session.adelete(self.session.deletion(expression=expression))

    # -- deleting -------------------------------------------------------------------------------

    def _deletions(self, ids: Sequence[str]) -> list[str]:
        return [
            field_in(self.key_field, chunk) for chunk in _chunks(check_keys(ids), _KEYS_PER_REQUEST)
        ]

    def delete(self, ids: Sequence[str]) -> int:
        """Delete every record stored under ``ids``; returns how many were deleted (missing
        ids are not an error)."""
        deleted = 0
        for expression in self._deletions(ids):
            result = self.session.delete(self.session.deletion(expression=expression))
            deleted += result.num_deleted
        return deleted

    async def adelete(self, ids: Sequence[str]) -> int:
        """Async twin of :meth:`delete`."""
        deleted = 0
        for expression in self._deletions(ids):
            result = await self.session.adelete(self.session.deletion(expression=expression))
            deleted += result.num_deleted
        return deleted

    # -- reading --------------------------------------------------------------------------------

    def _search_arguments(
        self, schema: KeyedSchema, query: str, k: int, filter: str | None
    ) -> dict[str, Any]:
        if filter is not None and (not isinstance(filter, str) or not filter.strip()):
            raise InvalidInputError(f"filter must be a Milvus expression string: {filter!r}")
        check_search_window(k, 0)
        return {
            "pipeline_id": self.search_pipeline_id,
            "query_text": query,
            "limit": k,
            "filter": filter,
            "output_fields": sorted(schema.preserved),
        }

    def _hits(self, schema: KeyedSchema, result: SearchResult) -> list[KeyedHit]:
        text_field = content_field(self.session.pipelines.get(self.search_pipeline_id))
        hits = []
        for hit in result.hits:
            text, fields = content_of(hit.fields, text_field)
            key, metadata = schema.record(fields)
            hits.append(KeyedHit(key, text, metadata, hit.distance))
        return hits

    def search(self, query: str, k: int = 4, filter: str | None = None) -> list[KeyedHit]:
        """The ``k`` records nearest ``query`` (optionally within a Milvus ``filter`` over
        preserved fields), nearest first.

        ``distance`` is the pipeline's raw value: a cosine similarity on the local server
        (larger is nearer, at most 1); on Zilliz Cloud the metric is not published, and with a
        reranker it is a relevance score (larger is better), so compare values only within one
        pipeline.
        """
        schema = self.schema()
        arguments = self._search_arguments(schema, query, k, filter)
        self.session.pipelines.require(self.client, self.search_pipeline_id, "SEARCH")
        return self._hits(schema, self.client.search(**arguments))

    async def asearch(self, query: str, k: int = 4, filter: str | None = None) -> list[KeyedHit]:
        """Async twin of :meth:`search`."""
        schema = await self.aschema()
        arguments = self._search_arguments(schema, query, k, filter)
        await self.session.pipelines.arequire(self.client, self.search_pipeline_id, "SEARCH")
        return self._hits(schema, await self.client.asearch(**arguments))

    def get(self, ids: Sequence[str]) -> list[KeyedHit]:
        """The records stored under ``ids`` (one per id found, in no set order), through the
        search pipeline filtered on the key field."""
        found: dict[str, KeyedHit] = {}
        for chunk in _chunks(check_keys(ids), _KEYS_PER_REQUEST):
            filter = field_in(self.key_field, chunk)
            for hit in self.search(_LOOKUP_QUERY, _LOOKUP_LIMIT, filter):
                found.setdefault(hit.key, _lookup(hit))
        return list(found.values())

    async def aget(self, ids: Sequence[str]) -> list[KeyedHit]:
        """Async twin of :meth:`get`."""
        found: dict[str, KeyedHit] = {}
        for chunk in _chunks(check_keys(ids), _KEYS_PER_REQUEST):
            filter = field_in(self.key_field, chunk)
            for hit in await self.asearch(_LOOKUP_QUERY, _LOOKUP_LIMIT, filter):
                found.setdefault(hit.key, _lookup(hit))
        return list(found.values())

    # -- lifecycle ------------------------------------------------------------------------------

    def close(self) -> None:
        """Close the connection pools."""
        self.session.close()

    async def aclose(self) -> None:
        """Close the pools, the current event loop's async one included."""
        await self.session.aclose()


def _same(item: StoredItem) -> StoredItem:
    return item


def _lookup(hit: KeyedHit) -> KeyedHit:
    """A hit found by key: its distance to the placeholder query means nothing."""
    return KeyedHit(hit.key, hit.text, hit.metadata)


# -- creating compatible pipelines ----------------------------------------------------------------


def keyed_preserve(
    key_field: str = DEFAULT_KEY_FIELD,
    metadata_field: str | None = DEFAULT_METADATA_FIELD,
    preserve: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """The PRESERVE fields of a keyed set: the key and metadata VarChars, then ``preserve``."""
    fields = {key_field: "VarChar"}
    if metadata_field is not None:
        fields[metadata_field] = "VarChar"
    clash = set(fields) & set(preserve or {})
    if clash:
        raise InvalidInputError(f"preserve names {sorted(clash)}, the key/metadata fields.")
    return {**fields, **(preserve or {})}


def keyed_set_arguments(options: Mapping[str, Any]) -> dict[str, Any]:
    """The arguments of :meth:`ZillizPipelinesClient.create_pipeline_set` for a keyed set,
    checked (unknown or missing options raise before any request)."""
    unknown = set(options) - _SET_KEYS
    missing = _REQUIRED_SET_KEYS - set(options)
    if unknown or missing:
        raise InvalidInputError(
            f"Unknown {sorted(unknown)} or missing {sorted(missing)} pipeline set option(s); "
            f"use {sorted(_SET_KEYS)}."
        )
    arguments = dict(options)
    key_field = arguments.pop("key_field", DEFAULT_KEY_FIELD)
    metadata_field = arguments.pop("metadata_field", DEFAULT_METADATA_FIELD)
    check_options(key_field, metadata_field)
    arguments["preserve"] = keyed_preserve(key_field, metadata_field, arguments.get("preserve"))
    arguments["collection_name"] = arguments.get("collection_name") or arguments["name"]
    return {**arguments, "kind": "text"}


def create_keyed_pipelines(
    client: ZillizPipelinesClient, **options: Unpack[KeyedSetOptions]
) -> PipelineSet:
    """Create a TEXT pipeline set :class:`KeyedRecords` can use: it preserves the key field and
    (unless ``metadata_field=None``) the metadata field as VarChars, plus ``preserve``."""
    return client.create_pipeline_set(**keyed_set_arguments(options))


async def acreate_keyed_pipelines(
    client: ZillizPipelinesClient, **options: Unpack[KeyedSetOptions]
) -> PipelineSet:
    """Async twin of :func:`create_keyed_pipelines`."""
    return await client.acreate_pipeline_set(**keyed_set_arguments(options))
