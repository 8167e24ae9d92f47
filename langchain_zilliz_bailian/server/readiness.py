"""Readiness: whether a search can be served now, found out by real queries (``GET /ready``).

``/health`` only says the process answers HTTP. After a restart Milvus Lite may still be
replaying its log, and a search then waits until it is done; so readiness runs a strongly
consistent query on the metadata collection and, once per collection, a query on every data
collection a pipeline names (which loads it). One probe runs at a time; a probe that takes longer
than the timeout answers "not ready" and keeps running, and the next check waits for it again.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from langchain_zilliz_bailian.server.storage import Storage

DEFAULT_PROBE_TIMEOUT_S = 2.0


@dataclass
class ReadinessState:
    """The answer of one check."""

    ready: bool
    reason: str = ""


class Readiness:
    """Single-flight readiness probe over :class:`Storage`."""

    def __init__(self, storage: Storage, timeout_s: float = DEFAULT_PROBE_TIMEOUT_S) -> None:
        self.storage = storage
        self.timeout_s = timeout_s
        self._warm: set[str] = set()
        self._probe: asyncio.Future[None] | None = None

    def _collections(self) -> set[str]:
        """Every data collection a stored pipeline names (a real query on the metadata)."""
        names: set[str] = set()
        for record in self.storage.list_meta("pipeline"):
            pipeline = record.get("pipeline") or {}
            for holder in (pipeline, *pipeline.get("functions", [])):
                name = holder.get("collectionName")
                if isinstance(name, str):
                    names.add(name)
        return names

    def probe(self) -> None:
        """Blocking: query the metadata, then load and query each data collection not yet seen."""
        for name in sorted(self._collections() - self._warm):
            if self.storage.has_collection(name):
                self.storage.count(name, "id < 0")  # loads the collection; matches nothing
            self._warm.add(name)

    async def check(self) -> ReadinessState:
        """Ready when a probe completes within the timeout."""
        if self._probe is None or self._probe.done():
            self._probe = asyncio.get_running_loop().run_in_executor(None, self.probe)
            # A probe abandoned by a timed-out check may fail unobserved: retrieve its error.
            self._probe.add_done_callback(lambda f: f.cancelled() or f.exception())
        try:
            await asyncio.wait_for(asyncio.shield(self._probe), self.timeout_s)
        except asyncio.TimeoutError:
            return ReadinessState(False, "storage is still loading (queries do not answer yet)")
        except Exception as exc:
            return ReadinessState(False, f"storage query failed: {type(exc).__name__}")
        return ReadinessState(True)
