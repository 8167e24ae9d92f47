"""Pipeline usage counters kept off the request path: added in memory, persisted in batches.

Every run adds its embedding (and rerank) tokens to an in-memory tally, which costs a dict update;
:meth:`UsageCounters.flush` writes the tally into the stored pipeline records (one atomic
``update_meta`` per pipeline), every few seconds from the server's lifespan and once more at a
clean shutdown. Until then :meth:`UsageCounters.overlay` adds the pending counts to a pipeline read
from storage, so ``describe`` and ``list`` stay exact within this process.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from langchain_zilliz_bailian.server.storage import Storage

DEFAULT_FLUSH_INTERVAL_S = 5.0
logger = logging.getLogger("langchain_zilliz_bailian.server")


class UsageCounters:
    """Per-pipeline ``embedding`` and ``rerank`` tokens not yet written to storage."""

    def __init__(self, storage: Storage, interval_s: float = DEFAULT_FLUSH_INTERVAL_S) -> None:
        self.storage = storage
        self.interval_s = interval_s
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

    def overlay(self, pipeline: dict[str, Any]) -> dict[str, Any]:
        """``pipeline`` with its pending counts added to ``totalUsage`` (a copy when changed)."""
        with self._pending_lock:
            tally = Counter(self._pending.get(str(pipeline.get("pipelineId")), Counter()))
        if not tally:
            return pipeline
        usage = dict(pipeline.get("totalUsage") or {})
        usage["embedding"] = int(usage.get("embedding", 0)) + tally["embedding"]
        if "rerank" in usage:
            usage["rerank"] = int(usage["rerank"]) + tally["rerank"]
        return {**pipeline, "totalUsage": usage}

    def discard(self, pipeline_id: str) -> None:
        """Forget a dropped pipeline's tally (its record is gone)."""
        with self._pending_lock:
            self._pending.pop(pipeline_id, None)

    def flush(self) -> int:
        """Write every pending tally to its pipeline record; return how many were written.

        A tally whose write fails goes back into the pending counts (and the error is raised),
        so a later flush retries it and nothing is lost.
        """
        with self._persist_lock:
            with self._pending_lock:
                batch, self._pending = self._pending, {}
            done: list[str] = []
            try:
                for pipeline_id, tally in batch.items():
                    self.storage.update_meta("pipeline", pipeline_id, _adder(tally))
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


def _adder(tally: Counter[str]) -> Any:
    """The ``update_meta`` change that adds ``tally`` to a stored pipeline's ``totalUsage``."""

    def add(record: dict[str, Any] | None) -> dict[str, Any] | None:
        if record is None:  # dropped meanwhile: do not bring it back
            return None
        usage = record["pipeline"]["totalUsage"]
        usage["embedding"] = int(usage.get("embedding", 0)) + tally["embedding"]
        if "rerank" in usage:
            usage["rerank"] = int(usage["rerank"]) + tally["rerank"]
        return record

    return add
