"""A data dir already held by another server: ``LocalServer`` raises ``DataDirInUseError`` and
``zilliz-bailian serve`` exits with its one-line message, never "see the log above" or a traceback.

The README's case: ``zilliz-bailian serve --data-dir ./zb-data`` is running (another process) and
Python code starts ``LocalServer(data_dir="./zb-data")``.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from langchain_zilliz_bailian import cli
from langchain_zilliz_bailian.server import DataDirInUseError, LocalServer, StorageError

pytestmark = pytest.mark.server


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def _pipelines(server: LocalServer) -> httpx.Response:
    return httpx.get(
        f"{server.url}/v1/pipelines",
        params={"projectId": "proj-local"},
        headers={"Authorization": f"Bearer {server.api_key}"},
    )


@pytest.fixture(scope="module")
def serve_process(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """``zilliz-bailian serve`` in another process, holding a data dir; that dir."""
    data_dir = tmp_path_factory.mktemp("held-by-serve")
    port = _free_port()
    cmd = [sys.executable, "-m", "langchain_zilliz_bailian", "serve", "--port", str(port)]
    cmd += ["--data-dir", str(data_dir), "--log-level", "warning"]
    # The log goes to a file: a pipe nobody reads could fill and stall the server.
    log = tmp_path_factory.mktemp("serve-log") / "stderr.txt"
    with log.open("w") as stderr:
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=stderr, text=True)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.get(f"http://127.0.0.1:{port}/health")
                break
            except httpx.ConnectError:
                assert proc.poll() is None, log.read_text()
                assert time.monotonic() < deadline, "serve did not start"
                time.sleep(0.05)
        yield data_dir
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_local_server_on_the_data_dir_of_a_running_serve(serve_process: Path) -> None:
    server = LocalServer(data_dir=serve_process)
    with pytest.raises(DataDirInUseError) as info:
        server.start()
    message = str(info.value)
    assert f"The data dir {serve_process} is in use by another server process" in message
    assert "Milvus Lite allows one process per data dir" in message
    assert "tempfile.mkdtemp()" in message and "--data-dir" in message
    # The same type as before for callers that caught the old error, and a StorageError.
    assert isinstance(info.value, RuntimeError) and isinstance(info.value, StorageError)
    assert info.value.data_dir == serve_process
    server.stop()  # nothing to stop, and no error


@pytest.mark.parametrize("log_level", ["error", "critical"])
def test_serve_on_a_held_data_dir_exits_with_one_line(
    serve_process: Path, log_level: str, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["serve", "--data-dir", str(serve_process), "--port", str(_free_port())]
    assert cli.main([*argv, "--log-level", log_level]) == 1
    err = capsys.readouterr().err
    assert "Traceback" not in err and "see the log above" not in err
    lines = [line for line in err.splitlines() if "is in use by another server process" in line]
    assert len(lines) == 1, err
    if log_level == "critical":  # uvicorn logs nothing: the command says it
        assert lines[0].startswith("zilliz-bailian serve: error: The data dir ")


def test_second_local_server_on_one_data_dir_in_one_process(tmp_path: Path) -> None:
    with LocalServer(data_dir=tmp_path) as first:
        second = LocalServer(data_dir=tmp_path)
        with pytest.raises(
            DataDirInUseError, match="in use by another local server in this process"
        ):
            second.start()
        # The failed start left the first server's Milvus Lite open.
        assert _pipelines(first).json()["code"] == 200
    # Once the first has stopped, the directory is free again.
    with LocalServer(data_dir=tmp_path) as again:
        assert _pipelines(again).json()["code"] == 200
