"""Background sealing (issue 10, item 3) and the metadata read cache of the search path."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

from langchain_zilliz_bailian.server.meta_cache import MetaCache
from langchain_zilliz_bailian.server.sealer import MAX_FAILURES, Sealer
from langchain_zilliz_bailian.server.storage import Storage


def _wait(condition: object, timeout_s: float = 10.0) -> None:
    assert callable(condition)
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.02)


class _Flushes:
    def __init__(self) -> None:
        self.names: list[str] = []
        self.fail: set[str] = set()
        self.gate: threading.Event | None = None
        self.entered = threading.Event()

    def __call__(self, name: str) -> None:
        self.entered.set()
        if self.gate is not None:
            self.gate.wait(5)
        if name in self.fail:
            raise RuntimeError("engine busy")
        self.names.append(name)


def test_a_full_collection_is_flushed_without_waiting_for_idle() -> None:
    flushes = _Flushes()
    sealer = Sealer(flushes, rows=100, idle_s=3600, tick_s=3600)
    sealer.start()
    try:
        sealer.note("small", 10)
        sealer.note("big", 60)
        assert flushes.names == []
        sealer.note("big", 40)  # reaches the size trigger: wakes the thread at once
        # the thread counts the rows flushed just after the flush returns
        _wait(lambda: flushes.names == ["big"] and sealer.pending() == {"small": 10})
    finally:
        sealer.stop(seal_pending=False)
    assert flushes.names == ["big"]


def test_an_idle_collection_is_flushed_and_stop_seals_the_rest() -> None:
    flushes = _Flushes()
    sealer = Sealer(flushes, rows=10**6, idle_s=0.05, tick_s=0.01)
    sealer.start()
    sealer.note("quiet", 3)
    _wait(lambda: flushes.names == ["quiet"] and sealer.pending() == {})
    sealer.stop(seal_pending=True)
    assert flushes.names == ["quiet"]  # nothing pending: nothing more flushed
    sealer.note("late", 1)
    sealer.stop(seal_pending=True)
    assert flushes.names == ["quiet", "late"]


def test_rows_written_during_a_flush_stay_pending() -> None:
    flushes = _Flushes()
    flushes.gate = threading.Event()
    sealer = Sealer(flushes, rows=5, idle_s=3600, tick_s=3600)
    sealer.note("c", 5)
    worker = threading.Thread(target=sealer.seal_due)
    worker.start()
    assert flushes.entered.wait(5)
    sealer.note("c", 2)  # lands while the flush of the first 5 runs
    flushes.gate.set()
    worker.join(5)
    assert flushes.names == ["c"]
    assert sealer.pending() == {"c": 2}


def test_a_collection_that_keeps_failing_is_given_up() -> None:
    flushes = _Flushes()
    flushes.fail.add("gone")
    sealer = Sealer(flushes, rows=1, idle_s=3600, tick_s=3600)
    sealer.note("gone", 1)
    for _ in range(MAX_FAILURES - 1):
        assert sealer.seal_due() == 0
        assert sealer.pending() == {"gone": 1}
    assert sealer.seal_due() == 0
    assert sealer.pending() == {}


def test_bad_triggers_are_refused() -> None:
    with pytest.raises(ValueError):
        Sealer(lambda name: None, rows=0)
    with pytest.raises(ValueError):
        Sealer(lambda name: None, idle_s=0)


def test_storage_flushes_what_it_ingests_and_milvus_indexes_it(tmp_path: Path) -> None:
    storage = Storage(tmp_path, seal_rows=50, seal_idle_s=3600)
    try:
        storage.create_data_collection("sealed", "text", {}, 4)
        rows = [{"text": f"t{i}", "embedding": [1.0, float(i), 0.0, 0.5]} for i in range(120)]
        storage.insert("sealed", rows)
        _wait(lambda: storage.sealer.pending().get("sealed") is None, 20)
        info = storage._client.describe_index("sealed", "embedding")
        assert int(info["indexed_rows"]) == 120, info
        hits = storage.search("sealed", [1.0, 3.0, 0.0, 0.5], 3, 0, "", ["text"])
        assert len(hits) == 3
    finally:
        storage.close()


def test_metadata_reads_see_this_process_writes_at_once(tmp_path: Path) -> None:
    storage = Storage(tmp_path, meta_cache_s=3600)
    try:
        storage.put_meta("pipeline", "p1", {"n": 1})
        assert storage.get_meta("pipeline", "p1") == {"n": 1}
        storage.put_meta("pipeline", "p1", {"n": 2})
        assert storage.get_meta("pipeline", "p1") == {"n": 2}
        storage.update_meta("pipeline", "p1", lambda old: {"n": (old or {"n": 0})["n"] + 1})
        assert storage.get_meta("pipeline", "p1") == {"n": 3}
        storage.delete_meta("pipeline", "p1")
        assert storage.get_meta("pipeline", "p1") is None
        # A cached record handed out is a copy: changing it changes nothing stored.
        storage.put_meta("collection", "c1", {"fields": ["a"]})
        storage.get_meta("collection", "c1")["fields"].append("b")  # type: ignore[index]
        assert storage.get_meta("collection", "c1") == {"fields": ["a"]}
    finally:
        storage.close()


def test_metadata_cache_expires_and_never_keeps_a_read_older_than_a_write(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from langchain_zilliz_bailian.server import meta_cache

    now = [1000.0]
    monkeypatch.setattr(meta_cache, "time", SimpleNamespace(monotonic=lambda: now[0]))
    cache = MetaCache(ttl_s=0.05)
    before = cache.generation()
    cache.wrote("pipeline:p", '{"n": 2}')
    cache.fill("pipeline:p", '{"n": 1}', before)  # read before the write: not kept
    now[0] += 0.04
    assert cache.get("pipeline:p") == '{"n": 2}'
    now[0] += 0.02
    assert cache.get("pipeline:p") is None
    cache.fill("pipeline:p", '{"n": 3}', cache.generation())
    assert cache.get("pipeline:p") == '{"n": 3}'
    cache.wrote("pipeline:p", None)
    assert cache.get("pipeline:p") is None
    assert MetaCache(ttl_s=0).get("x") is None
