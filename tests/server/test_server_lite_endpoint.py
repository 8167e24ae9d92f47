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


def test_a_lock_let_go_after_the_wait_still_reads_as_a_data_dir_in_use(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The holder (a killed server's Milvus Lite process, closing) let go just after the wait
    gave up: the error is still the lock's, not "Cannot open Milvus Lite"."""
    from milvus_lite.exceptions import DataDirLockedError

    from langchain_zilliz_bailian.server import DataDirInUseError, storage

    def refused(db_dir: Path, socket_dir: Path | None = None) -> None:
        try:
            raise BlockingIOError(11, "Resource temporarily unavailable")
        except BlockingIOError as exc:
            raise DataDirLockedError(f"another process holds the lock on {db_dir}") from exc

    monkeypatch.setattr(storage, "open_private_waiting", refused)
    monkeypatch.setattr(storage, "lock_held_elsewhere", lambda db_dir: False)
    with pytest.raises(DataDirInUseError):
        Storage(tmp_path)


def test_other_failures_to_open_are_not_called_a_data_dir_in_use(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from langchain_zilliz_bailian.server import DataDirInUseError, StorageError, storage

    def broken(db_dir: Path, socket_dir: Path | None = None) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(storage, "open_private_waiting", broken)
    monkeypatch.setattr(storage, "lock_held_elsewhere", lambda db_dir: False)
    with pytest.raises(StorageError, match="Cannot open Milvus Lite in .*disk full") as info:
        Storage(tmp_path)
    assert not isinstance(info.value, DataDirInUseError)
