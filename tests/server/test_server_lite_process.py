"""Milvus Lite in a child process (``lite_process=True``, the CLI's default): it serves the server
through a private socket, outlives nothing, and hands the data dir over cleanly after a crash."""

from __future__ import annotations

import os
import re
import signal
import stat
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from langchain_zilliz_bailian.server import LocalServer
from langchain_zilliz_bailian.server.lite_endpoint import closing_marker
from langchain_zilliz_bailian.server.lite_process import LiteProcess
from langchain_zilliz_bailian.server.storage import Storage
from langchain_zilliz_bailian.zilliz import ZillizPipelinesClient

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Unix sockets")

ROOT = Path(__file__).resolve().parents[2]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie (exited, not yet reaped by its parent) is gone for our purposes; so is one reaped
    # between the two reads.
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def _wait_gone(pid: int, timeout_s: float = 15) -> None:
    deadline = time.monotonic() + timeout_s
    while _alive(pid):
        assert time.monotonic() < deadline, f"process {pid} still running"
        time.sleep(0.05)


def test_a_local_server_searches_through_its_milvus_process(tmp_path: Path) -> None:
    with LocalServer(data_dir=tmp_path / "data", embedder="lexical", lite_process=True) as server:
        storage = server.app.state.context.storage
        child = storage._private
        assert isinstance(child, LiteProcess)
        assert child.process.pid != os.getpid() and _alive(child.process.pid)
        socket_path = Path(server.milvus_uri.removeprefix("unix:"))
        assert stat.S_IMODE(socket_path.parent.stat().st_mode) == 0o700
        with ZillizPipelinesClient(api_key=server.api_key, base_url=server.zilliz_base_url) as c:
            made = c.create_pipeline_set(
                name="lite",
                project_id="proj-lite",
                cluster_id="in03-lite",
                collection_name="lite_docs",
                kind="text",
                embedding="local/lexical",
            )
            c.ingest_texts(
                made.ingestion.pipeline_id, ["the cat sat on the mat", "stock prices fell sharply"]
            )
            hits = c.search(made.search.pipeline_id, "cat on a mat", limit=1).hits
        assert "cat" in hits[0].fields["text"]
    assert child.process.returncode == 0  # closed the database and exited on its own
    assert not socket_path.parent.exists()


def test_the_milvus_process_ignores_ctrl_c_and_serves_on(tmp_path: Path) -> None:
    store = Storage(tmp_path, lite_process=True)
    try:
        child = store._private
        assert isinstance(child, LiteProcess)
        child.process.send_signal(signal.SIGINT)  # a terminal's Ctrl-C reaches the whole group
        time.sleep(0.3)
        store.put_meta("session", "s1", {"turns": 1})
        assert store.get_meta("session", "s1") == {"turns": 1}
    finally:
        store.close()


def test_killing_the_server_ends_its_milvus_process_and_frees_the_data_dir(
    tmp_path: Path,
) -> None:
    script = textwrap.dedent(
        f"""
        import sys, time
        from pathlib import Path
        from langchain_zilliz_bailian.server.storage import Storage
        store = Storage(Path({str(tmp_path)!r}), lite_process=True)
        store.put_meta("session", "kept", {{"acknowledged": True}})
        print(store._private.process.pid, flush=True)
        time.sleep(600)
        """
    )
    env = dict(
        os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])
    )
    parent = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, env=env)
    try:
        assert parent.stdout is not None
        child_pid = int(parent.stdout.readline())
        assert _alive(child_pid)
        parent.kill()  # no shutdown code runs in the server
        parent.wait()
        _wait_gone(child_pid)  # its stdin reached end of file: it closed the database
        assert not closing_marker(tmp_path / "milvus.db").exists()  # removed once closed
    finally:
        if parent.poll() is None:
            parent.kill()
            parent.wait()
    reopened = Storage(tmp_path)  # at once: the lock is free, the write is there
    try:
        assert reopened.get_meta("session", "kept") == {"acknowledged": True}
    finally:
        reopened.close()


def test_the_milvus_process_announces_its_close_while_it_closes(tmp_path: Path) -> None:
    """A server started while the child closes finds its pid in ``<db_dir>.closing`` and waits
    (tests/server/test_server_lite_endpoint.py); the file is gone once the database is closed.
    (The child also froze its startup objects out of garbage collection.)"""
    db_dir, socket_dir = tmp_path / "milvus.db", tmp_path / "socket"
    socket_dir.mkdir(mode=0o700)
    script = textwrap.dedent(
        f"""
        import gc, os, sys
        from pathlib import Path
        from langchain_zilliz_bailian.server import lite_endpoint, lite_process
        marker = lite_endpoint.closing_marker(Path({str(db_dir)!r}))
        real_close = lite_endpoint.PrivateLite.close
        def close(self):
            seen = marker.read_text() if marker.exists() else "none"
            print("closing marker:", seen, "pid:", os.getpid(), file=sys.stderr)
            print("frozen objects:", gc.get_freeze_count(), file=sys.stderr)
            real_close(self)
        lite_endpoint.PrivateLite.close = close
        sys.exit(lite_process.main([{str(db_dir)!r}, {str(socket_dir)!r}]))
        """
    )
    env = dict(
        os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])
    )
    child = subprocess.Popen(
        [sys.executable, "-c", script],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    )
    try:
        assert child.stdout is not None and child.stdout.readline() == b"ready\n"
        assert not closing_marker(db_dir).exists()  # serving, not closing
        _, err = child.communicate(b"", timeout=60)  # end of stdin: the parent is gone
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    assert child.returncode == 0
    assert f"closing marker: {child.pid} pid: {child.pid}".encode() in err
    # what opening built was frozen out of the collector's scans (no full-collection pauses)
    frozen = re.search(rb"frozen objects: (\d+)", err)
    assert frozen is not None and int(frozen[1]) > 10_000
    assert not closing_marker(db_dir).exists()
