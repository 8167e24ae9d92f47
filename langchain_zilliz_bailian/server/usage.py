"""Pipeline usage counters kept off the request path: added in memory, persisted in batches.

Every run adds its embedding (and rerank) tokens to an in-memory tally, which costs a dict update;
:meth:`UsageCounters.flush` adds the tally to this process's own ``usage`` record of each pipeline
(key ``<pipeline id>--n<node>``, the node number only one live process holds), every few seconds
from the server's lifespan and once more at a clean shutdown. No process ever rewrites a pipeline
record or another process's counts, so flushes of processes sharing one Milvus cannot undo each
other's counts or bring back a pipeline another process dropped. :meth:`UsageCounters.overlay`
adds every process's stored counts and this process's pending ones to a pipeline read from
storage, so ``describe`` and ``list`` stay exact within this process.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from langchain_zilliz_bailian.server.storage import META_PAGE, Storage, all_meta

DEFAULT_FLUSH_INTERVAL_S = 5.0
logger = logging.getLogger("langchain_zilliz_bailian.server")


class UsageCounters:
    """Per-pipeline ``embedding`` and ``rerank`` tokens not yet written to storage."""

    def __init__(
        self,
        storage: Storage,
        interval_s: float = DEFAULT_FLUSH_INTERVAL_S,
        *,
        page: int = META_PAGE,
    ) -> None:
        self.storage = storage
        self.interval_s = interval_s
        #: Usage records read per storage query (every record is read, however many).
        self.page = page
        self.node = storage.node
        self._pending: dict[str, Counter[str]] = {}
        self._pending_lock = threading.Lock()  # held for a dict update only (the request path)
        self._persist_lock = threading.RLock()  # a flush, or a read that overlays the tally

    def add(self, pipeline_id: str, embedding: int, rerank: int = 0) -> None:
        """Count one run's tokens (no storage call)."""
        if not embedding and not rerank:
            return
        with self._pending_lock:
            tally = self._pending.setdefault(pipeline_id, Counter())
            tally["embedding"] += embedding
            tally["rerank"] += rerank

    @contextmanager
    def consistent_read(self) -> Iterator[None]:
        """Hold off flushes while a pipeline is read from storage and overlaid, so the tally is
        counted exactly once (neither missing in flight nor counted twice)."""
        with self._persist_lock:
            yield

    def stored(self) -> dict[str, Counter[str]]:
        """Every process's persisted counts, per pipeline id (a read of all usage records, as many
        queries as they need)."""
        totals: dict[str, Counter[str]] = {}
        for record in all_meta(self.storage, "usage", self.page):
            tally = totals.setdefault(str(record.get("pipelineId")), Counter())
            tally["embedding"] += int(record.get("embedding", 0))
            tally["rerank"] += int(record.get("rerank", 0))
        return totals

    def overlay(
        self, pipeline: dict[str, Any], stored: dict[str, Counter[str]] | None = None
    ) -> dict[str, Any]:
        """``pipeline`` with the stored usage records (``stored``, read when not given) and this
        process's pending counts added to ``totalUsage`` (a copy when changed)."""
        pipeline_id = str(pipeline.get("pipelineId"))
        if stored is None:
            stored = self.stored()
        tally = Counter(stored.get(pipeline_id, Counter()))
        with self._pending_lock:
            tally.update(self._pending.get(pipeline_id, Counter()))
        if not +tally:
            return pipeline
        # Counts written into the pipeline record itself by servers before per-process records.
        usage = dict(pipeline.get("totalUsage") or {})
        usage["embedding"] = int(usage.get("embedding", 0)) + tally["embedding"]
        if "rerank" in usage:
            usage["rerank"] = int(usage["rerank"]) + tally["rerank"]
        return {**pipeline, "totalUsage": usage}

    def forget(self, pipeline_id: str) -> None:
        """Delete every process's usage records of a dropped pipeline and this process's tally.

        A process flushing at the same moment may write its record again; such a record names a
        pipeline id that no longer exists (ids are never reused) and is never shown.
        """
        self.discard(pipeline_id)
        for record in all_meta(self.storage, "usage", self.page):
            if record.get("pipelineId") == pipeline_id and isinstance(record.get("key"), str):
                self.storage.delete_meta("usage", record["key"])

    def discard(self, pipeline_id: str) -> None:
        """Forget a dropped pipeline's tally (its record is gone)."""
        with self._pending_lock:
            self._pending.pop(pipeline_id, None)

    def flush(self) -> int:
        """Add every pending tally to this process's usage records; return how many were written.

        A tally whose write fails goes back into the pending counts (and the error is raised),
        so a later flush retries it and nothing is lost.
        """
        with self._persist_lock:
            with self._pending_lock:
                batch, self._pending = self._pending, {}
            done: list[str] = []
            try:
                for pipeline_id, tally in batch.items():
                    key = f"{pipeline_id}--n{self.node}"
                    self.storage.update_meta("usage", key, _adder(key, pipeline_id, tally))
                    done.append(pipeline_id)
            except BaseException:
                with self._pending_lock:
                    for pipeline_id, tally in batch.items():
                        if pipeline_id not in done:
                            self._pending.setdefault(pipeline_id, Counter()).update(tally)
                raise
            return len(done)

    async def flush_periodically(self) -> None:
        """Flush every ``interval_s`` until cancelled (a failed flush is logged and retried)."""
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(self.interval_s)
            try:
                await loop.run_in_executor(None, self.flush)
            except Exception:
                logger.warning("persisting usage counters failed; will retry", exc_info=True)


def _adder(key: str, pipeline_id: str, tally: Counter[str]) -> Any:
    """The ``update_meta`` change that adds ``tally`` to one process's usage record."""

    def add(record: dict[str, Any] | None) -> dict[str, Any]:
        record = record or {"key": key, "pipelineId": pipeline_id, "embedding": 0, "rerank": 0}
        record["embedding"] = int(record.get("embedding", 0)) + tally["embedding"]
        record["rerank"] = int(record.get("rerank", 0)) + tally["rerank"]
        return record

    return add
