"""Honest health (issue 10, item 5): ``/ready`` only once searches can be served, and usage
counters off the search path (in memory, persisted periodically and at a clean shutdown)."""

from __future__ import annotations

import asyncio
import gc
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from langchain_zilliz_bailian.server import LocalServer, StorageError, create_app
from langchain_zilliz_bailian.server.readiness import Readiness
from langchain_zilliz_bailian.server.storage import Storage
from langchain_zilliz_bailian.server.usage import UsageCounters
from tests.server.conftest import make_text_pipelines, ok, search, unique


@pytest.fixture(scope="module")
def pipes(http: httpx.Client) -> dict[str, str]:
    collection = unique("health")
    made = make_text_pipelines(http, collection)
    data = {"text_list": ["Milvus answers searches", "usage is counted"], "year": 1, "source": "s"}
    ok(http.post(f"/v1/pipelines/{made['ingestion']}/run", json={"data": data}))
    return {"collection": collection, **made}


@pytest.fixture
def storage(server: LocalServer) -> Storage:
    """The session server's storage."""
    found: Storage = server.app.state.context.storage
    return found


def stored_usage(server: LocalServer, pipeline_id: str) -> dict[str, int]:
    """``totalUsage`` as persisted (not as described): every process's usage records."""
    storage = server.app.state.context.storage
    usage = {"embedding": 0, "rerank": 0}
    for record in storage.list_meta("usage"):
        if record["pipelineId"] == pipeline_id:
            usage["embedding"] += record["embedding"]
            usage["rerank"] += record["rerank"]
    return usage


def test_ready_once_storage_answers_and_needs_no_key(server: LocalServer) -> None:
    resp = httpx.get(f"{server.url}/ready")
    assert resp.status_code == 200 and resp.json() == {"status": "ready"}


def test_not_ready_while_storage_does_not_answer_then_ready(
    server: LocalServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    ctx = server.app.state.context
    storage = ctx.storage
    real = storage.list_meta

    def slow(kind: str) -> Any:
        time.sleep(1.0)  # Milvus Lite replaying its log after a restart
        return real(kind)

    monkeypatch.setattr(ctx.readiness, "timeout_s", 0.2)
    monkeypatch.setattr(storage, "list_meta", slow)
    resp = httpx.get(f"{server.url}/ready")
    assert resp.status_code == 503
    assert resp.json()["status"] == "not ready" and "loading" in resp.json()["reason"]
    assert httpx.get(f"{server.url}/health").status_code == 200  # alive all the same
    monkeypatch.setattr(storage, "list_meta", real)
    deadline = time.monotonic() + 5
    while httpx.get(f"{server.url}/ready").status_code != 200:
        assert time.monotonic() < deadline
        time.sleep(0.1)

    def broken(kind: str) -> Any:
        raise StorageError("down")

    monkeypatch.setattr(storage, "list_meta", broken)
    resp = httpx.get(f"{server.url}/ready")
    assert resp.status_code == 503 and resp.json()["reason"] == "storage query failed: StorageError"


def test_readiness_loads_every_collection_a_pipeline_names(
    server: LocalServer, pipes: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    storage = server.app.state.context.storage
    queried: list[str] = []
    real = storage.count
    monkeypatch.setattr(storage, "count", lambda name, f: queried.append(name) or real(name, f))  # type: ignore[func-returns-value]
    readiness = Readiness(storage)
    readiness.probe()
    assert pipes["collection"] in queried and len(queried) == len(set(queried))
    queried.clear()
    readiness.probe()  # once per collection
    assert queried == []


def test_searches_write_nothing_and_usage_stays_exact(
    server: LocalServer,
    storage: Storage,
    http: httpx.Client,
    pipes: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The periodic flush (every 5 s) is held off: its writes are not the search path's.
    counters = server.app.state.context.pipelines.usage_counters
    monkeypatch.setattr(counters, "flush", lambda: 0)
    with counters.consistent_read():  # a flush already under way has finished
        pass
    writes: list[str] = []
    for method in ("update_meta", "put_meta"):
        real = getattr(storage, method)

        def spy(kind: str, *a: Any, _m: str = method, _r: Any = real, **k: Any) -> Any:
            if kind != "node":  # the id-node lease renewal (on a Milvus server) runs on its own
                writes.append(f"{_m} {kind}")
            return _r(kind, *a, **k)

        monkeypatch.setattr(storage, method, spy)
    before = ok(http.get(f"/v1/pipelines/{pipes['search']}"))["totalUsage"]["embedding"]
    spent = sum(
        ok(search(http, pipes["search"], f"query number {i}"))["usage"]["embedding"]
        for i in range(5)
    )
    assert writes == []  # no bookkeeping write on the search path
    after = ok(http.get(f"/v1/pipelines/{pipes['search']}"))["totalUsage"]["embedding"]
    assert after - before == spent > 0
    listed = ok(http.get("/v1/pipelines", params={"projectId": "proj-0123456789abcdef"}))
    mine = next(p for p in listed if p["pipelineId"] == pipes["search"])
    assert mine["totalUsage"]["embedding"] == after


def test_usage_is_persisted_periodically(server: LocalServer, pipes: dict[str, str]) -> None:
    storage = server.app.state.context.storage
    # The server's own pending counts (the fixture's searches) are written first, so its
    # periodic flush cannot land inside the window measured here.
    server.app.state.context.pipelines.usage_counters.flush()
    counters = UsageCounters(storage, interval_s=0.05)
    before = stored_usage(server, pipes["search"])
    counters.add(pipes["search"], 7, 2)

    async def run_a_while() -> None:
        task = asyncio.create_task(counters.flush_periodically())
        await asyncio.sleep(0.5)
        task.cancel()

    asyncio.run(run_a_while())
    after = stored_usage(server, pipes["search"])
    assert after["embedding"] == before["embedding"] + 7
    assert after["rerank"] == before["rerank"] + 2
    assert counters.flush() == 0  # nothing left pending


def test_a_failed_flush_keeps_the_counts_for_the_next(
    server: LocalServer, pipes: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    storage = server.app.state.context.storage
    server.app.state.context.pipelines.usage_counters.flush()  # nothing of the server's pending
    counters = UsageCounters(storage)
    before = stored_usage(server, pipes["ingestion"])["embedding"]
    counters.add(pipes["ingestion"], 5)
    with monkeypatch.context() as patch:
        patch.setattr(storage, "update_meta", lambda *a, **k: (_ for _ in ()).throw(StorageError()))
        with pytest.raises(StorageError):
            counters.flush()
    pending_only = {"pipelineId": pipes["ingestion"], "totalUsage": {"embedding": 1}}
    assert counters.overlay(pending_only, stored={}) == {
        "pipelineId": pipes["ingestion"],
        "totalUsage": {"embedding": 6},
    }
    assert counters.flush() == 1
    assert stored_usage(server, pipes["ingestion"])["embedding"] == before + 5


def test_usage_counts_survive_a_clean_shutdown(tmp_path: Path) -> None:
    def client(srv: LocalServer) -> httpx.Client:
        headers = {"Authorization": f"Bearer {srv.api_key}"}
        return httpx.Client(base_url=srv.url, headers=headers, timeout=30)

    with LocalServer(data_dir=tmp_path, embedding_fallback=True) as srv, client(srv) as http:
        made = make_text_pipelines(http, "kept")
        data = {"text_list": ["one two three"], "year": 1, "source": "s"}
        ingested = ok(http.post(f"/v1/pipelines/{made['ingestion']}/run", json={"data": data}))
        searched = ok(search(http, made["search"], "two"))
        assert stored_usage(srv, made["search"])["embedding"] == 0  # still only in memory
    with LocalServer(data_dir=tmp_path) as srv, client(srv) as http:
        ing = ok(http.get(f"/v1/pipelines/{made['ingestion']}"))["totalUsage"]
        srch = ok(http.get(f"/v1/pipelines/{made['search']}"))["totalUsage"]
    assert ing["embedding"] == ingested["usage"]["embedding"] > 0
    assert srch == {"embedding": searched["usage"]["embedding"], "rerank": 0}


def test_each_process_counts_in_its_own_record_so_flushes_never_rewrite_a_pipeline(
    server: LocalServer, http: httpx.Client, storage: Storage, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two processes sharing one Milvus (two nodes) both count one pipeline: the counts add up,
    the pipeline record is never rewritten, and a late flush cannot bring a dropped one back."""
    made = make_text_pipelines(http, unique("usage_nodes"))
    pipeline_id = made["search"]
    server.app.state.context.pipelines.usage_counters.flush()
    first, second = UsageCounters(storage), UsageCounters(storage)
    second.node = 7  # what a second server process on the same Milvus would hold
    rewritten: list[str] = []
    real_update = storage.update_meta

    def spy(kind: str, key: str, change: Any) -> Any:
        rewritten.append(kind)
        return real_update(kind, key, change)

    monkeypatch.setattr(storage, "update_meta", spy)
    before = ok(http.get(f"/v1/pipelines/{pipeline_id}"))["totalUsage"]
    first.add(pipeline_id, 3, 1)
    second.add(pipeline_id, 4, 2)
    assert first.flush() == second.flush() == 1
    assert rewritten == ["usage", "usage"]
    after = ok(http.get(f"/v1/pipelines/{pipeline_id}"))["totalUsage"]
    assert after == {"embedding": before["embedding"] + 7, "rerank": before["rerank"] + 3}
    record = storage.get_meta("pipeline", pipeline_id)
    assert record is not None and record["pipeline"]["totalUsage"] == {"embedding": 0, "rerank": 0}

    ok(http.delete(f"/v1/pipelines/{pipeline_id}"))
    assert stored_usage(server, pipeline_id) == {"embedding": 0, "rerank": 0}
    second.add(pipeline_id, 5)  # the other process had counted a search just before the drop
    assert second.flush() == 1
    assert storage.get_meta("pipeline", pipeline_id) is None  # not brought back
    assert http.get(f"/v1/pipelines/{pipeline_id}").json()["code"] != 200
    listed = ok(http.get("/v1/pipelines", params={"projectId": "proj-0123456789abcdef"}))
    assert pipeline_id not in {p["pipelineId"] for p in listed}


@pytest.mark.parametrize("freeze", [True, False])
async def test_freeze_gc_takes_startup_objects_out_of_collection(
    tmp_path: Path, freeze: bool
) -> None:
    """``serve`` (``freeze_gc``): a full collection no longer scans what startup built (it
    paused every request for 50-70 ms every few seconds under load); off for an embedded
    server, whose process is the user's."""
    app = create_app(data_dir=tmp_path, embedder="lexical", freeze_gc=freeze)
    before = gc.get_freeze_count()
    try:
        async with app.router.lifespan_context(app):
            frozen = gc.get_freeze_count()
    finally:
        gc.unfreeze()
    assert (frozen > before + 10_000) if freeze else (frozen == before)
