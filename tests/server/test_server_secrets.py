"""Secrets and admin (issue 10, item 7): admin off by default and never on the data key, no
default key off loopback, and a key from the environment or a file that stays out of ``ps``."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from langchain_zilliz_bailian.server import DEFAULT_API_KEY, LocalServer, create_app

SECRET = "s3cret-key-from-the-environment-0451"


def test_admin_routes_are_off_by_default_and_answer_like_unknown_routes(
    server: LocalServer, http: httpx.Client
) -> None:
    for method in ("GET", "POST", "DELETE"):
        resp = http.request(method, "/_admin/faults", json={"rate_500": 1.0})
        assert resp.status_code == 404
        assert resp.json() == http.get("/_admin/nothing").json()
        assert set(resp.json()) == {"code", "message"} and resp.json()["code"] == 404
    assert server.faults.snapshot()["rate_500"] == 0.0
    assert http.get("/v1/pipelines", params={"projectId": "proj-empty"}).status_code == 200


@pytest.mark.parametrize("admin_key", [DEFAULT_API_KEY, "same-as-data", "two words", ""])
def test_admin_key_must_be_its_own(admin_key: str, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="admin_key"):
        create_app(data_dir=tmp_path, api_key="same-as-data", admin_key=admin_key)


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.168.1.20", "example.org"])
def test_non_loopback_host_needs_a_key_of_ones_own(host: str, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="not loopback"):
        LocalServer(data_dir=tmp_path, host=host)
    LocalServer(data_dir=tmp_path, host=host, api_key="a-real-key")  # built, not started


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.parametrize("source", ["variable", "file"])
def test_key_from_variable_or_file_works_and_stays_out_of_argv_and_logs(
    source: str, tmp_path: Path
) -> None:
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("ZILLIZ_BAILIAN_")}
    env["ZILLIZ_BAILIAN_DATA_DIR"] = str(tmp_path / "data")
    argv = [
        sys.executable,
        "-c",
        "from langchain_zilliz_bailian.cli import main; raise SystemExit(main())",
        "serve",
        "--port",
        str(port),
        "--log-level",
        "debug",
    ]
    if source == "variable":
        env["ZILLIZ_BAILIAN_API_KEY"] = SECRET
    else:
        key_file = tmp_path / "key"
        key_file.write_text(SECRET + "\n")
        key_file.chmod(0o600)
        argv += ["--api-key-file", str(key_file)]
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 90
        while True:
            assert proc.poll() is None, proc.stdout.read().decode() if proc.stdout else ""
            try:
                if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "the server did not start"
            time.sleep(0.2)
        cmdline = Path(f"/proc/{proc.pid}/cmdline").read_bytes()
        assert SECRET.encode() not in cmdline
        url = f"{base}/v1/pipelines"
        params = {"projectId": "proj-empty"}
        good = httpx.get(url, params=params, headers={"Authorization": f"Bearer {SECRET}"})
        assert good.status_code == 200 and good.json() == {"code": 200, "data": []}
        default = {"Authorization": f"Bearer {DEFAULT_API_KEY}"}
        assert httpx.get(url, params=params, headers=default).status_code == 401
    finally:
        proc.terminate()
        output, _ = proc.communicate(timeout=30)
    assert b"serving on" in output  # the log was captured
    assert SECRET.encode() not in output
