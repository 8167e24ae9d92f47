"""Several server processes on one Milvus server (issue 10, item 8): state lives only in Milvus.

Two ``zilliz-bailian serve`` processes share the session's Milvus server: a pipeline created
through one is served by the other, a Bailian session continues across them, ``--workers 2``
serves one port from two processes, and SIGKILLs of a server during concurrent ingestion lose
nothing acknowledged (``scripts/crash_test.py`` at a small size) while the other keeps serving.
"""

from __future__ import annotations

import contextlib
import os
import signal
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import pytest

from tests.server.conftest import make_text_pipelines, ok, search, unique
from tests.server.scripts import load_script

APP = "/api/v1/apps/0123456789abcdef0123456789abcdef/completion"


def _harness() -> ModuleType:
    return load_script("crash_test")


def _pycache() -> Path:
    return Path(tempfile.gettempdir()) / f"zb-crash-pycache-{os.getuid()}"


@pytest.fixture(scope="module")
def pair(milvus_uri: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[str]]:
    """Two server processes on the Milvus server; their URLs."""
    crash = _harness()
    base = tmp_path_factory.mktemp("pair")
    servers = [
        crash.ServerProcess(
            base / name,
            _pycache(),
            base / f"{name}.log",
            ["--milvus-uri", milvus_uri, "--any-app-id"],
        )
        for name in ("a", "b")
    ]
    try:
        yield [server.start(120) for server in servers]
    finally:
        for server in servers:
            server.kill()


def _client(url: str) -> httpx.Client:
    return httpx.Client(base_url=url, headers={"Authorization": "Bearer local-dev-key"}, timeout=60)


def _eventually(check: Callable[[], Any], timeout_s: float = 20) -> Any:
    """Another process's write reaches a search within Milvus's staleness bound."""
    deadline = time.monotonic() + timeout_s
    while True:
        result = check()
        if result or time.monotonic() > deadline:
            return result
        time.sleep(0.2)


def test_a_pipeline_created_through_one_process_is_served_by_the_other(pair: list[str]) -> None:
    with _client(pair[0]) as a, _client(pair[1]) as b:
        pipes = make_text_pipelines(a, unique("shared"))
        described = ok(b.get(f"/v1/pipelines/{pipes['search']}"))
        assert described["pipelineId"] == pipes["search"]
        ingested = ok(
            b.post(
                f"/v1/pipelines/{pipes['ingestion']}/run",
                json={"data": {"text_list": ["lighthouse keeper"], "year": 2001, "source": "b"}},
            )
        )

        def found_through_a() -> list[Any]:
            result: list[Any] = ok(search(a, pipes["search"], "lighthouse keeper"))["result"]
            return result

        hits = _eventually(found_through_a)
        assert [hit["id"] for hit in hits] == ingested["ids"]
        ok(a.delete(f"/v1/pipelines/{pipes['ingestion']}"))
        # b may answer from its metadata cache for up to a second, then sees the drop (within
        # Milvus's staleness bound, which grows on a loaded machine).
        gone = _eventually(lambda: b.get(f"/v1/pipelines/{pipes['ingestion']}").status_code == 404)
        assert gone


def test_a_bailian_session_continues_across_processes(pair: list[str]) -> None:
    with _client(pair[0]) as a, _client(pair[1]) as b:
        first = a.post(APP, json={"input": {"prompt": "My name is Ada."}}).json()["output"]
        sid = first["session_id"]
        second = b.post(APP, json={"input": {"prompt": "Who am I?", "session_id": sid}})
        assert 'you said: "My name is Ada."' in second.json()["output"]["text"]
        third = a.post(APP, json={"input": {"prompt": "Again?", "session_id": sid}}).json()
        assert '"Who am I?"' in third["output"]["text"]


def test_two_workers_serve_one_port(milvus_uri: str, tmp_path: Path, pair: list[str]) -> None:
    crash = _harness()
    workers = crash.ServerProcess(
        tmp_path / "w",
        _pycache(),
        tmp_path / "w.log",
        ["--milvus-uri", milvus_uri, "--workers", "2"],
    )
    url = workers.start(120)
    try:
        with _client(url) as w, _client(pair[0]) as a:
            pipes = make_text_pipelines(w, unique("workers"))
            ids: list[int] = []
            for n in range(6):  # several connections: both workers take requests
                with _client(url) as fresh:
                    body = {"text_list": [f"worker text {n}"], "year": n, "source": "w"}
                    run = fresh.post(f"/v1/pipelines/{pipes['ingestion']}/run", json={"data": body})
                    ids += ok(run)["ids"]
            assert len(set(ids)) == 6  # ids minted in two processes never collide
            assert ok(a.get(f"/v1/pipelines/{pipes['search']}"))["pipelineId"] == pipes["search"]
            hits = _eventually(
                lambda: len(ok(search(a, pipes["search"], "worker text", limit=10))["result"]) == 6
            )
            assert hits
        # SIGKILL of the supervisor alone: its workers see it gone and shut down by themselves
        assert workers.proc is not None
        children = crash._children(workers.proc.pid)
        assert len(children) >= 2
        workers.proc.kill()
        workers.proc.wait()
        try:
            crash._wait_gone(children, 60)
        except RuntimeError:
            for child in children:  # leave no orphan behind a failed test
                with contextlib.suppress(OSError):
                    os.kill(child, signal.SIGKILL)
            raise
    finally:
        workers.kill()


def test_sigkills_during_concurrent_ingestion_lose_nothing_acknowledged(
    milvus_uri: str, tmp_path: Path, pair: list[str]
) -> None:
    crash = _harness()
    collection = unique("crash")
    cfg = crash.CrashConfig(
        kills=3,
        concurrency=4,
        batch=4,
        min_acks_per_round=2,
        jitter_s=0.15,
        seed=8,
        data_dir=tmp_path / "data",
        pycache_dir=_pycache(),
        verify_every_kill=False,
        final_restart=False,
        milvus_uri=milvus_uri,
        collection=collection,
    )
    report = crash.run_crash_test(cfg)
    assert report.kills == 3
    assert report.rows_acknowledged >= 3 * 2 * 4, report.summary()
    assert report.ok, report.summary()
    # The other process kept serving the same Milvus meanwhile, and sees every acknowledged row.
    with _client(pair[1]) as b:
        assert b.get("/health").status_code == 200
        search_ids = [
            p["pipelineId"]
            for p in ok(b.get("/v1/pipelines", params={"projectId": crash.PROJECT}))
            if p["type"] == "SEARCH" and p["functions"][0]["collectionName"] == collection
        ]
        assert len(search_ids) == 1
        assert ok(search(b, search_ids[0], "archive backup", limit=5))["result"]


@pytest.mark.parametrize("milvus", [None, "local.db"])
def test_several_workers_need_a_milvus_server(
    milvus: str | None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from langchain_zilliz_bailian.cli import main

    argv = ["serve", "--workers", "2", "--data-dir", str(tmp_path)]
    if milvus:
        argv += ["--milvus-uri", str(tmp_path / milvus)]
    assert main(argv) == 2
    assert "--workers: several workers need --milvus-uri" in capsys.readouterr().err
