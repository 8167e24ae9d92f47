"""A short-lived, process-local cache of metadata records read on every request.

Every search reads its pipeline record and its collection descriptor from Milvus (a Strong
query, about 2 ms each on Milvus Lite): more than the vector search itself on a small collection.
:class:`MetaCache` keeps the JSON text of recently read records for ``ttl_s`` seconds. This
process's own writes replace or drop the entry at once, so one server process always reads its
own writes; another process sharing the Milvus (``--workers``) sees a change at most ``ttl_s``
late (on Milvus Lite, which one process holds, the TTL is unlimited). Only found records are kept
(a record created elsewhere is seen at once), a read that raced with a write of the same key is not
stored (see :meth:`MetaCache.generation`), and concurrent misses of one key make one read
(:meth:`MetaCache.filling`), not one each.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager


class MetaCache:
    """``full key -> (stored at, JSON text)`` with a time-to-live and write-aware filling."""

    def __init__(self, ttl_s: float) -> None:
        self.ttl_s = ttl_s
        self._entries: dict[str, tuple[float, str]] = {}
        self._generation = 0
        self._lock = threading.Lock()
        self._filling: dict[str, tuple[threading.Lock, int]] = {}  # key -> (lock, holders)

    def get(self, key: str) -> str | None:
        """The cached text of ``key`` if it is younger than the TTL, else None."""
        if self.ttl_s <= 0:
            return None
        with self._lock:
            entry = self._entries.get(key)
        if entry is None or time.monotonic() - entry[0] > self.ttl_s:
            return None
        return entry[1]

    @contextmanager
    def filling(self, key: str) -> Iterator[None]:
        """Hold the one right to read ``key`` from Milvus; others wait, then find it cached."""
        with self._lock:
            lock, holders = self._filling.get(key, (threading.Lock(), 0))
            self._filling[key] = (lock, holders + 1)
        try:
            with lock:
                yield
        finally:
            with self._lock:
                lock, holders = self._filling[key]
                if holders == 1:
                    del self._filling[key]
                else:
                    self._filling[key] = (lock, holders - 1)

    def generation(self) -> int:
        """Read before a Milvus read; pass to :meth:`fill` so a racing write wins."""
        with self._lock:
            return self._generation

    def fill(self, key: str, text: str, generation: int) -> None:
        """Keep ``text`` read from Milvus, unless a write happened since ``generation``."""
        if self.ttl_s <= 0:
            return
        with self._lock:
            if generation == self._generation:
                self._entries[key] = (time.monotonic(), text)

    def wrote(self, key: str, text: str | None) -> None:
        """This process wrote ``key`` (``None``: deleted it)."""
        with self._lock:
            self._generation += 1
            if text is None or self.ttl_s <= 0:
                self._entries.pop(key, None)
            else:
                self._entries[key] = (time.monotonic(), text)
