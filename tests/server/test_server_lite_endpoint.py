"""The embedded Milvus Lite is reachable only through a private Unix socket (issue 10, item 7)."""

from __future__ import annotations

import os
import stat
import sys
from pathlib import Path

import pytest

from langchain_zilliz_bailian.server import LocalServer
from langchain_zilliz_bailian.server.storage import Storage

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")


def _listening_tcp_ports() -> set[int]:
    """TCP ports this process listens on (its socket inodes matched against /proc/net/tcp*)."""
    inodes = set()
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    ports = set()
    for table in ("/proc/self/net/tcp", "/proc/self/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            if fields[3] == "0A" and fields[9] in inodes:  # 0A: LISTEN
                ports.add(int(fields[1].rsplit(":", 1)[1], 16))
    return ports


def test_milvus_lite_listens_on_no_tcp_port_only_a_private_socket(tmp_path: Path) -> None:
    before = _listening_tcp_ports()
    with LocalServer(data_dir=tmp_path / "data") as server:
        uri = server.milvus_uri
        assert uri.startswith("unix:")
        socket_path = Path(uri.removeprefix("unix:"))
        assert stat.S_ISSOCK(socket_path.stat().st_mode)
        # Only this user can traverse the socket's directory.
        assert stat.S_IMODE(socket_path.parent.stat().st_mode) == 0o700
        # The HTTP port is the only new listening TCP port (pymilvus alone would add a Lite one).
        assert _listening_tcp_ports() - before == {server.port}

        from pymilvus import MilvusClient

        other = MilvusClient(uri=uri)  # the same user can still inspect it
        try:
            assert "zb_meta" in other.list_collections()
        finally:
            other.close()
    assert not socket_path.parent.exists()  # removed on close


def test_storage_reopens_its_data_through_a_new_socket(tmp_path: Path) -> None:
    first = Storage(tmp_path)
    first_uri = first.client_uri
    first.close()
    second = Storage(tmp_path)
    try:
        assert second.client_uri != first_uri
        assert "zb_meta" in second._client.list_collections()
    finally:
        second.close()
