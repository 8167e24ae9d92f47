"""Milvus storage for pipeline data *and* server state, through pymilvus ``MilvusClient``.

By default Milvus Lite runs in-process on ``<data_dir>/milvus.db`` (a directory; one process per
directory); ``lite_process=True`` (what ``zilliz-bailian serve`` uses) runs it in a child process on
a core of its own (:mod:`.lite_process`). With ``milvus_uri``/``milvus_token`` any Milvus or Zilliz
cluster is used instead.

Server state (pipeline definitions, collection descriptors, Bailian sessions) lives in Milvus
itself, in one small metadata collection ``zb_meta`` (``key`` VarChar primary key, ``kind``, JSON
``body``, a dummy 2-d vector), so several server processes sharing a remote Milvus also share state.

All methods are blocking; the HTTP layer calls them from worker threads. Every write (insert,
upsert, delete, collection create/load) runs under one lock: Milvus Lite 3.2.2 does not serialise
its write-ahead log, and concurrent writers interleave their batches and corrupt it (rows
acknowledged, then lost or garbled after a crash). Reads go through :meth:`Storage._call`, writes
through :meth:`Storage._write`, and each refuses the other's methods, so no path skips the lock.
When an insert returns, Milvus Lite has written the rows to its write-ahead log and flushed them
to the operating system: they survive a crash or kill of the server process (see
``scripts/crash_test.py``), so a 200 is sent only then. Surviving a power loss would need an
fsync, which Milvus Lite 3.2.2 does only when it flushes; a flush per request costs about six
times the insert, so it is not done per request: :class:`~.sealer.Sealer` flushes in the
background instead (after ``SEAL_ROWS`` rows or ``SEAL_IDLE_S`` idle seconds), so that Milvus
seals and indexes the data and searches stop scanning a growing segment.

Ids and values reach Milvus expressions only through :mod:`.expr` (escaped literals), and
metadata keys are checked against a plain-token format on top of that.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import numbers
import os
import re
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from langchain_zilliz_bailian.server.expr import field_equals, field_in
from langchain_zilliz_bailian.server.ids import is_valid
from langchain_zilliz_bailian.server.lite_endpoint import (
    PrivateLite,
    lock_held_elsewhere,
    open_private_waiting,
    refused_for_lock,
)
from langchain_zilliz_bailian.server.lite_process import LiteProcess, open_process
from langchain_zilliz_bailian.server.meta_cache import MetaCache
from langchain_zilliz_bailian.server.sealer import Sealer

META_COLLECTION = "zb_meta"
FIELD_TYPES = ("Bool", "Int8", "Int16", "Int32", "Int64", "Float", "Double", "VarChar")
VARCHAR_MAX = 4000
TEXT_MAX = 65535
IMAGE_ID_MAX = 1024
_EPOCH_MS = 1_704_067_200_000  # 2024-01-01T00:00:00Z
META_KINDS = frozenset({"pipeline", "collection", "session", "memory", "node", "usage"})
#: Metadata keys are ids and collection names: plain tokens only (checked on every access).
META_KEY = re.compile(r"[A-Za-z0-9_-]{1,256}")
FLOAT32_MAX = 3.4028234663852886e38
#: Background flush triggers (:mod:`.sealer`): rows since the last flush, or seconds idle.
SEAL_ROWS = 2000
SEAL_IDLE_S = 1.0
#: The most records one metadata query returns (Milvus's query limit): :func:`all_meta` pages.
META_PAGE = 16384
#: Metadata kinds read on every request and cached (:mod:`.meta_cache`), and for how long.
CACHED_META_KINDS = frozenset({"pipeline", "collection"})
META_CACHE_S = 1.0
#: Seconds after a delete during which searches of that collection read Strong (see _search_level).
DELETE_STRONG_S = 5.0
#: Seconds an id node number stays leased without renewal (see NodeLease).
NODE_LEASE_S = 120.0
#: pymilvus methods that change state: only :meth:`Storage._write` may call them.
_WRITE_METHODS = frozenset(
    {
        "insert",
        "upsert",
        "delete",
        "create_collection",
        "create_index",
        "load_collection",
        "release_collection",
        "drop_collection",
        "flush",
    }
)


class StorageError(Exception):
    """A Milvus call failed (bad filter expression, unknown field, ...); message is Milvus's."""


class InvalidValueError(StorageError):
    """A row or key was refused before reaching Milvus (non-finite number, malformed key)."""


class DataDirInUseError(StorageError, RuntimeError):
    """Another server holds the data dir: Milvus Lite allows one process (and here one server) per
    data dir. A ``RuntimeError`` too, since starting a :class:`LocalServer` raised one before."""

    def __init__(self, data_dir: Path, *, same_process: bool = False) -> None:
        self.data_dir = data_dir
        shown = data_dir.absolute()
        holder = (
            "another local server in this process"
            if same_process
            else "another server process (Milvus Lite allows one process per data dir)"
        )
        super().__init__(
            f"The data dir {shown} is in use by {holder}. Stop that server, point your code at "
            "its URL instead of starting a second one, or give this server another data dir "
            "(zilliz-bailian serve --data-dir DIR, or LocalServer(data_dir=tempfile.mkdtemp()))."
        )


#: Milvus Lite directories opened by a Storage of this process (Milvus Lite would share one).
_open_local_dirs: set[str] = set()
_open_local_dirs_lock = threading.Lock()


@dataclass
class Hit:
    """One search hit: primary key, similarity and requested scalar fields."""

    id: int
    distance: float
    fields: dict[str, Any]


class IdMinter:
    """Mints unique, increasing int64 ids above 2**62 (far above 2**53: float-parsing bugs show).

    Layout: ``2**62 | ms_since_2024 << 20 | node(8 bits) << 12 | sequence(12 bits)``.
    """

    def __init__(self, node: int | None = None) -> None:
        self._lock = threading.Lock()
        self._node = secrets.randbelow(256) if node is None else node
        self._last_ms = 0
        self._seq = 0

    def mint(self, n: int) -> list[int]:
        """Return ``n`` fresh ids."""
        out: list[int] = []
        with self._lock:
            for _ in range(n):
                now = int(time.time() * 1000) - _EPOCH_MS
                if now > self._last_ms:
                    self._last_ms, self._seq = now, 0
                else:
                    self._seq += 1
                    if self._seq >= 4096:
                        self._last_ms, self._seq = self._last_ms + 1, 0
                out.append((1 << 62) | (self._last_ms << 20) | (self._node << 12) | self._seq)
        return out


def quiet_pymilvus_logging() -> None:
    """pymilvus logs a traceback per failed RPC (e.g. a bad filter); we report errors ourselves."""
    logging.getLogger("pymilvus.decorators").setLevel(logging.CRITICAL)
    logging.getLogger("pymilvus").setLevel(logging.WARNING)
    # The in-process Milvus Lite gRPC server logs unimplemented methods at ERROR.
    logging.getLogger("grpc._server").setLevel(logging.CRITICAL)
    # A locked data dir is reported by Storage with a clear message instead of a traceback.
    logging.getLogger("milvus_lite.server_manager").setLevel(logging.CRITICAL)


class Storage:
    """Thin, typed facade over ``MilvusClient`` for the collections the emulator needs."""

    def __init__(
        self,
        data_dir: Path,
        milvus_uri: str | None = None,
        milvus_token: str | None = None,
        *,
        seal_rows: int = SEAL_ROWS,
        seal_idle_s: float = SEAL_IDLE_S,
        meta_cache_s: float = META_CACHE_S,
        lite_process: bool = False,
    ) -> None:
        from pymilvus import MilvusClient

        quiet_pymilvus_logging()
        self.data_dir = data_dir
        self.local = milvus_uri is None
        if milvus_uri is None:
            data_dir.mkdir(parents=True, exist_ok=True)
            uri = str(data_dir / "milvus.db")
        else:
            uri = milvus_uri
        self.uri = uri
        self._registered: str | None = None
        if self.local:
            # Milvus Lite hands a second client in this process the same in-process server, and
            # closing either would stop it under the other: one Storage per directory.
            key = os.path.realpath(uri)
            with _open_local_dirs_lock:
                if key in _open_local_dirs:
                    raise DataDirInUseError(data_dir, same_process=True)
                _open_local_dirs.add(key)
            self._registered = key
        self._private: PrivateLite | LiteProcess | None = None
        try:
            try:
                if self.local and lite_process:  # Milvus Lite on a core of its own
                    self._private = open_process(Path(uri))
                if self.local and self._private is None:
                    self._private = open_private_waiting(Path(uri))
                self._client: Any = MilvusClient(uri=self.client_uri, token=milvus_token or "")
            except Exception as exc:
                if not self.local:
                    raise StorageError(f"Cannot connect to Milvus at {uri}: {exc}") from exc
                if lock_held_elsewhere(Path(uri)) is False and not refused_for_lock(exc):
                    raise StorageError(f"Cannot open Milvus Lite in {uri}: {exc}") from exc
                raise DataDirInUseError(data_dir) from exc
            self._loaded: set[str] = set()
            self._float32_fields: dict[str, frozenset[str]] = {}
            # The one write lock (re-entrant: update_meta writes while holding it).
            self._write_lock = threading.RLock()
            # Milvus Lite has one process per data dir, so every write to it passes this cache:
            # its entries cannot go stale and need no time limit.
            self._meta_cache = MetaCache(math.inf if self.local else meta_cache_s)
            self._deleted_at: dict[str, float] = {}
            self._node_lease: NodeLease | None = None
            self.sealer = Sealer(self._flush, rows=seal_rows, idle_s=seal_idle_s)
            self._ensure_meta()
            if self.local:  # one process per data dir: any node number is unique
                self.ids = IdMinter()
            else:  # processes sharing a Milvus server each lease their own
                self._node_lease = NodeLease(self)
                self.ids = IdMinter(self._node_lease.node)
            self.sealer.start()
        except BaseException:
            if hasattr(self, "_client") or self._private is not None:
                self.close()  # a half-opened Milvus Lite would keep the directory locked
            self._unregister()
            raise

    @property
    def node(self) -> int:
        """This process's node number: unique among live processes sharing the Milvus (0 on
        Milvus Lite, which one process holds)."""
        return self._node_lease.node if self._node_lease is not None else 0

    @property
    def client_uri(self) -> str:
        """The URI pymilvus uses for this storage (Milvus Lite: its private ``unix:`` socket)."""
        return self._private.uri if self._private is not None else self.uri

    def _unregister(self) -> None:
        if self._registered is not None:
            with _open_local_dirs_lock:
                _open_local_dirs.discard(self._registered)
            self._registered = None

    def close(self) -> None:
        """Seal what is pending, close the client (releases the Milvus Lite directory lock)."""
        try:
            lease = getattr(self, "_node_lease", None)
            if lease is not None:
                lease.release()
            if hasattr(self, "sealer"):
                self.sealer.stop(seal_pending=True)  # the next start replays less log
            if hasattr(self, "_client"):
                self._client.close()
            if self._private is not None:
                self._private.close()
                self._private = None
            elif self.local:
                # pymilvus keeps the in-process Milvus Lite server (and its directory lock) alive
                # after close(); release it so a restart reopens from disk or another process can.
                from milvus_lite.server_manager import server_manager_instance

                server_manager_instance.release_server(self.uri)
        except Exception:  # closing is best effort
            logging.getLogger(__name__).debug("closing Milvus failed", exc_info=True)
        self._unregister()

    # -- helpers -----------------------------------------------------------------------------------

    def _invoke(self, method: str, *args: Any, **kwargs: Any) -> Any:
        from pymilvus.exceptions import MilvusException

        try:
            return getattr(self._client, method)(*args, **kwargs)
        except MilvusException as exc:
            raise StorageError(str(getattr(exc, "message", exc))) from None

    def _call(self, method: str, *args: Any, **kwargs: Any) -> Any:
        """A read-only Milvus call (no lock). Writes must use :meth:`_write`."""
        if method in _WRITE_METHODS:
            raise AssertionError(f"{method} changes state: call it through Storage._write")
        return self._invoke(method, *args, **kwargs)

    def _write(self, method: str, *args: Any, **kwargs: Any) -> Any:
        """A Milvus call that changes state, under the write lock (see the module docstring)."""
        if method not in _WRITE_METHODS:
            raise AssertionError(f"{method} is not a write: call it through Storage._call")
        with self._write_lock:
            return self._invoke(method, *args, **kwargs)

    def _flush(self, name: str) -> None:
        """Seal the growing segment of ``name`` so that Milvus indexes it (see :mod:`.sealer`).

        Milvus Lite needs it under the write lock; a Milvus server flushes while it takes writes
        (a flush there takes about 0.5 s: holding the lock would stall every write).
        """
        if self.local:
            self._write("flush", name)
        else:
            self._invoke("flush", name)

    @staticmethod
    def _check_name(name: str) -> str:
        if not is_valid("collection", name):
            raise InvalidValueError(f"invalid collection name {name!r}")
        return name

    def _ensure_loaded(self, name: str) -> None:
        if self._check_name(name) in self._loaded:
            return
        with self._write_lock:
            if name not in self._loaded:
                self._write("load_collection", name)
                self._loaded.add(name)

    def _ensure_meta(self) -> None:
        from pymilvus import DataType, MilvusClient

        with self._write_lock:
            if not self._call("has_collection", META_COLLECTION):
                schema = MilvusClient.create_schema(auto_id=False, enable_dynamic_field=False)
                schema.add_field("key", DataType.VARCHAR, is_primary=True, max_length=512)
                schema.add_field("kind", DataType.VARCHAR, max_length=64)
                schema.add_field("body", DataType.VARCHAR, max_length=TEXT_MAX)
                schema.add_field("v", DataType.FLOAT_VECTOR, dim=2)
                self._create(META_COLLECTION, schema, "v", "L2")
            self._ensure_loaded(META_COLLECTION)

    # -- metadata ---------------------------------------------------------------------------------

    @staticmethod
    def _meta_key(kind: str, key: str) -> str:
        """``kind:key``, after checking both are plain tokens (they end up in expressions)."""
        if kind not in META_KINDS:
            raise InvalidValueError(f"unknown metadata kind {kind!r}")
        if not isinstance(key, str) or META_KEY.fullmatch(key) is None:
            raise InvalidValueError(f"invalid metadata key {key!r}")
        return f"{kind}:{key}"

    def put_meta(self, kind: str, key: str, body: dict[str, Any]) -> None:
        """Insert or replace one metadata record."""
        full_key = self._meta_key(kind, key)
        text = json.dumps(body, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
        if len(text) > TEXT_MAX:
            raise StorageError(f"metadata record {full_key} is too large")
        row = {"key": full_key, "kind": kind, "body": text, "v": [0.0, 0.0]}
        with self._write_lock:  # the cache follows the order of the writes
            self._write("upsert", META_COLLECTION, [row])
            self._meta_cache.wrote(full_key, text if kind in CACHED_META_KINDS else None)
        self._note_meta_write()

    def _note_meta_write(self) -> None:
        """Milvus Lite scans a growing metadata segment on every read: seal it too. A Milvus
        server seals it itself, and each flush there would cost half a second."""
        if self.local:
            self.sealer.note(META_COLLECTION, 1)

    def get_meta(self, kind: str, key: str) -> dict[str, Any] | None:
        """Fetch one metadata record, or None. Pipeline and collection records come from a cache
        (see :mod:`.meta_cache`): on a Milvus server up to ``META_CACHE_S`` old, on Milvus Lite
        always current; sessions are always read."""
        full_key = self._meta_key(kind, key)
        if kind not in CACHED_META_KINDS:
            text = self._read_meta(full_key, exact=True)
            return None if text is None else dict(json.loads(text))
        text = self._meta_cache.get(full_key)
        if text is None:
            # One reader per key: requests arriving together wait for its result, not read too.
            with self._meta_cache.filling(full_key):
                text = self._meta_cache.get(full_key)
                if text is None:
                    generation = self._meta_cache.generation()
                    text = self._read_meta(full_key, exact=False)
                    if text is None:
                        return None
                    self._meta_cache.fill(full_key, text, generation)
        body: dict[str, Any] = json.loads(text)
        return body

    def cached_meta(self, kind: str, key: str) -> dict[str, Any] | None:
        """The record :meth:`get_meta` would answer from the cache, without any Milvus read
        (None when it is not cached): lets a request skip a thread hop on the common path."""
        if kind not in CACHED_META_KINDS:
            return None
        text = self._meta_cache.get(self._meta_key(kind, key))
        return None if text is None else dict(json.loads(text))

    def _read_meta(self, full_key: str, *, exact: bool) -> str | None:
        """The stored JSON text of one record, read from Milvus.

        A Milvus server reads with Bounded staleness by default, so a record written a moment ago
        could be missed. ``exact`` reads with Strong consistency: every acknowledged write, from
        any process, is seen (sessions: a conversation continues on another worker); it costs a
        Milvus server's time tick (about 0.4 s on Milvus 2.3). Otherwise the read is Session
        (this process's own writes are seen) and only an absent record is confirmed by a Strong
        read, so a pipeline created through another process is never reported missing.
        """

        def read(level: str) -> str | None:
            bodies = self._query_meta(field_equals("key", full_key), 1, level)
            return bodies[0] if bodies else None

        if exact or self._search_level(META_COLLECTION) == "Strong":  # a delete just now
            return read("Strong")
        found = read("Session")
        return found if found is not None else read("Strong")

    def update_meta(
        self,
        kind: str,
        key: str,
        change: Callable[[dict[str, Any] | None], dict[str, Any] | None],
    ) -> dict[str, Any] | None:
        """Read-modify-write one record: ``change(old)`` returns the new body, or None to leave
        the record as it is (e.g. it was deleted meanwhile).

        The read is always exact (Strong, never the cache): a Session read on a Milvus server can
        still see a pipeline another process has just dropped, and writing it back would bring the
        pipeline back. Atomic within this process only, so records several processes change must
        not go through it (usage counts have one record per process for that reason).
        """
        with self._write_lock:
            text = self._read_meta(self._meta_key(kind, key), exact=True)
            new = change(None if text is None else json.loads(text))
            if new is not None:
                self.put_meta(kind, key, new)
            return new

    def list_meta(self, kind: str) -> list[dict[str, Any]]:
        """All metadata records of one kind."""
        if kind not in META_KINDS:
            raise InvalidValueError(f"unknown metadata kind {kind!r}")
        # Strong: every process's records.
        bodies = self._query_meta(field_equals("kind", kind), META_PAGE, "Strong")
        return [json.loads(body) for body in bodies]

    def _query_meta(self, filter_expr: str, limit: int, level: str) -> list[str]:
        """The JSON texts of the metadata records matching ``filter_expr``."""
        rows = self._query_meta_rows(filter_expr, limit, level, ["body"])
        return [str(row["body"]) for row in rows]

    def _query_meta_rows(
        self, filter_expr: str, limit: int, level: str, fields: list[str]
    ) -> list[dict[str, Any]]:
        """``fields`` of the metadata records matching ``filter_expr``.

        On Milvus Lite a query that runs while an ``upsert`` replaces a record can miss that
        record (the upsert deletes, then inserts); the background usage flush rewrites pipeline
        records, so metadata reads there take the write lock and never see a record half-replaced.
        """
        with self._write_lock if self.local else contextlib.nullcontext():
            rows: list[dict[str, Any]] = self._call(
                "query",
                META_COLLECTION,
                filter=filter_expr,
                output_fields=fields,
                limit=limit,
                consistency_level=level,
            )
        return rows

    def delete_meta(self, kind: str, key: str) -> None:
        """Remove one metadata record (no error when absent)."""
        full_key = self._meta_key(kind, key)
        with self._write_lock:
            self._write("delete", META_COLLECTION, filter=field_equals("key", full_key))
            self._meta_cache.wrote(full_key, None)
            self._deleted_at[META_COLLECTION] = time.monotonic()
        self._note_meta_write()

    # -- data collections --------------------------------------------------------------------------

    def has_collection(self, name: str) -> bool:
        """Whether the collection exists in Milvus."""
        return bool(self._call("has_collection", self._check_name(name)))

    def collection_fields(self, name: str) -> dict[str, str]:
        """Field name -> pipeline-style type name (``VarChar``, ``Int64``, ``FloatVector``...)."""
        desc = self._call("describe_collection", self._check_name(name))
        out: dict[str, str] = {}
        for f in desc["fields"]:
            type_name = getattr(f["type"], "name", str(f["type"]))
            out[f["name"]] = _PIPELINE_TYPE_NAMES.get(type_name, type_name)
            if type_name == "FLOAT_VECTOR":
                out[f["name"]] = f"FloatVector({f['params'].get('dim')})"
        return out

    def create_data_collection(
        self, name: str, kind: str, preserved: dict[str, str], dim: int
    ) -> None:
        """Create a text, doc or image collection: the documented schema, preserved fields."""
        from pymilvus import DataType, MilvusClient

        self._check_name(name)
        types = {
            "Bool": DataType.BOOL,
            "Int8": DataType.INT8,
            "Int16": DataType.INT16,
            "Int32": DataType.INT32,
            "Int64": DataType.INT64,
            "Float": DataType.FLOAT,
            "Double": DataType.DOUBLE,
        }
        schema = MilvusClient.create_schema(auto_id=False, enable_dynamic_field=False)
        schema.add_field("id", DataType.INT64, is_primary=True)
        if kind == "text":
            schema.add_field("text", DataType.VARCHAR, max_length=TEXT_MAX)
        elif kind == "image":
            schema.add_field("image_id", DataType.VARCHAR, max_length=IMAGE_ID_MAX)
        else:
            schema.add_field("doc_name", DataType.VARCHAR, max_length=1024)
            schema.add_field("chunk_id", DataType.INT64)
            schema.add_field("chunk_text", DataType.VARCHAR, max_length=TEXT_MAX)
        schema.add_field("embedding", DataType.FLOAT_VECTOR, dim=dim)
        for field_name, field_type in preserved.items():
            if field_type == "VarChar":
                schema.add_field(field_name, DataType.VARCHAR, max_length=VARCHAR_MAX)
            else:
                schema.add_field(field_name, types[field_type])
        with self._write_lock:
            if not self._call("has_collection", name):
                self._create(name, schema, "embedding", "COSINE")
        self._ensure_loaded(name)

    def _create(self, name: str, schema: Any, vector_field: str, metric: str) -> None:
        """Create, index and load a collection.

        Milvus Lite lacks ``AllocTimestamp``, which the synchronous index wait of pymilvus calls
        (then sleeps 0.5 s); locally the index is therefore created with ``sync=False``.
        """
        index = self._client.prepare_index_params()
        index.add_index(field_name=vector_field, index_type="AUTOINDEX", metric_type=metric)
        with self._write_lock:
            self._write("create_collection", name, schema=schema)
            self._write("create_index", name, index, sync=not self.local)
            self._write("load_collection", name)
            self._loaded.add(name)
            self._float32_fields.pop(name, None)

    def _float32_names(self, name: str) -> frozenset[str]:
        """Names of the FLOAT (float32) scalar fields of a collection (cached)."""
        if name not in self._float32_fields:
            desc = self._call("describe_collection", name)
            self._float32_fields[name] = frozenset(
                f["name"] for f in desc["fields"] if getattr(f["type"], "name", "") == "FLOAT"
            )
        return self._float32_fields[name]

    def _check_finite(self, name: str, rows: list[dict[str, Any]]) -> None:
        """Refuse NaN, infinities and float32 overflow in any field, vectors included."""
        float32 = self._float32_names(name)
        for row in rows:
            for field_name, value in row.items():
                if isinstance(value, float):
                    limit = FLOAT32_MAX if field_name in float32 else math.inf
                    if not (math.isfinite(value) and abs(value) <= limit):
                        raise InvalidValueError(
                            f"field {field_name!r} holds {value!r}, not a finite "
                            f"{'Float' if limit != math.inf else 'number'}"
                        )
                elif _is_vector(value) and not all(
                    math.isfinite(v) and abs(v) <= FLOAT32_MAX for v in map(float, value)
                ):
                    raise InvalidValueError(f"vector field {field_name!r} holds a non-finite value")

    def insert(self, name: str, rows: list[dict[str, Any]]) -> list[int]:
        """Insert rows (ids are minted here) and return their ids once Milvus has them.

        Rows with a non-finite number are refused (:class:`InvalidValueError`) before anything is
        written, and the insert runs under the write lock (see the module docstring).
        """
        self._ensure_loaded(name)
        if not rows:
            return []
        self._check_finite(name, rows)
        ids = self.ids.mint(len(rows))
        for row, new_id in zip(rows, ids, strict=True):
            row["id"] = new_id
        self._write("insert", name, rows)
        self.sealer.note(name, len(rows))
        return ids

    def search(
        self,
        name: str,
        vector: list[float],
        limit: int,
        offset: int,
        filter_expr: str,
        output_fields: list[str],
    ) -> list[Hit]:
        """Top-``limit`` COSINE search after ``offset``, filtered by Milvus itself."""
        return self.search_many(name, [vector], limit, offset, filter_expr, output_fields)[0]

    def search_many(
        self,
        name: str,
        vectors: list[list[float]],
        limit: int,
        offset: int,
        filter_expr: str,
        output_fields: list[str],
    ) -> list[list[Hit]]:
        """:meth:`search` for several vectors in one request: one hit list per vector."""
        self._ensure_loaded(name)
        result = self._call(
            "search",
            name,
            data=vectors,
            limit=limit,
            offset=offset,
            filter=filter_expr,
            output_fields=output_fields,
            search_params={"metric_type": "COSINE"},
            consistency_level=self._search_level(name),
        )
        if not result:
            return [[] for _ in vectors]
        if len(result) != len(vectors):
            raise StorageError(
                f"Milvus answered {len(result)} hit lists for {len(vectors)} vectors"
            )
        return [self._hits(name, raw_hits) for raw_hits in result]

    @staticmethod
    def _hits(name: str, raw_hits: Any) -> list[Hit]:
        """One vector's hits; an entity with a non-finite distance (a damaged vector) cannot be
        ranked or sent, so it is logged and skipped."""
        hits: list[Hit] = []
        for raw in raw_hits:
            distance = float(raw["distance"])
            if not math.isfinite(distance):
                logging.getLogger(__name__).warning(
                    "entity %s of %s has a non-finite distance; skipped", raw["id"], name
                )
                continue
            entity = dict(raw.get("entity") or {})
            hits.append(Hit(int(raw["id"]), distance, entity))
        return hits

    def _search_level(self, name: str) -> str:
        """On a Milvus server (Bounded staleness by default) a search right after an ingestion
        through this process would miss it: Session reads this client's own inserts. pymilvus
        does not track deletes by expression for Session, so for a few seconds after one the
        search is Strong (slower by a time tick) and never returns what was just deleted."""
        deleted_at = self._deleted_at.get(name)
        if deleted_at is not None and time.monotonic() - deleted_at < DELETE_STRONG_S:
            return "Strong"
        return "Session"

    def get_rows(self, name: str, ids: list[int], output_fields: list[str]) -> list[dict[str, Any]]:
        """The stored rows with these primary keys (an exact query, unlike a vector search)."""
        self._ensure_loaded(name)
        if not ids:
            return []
        rows = self._call(
            "query",
            name,
            filter=field_in("id", ids),
            output_fields=output_fields,
            limit=len(ids),
            consistency_level="Strong",  # exact: rows written by any process, a moment ago too
        )
        return [dict(row) for row in rows]

    def count(self, name: str, filter_expr: str) -> int:
        """Number of entities matching ``filter_expr``."""
        self._ensure_loaded(name)
        rows = self._call(
            "query",
            name,
            filter=filter_expr,
            output_fields=["count(*)"],
            consistency_level="Strong",  # as in get_rows: delete reports an exact count
        )
        return int(rows[0]["count(*)"]) if rows else 0

    def delete(self, name: str, filter_expr: str) -> int:
        """Delete entities matching ``filter_expr``; returns how many there were."""
        self._ensure_loaded(name)
        with self._write_lock:  # the count is exact: no insert can land between count and delete
            matched = self.count(name, filter_expr)
            if matched:
                self._write("delete", name, filter=filter_expr)
                self._deleted_at[name] = time.monotonic()
                self.sealer.note(name, matched)
        return matched


class NodeLease:
    """The node number (8 bits of every id, see :class:`IdMinter`) of one server process on a
    Milvus server, leased in ``zb_meta`` so that processes sharing it never mint the same id.

    A free number (no record, or one whose lease ran out) is picked at random, written with a
    token, and read back Strong; a thread renews the lease every ``NODE_LEASE_S / 4`` seconds, and
    a process that dies frees its number when the lease runs out.
    """

    def __init__(self, storage: Storage) -> None:
        self._storage = storage
        self._token = secrets.token_hex(8)
        self._stop = threading.Event()
        self.node = self._claim()
        self._thread = threading.Thread(target=self._renew, daemon=True, name="zb-node-lease")
        self._thread.start()

    def _claim(self) -> int:
        for _ in range(20):
            now = time.time()
            taken = {
                int(r["node"]) for r in self._storage.list_meta("node") if r.get("until", 0) > now
            }
            free = [n for n in range(256) if n not in taken]
            if not free:
                raise StorageError("256 server processes already share this Milvus")
            node = secrets.choice(free)
            self._write(node)
            if (self._storage.get_meta("node", str(node)) or {}).get("token") == self._token:
                return node
        raise StorageError("could not lease an id node number in zb_meta")

    def _write(self, node: int) -> None:
        body = {"node": node, "token": self._token, "until": time.time() + NODE_LEASE_S}
        self._storage.put_meta("node", str(node), body)

    def _renew(self) -> None:
        while not self._stop.wait(NODE_LEASE_S / 4):
            try:
                self._write(self.node)
            except Exception:  # Milvus unreachable for a moment: the next renewal retries
                logging.getLogger(__name__).warning("renewing id node %s failed", self.node)

    def release(self) -> None:
        """Stop renewing and free the number at once."""
        self._stop.set()
        self._thread.join(timeout=5)
        self._storage.delete_meta("node", str(self.node))


def _is_vector(value: Any) -> bool:
    """A dense vector as an embedder may return it: a list/tuple of numbers or a numpy array."""
    if hasattr(value, "dtype") and hasattr(value, "shape"):
        return True
    return (
        isinstance(value, list | tuple)
        and bool(value)
        and isinstance(value[0], numbers.Real)
        and not isinstance(value[0], bool)
    )


_PIPELINE_TYPE_NAMES = {
    "BOOL": "Bool",
    "INT8": "Int8",
    "INT16": "Int16",
    "INT32": "Int32",
    "INT64": "Int64",
    "FLOAT": "Float",
    "DOUBLE": "Double",
    "VARCHAR": "VarChar",
}


def default_data_dir() -> Path:
    """``$ZILLIZ_BAILIAN_DATA_DIR`` or the user cache dir (``platformdirs``)."""
    env = os.environ.get("ZILLIZ_BAILIAN_DATA_DIR")
    if env:
        return Path(env).expanduser()
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("langchain-zilliz-bailian")) / "server"


#: Records one :func:`all_meta` query reads (Milvus answers at most 16,384 per query).
def all_meta(storage: Storage, kind: str, page: int = META_PAGE) -> list[dict[str, Any]]:
    """Every metadata record of ``kind``, however many (:meth:`Storage.list_meta` stops at one
    query's 16,384). A key range whose query fills a page is split at the median key it returned
    and both halves read again, so nothing assumes Milvus returns keys in order; each record lies
    in exactly one range that was read whole, so it is returned once."""
    from langchain_zilliz_bailian.server.expr import all_of, string_literal

    if kind not in META_KINDS:
        raise InvalidValueError(f"unknown metadata kind {kind!r}")
    if page < 2:
        raise ValueError("page must be at least 2")
    records: list[dict[str, Any]] = []
    ranges: list[tuple[str | None, str | None]] = [(None, None)]  # [low, high) of full keys
    while ranges:
        low, high = ranges.pop()
        bounds = [field_equals("kind", kind)]
        bounds += [f"key >= {string_literal(low)}"] if low is not None else []
        bounds += [f"key < {string_literal(high)}"] if high is not None else []
        rows = storage._query_meta_rows(all_of(*bounds), page, "Strong", ["key", "body"])
        if len(rows) < page:
            records += [json.loads(str(row["body"])) for row in rows]
            continue
        keys = sorted(str(row["key"]) for row in rows)
        middle = keys[len(keys) // 2]  # above the smallest key read: both halves hold fewer
        ranges += [(middle, high), (low, middle)]
    return records
