"""The metadata cache every search reads through: exact on Milvus Lite, one read per miss."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import pytest

from langchain_zilliz_bailian.server import meta_cache
from langchain_zilliz_bailian.server.storage import Storage


@pytest.fixture
def storage(tmp_path: Path):
    opened = Storage(tmp_path)
    try:
        yield opened
    finally:
        opened.close()


def _count_reads(storage: Storage, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    reads: list[str] = []
    real = storage._query_meta

    def counted(filter_expr: str, limit: int, level: str) -> list[str]:
        reads.append(filter_expr)
        time.sleep(0.05)  # a slow read, so that every thread arrives while it runs
        return real(filter_expr, limit, level)

    monkeypatch.setattr(storage, "_query_meta", counted)
    return reads


def test_concurrent_misses_of_one_record_make_one_read(
    storage: Storage, monkeypatch: pytest.MonkeyPatch
) -> None:
    storage.put_meta("pipeline", "pipe-1", {"pipelineId": "pipe-1"})
    storage._meta_cache = meta_cache.MetaCache(60.0)  # empty, as after a restart
    reads = _count_reads(storage, monkeypatch)
    found: list[Any] = []
    start = threading.Barrier(16)

    def get() -> None:
        start.wait()
        found.append(storage.get_meta("pipeline", "pipe-1"))

    threads = [threading.Thread(target=get) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert found == [{"pipelineId": "pipe-1"}] * 16
    assert len(reads) == 1


def test_milvus_lite_entries_do_not_expire_and_follow_this_process_writes(
    storage: Storage, monkeypatch: pytest.MonkeyPatch
) -> None:
    storage.put_meta("collection", "c1", {"dim": 384})
    reads = _count_reads(storage, monkeypatch)
    entries = storage._meta_cache._entries
    entries["collection:c1"] = (time.monotonic() - 7 * 24 * 3600, entries["collection:c1"][1])
    assert storage.get_meta("collection", "c1") == {"dim": 384}  # a week old, still current
    storage.put_meta("collection", "c1", {"dim": 768})
    assert storage.get_meta("collection", "c1") == {"dim": 768}
    storage.delete_meta("collection", "c1")
    assert storage.get_meta("collection", "c1") is None  # a deleted record is read, not cached
    assert len(reads) == 1


def test_sessions_are_never_cached(storage: Storage, monkeypatch: pytest.MonkeyPatch) -> None:
    storage.put_meta("session", "0" * 32, {"turns": []})
    reads = _count_reads(storage, monkeypatch)
    for _ in range(3):
        assert storage.get_meta("session", "0" * 32) == {"turns": []}
    assert len(reads) == 3
