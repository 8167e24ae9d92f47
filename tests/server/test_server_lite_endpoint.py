"""The embedded Milvus Lite is reachable only through a private Unix socket (issue 10, item 7)."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from langchain_zilliz_bailian.server import LocalServer
from langchain_zilliz_bailian.server.lite_endpoint import (
    LITE_PROCESS_MODULE,
    closing_holder,
    closing_marker,
    open_private_waiting,
    write_closing_marker,
)
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


@contextmanager
def _lock_holder(db_dir: Path, hold_s: float, announce_closing: bool) -> Iterator[int]:
    """Another process holding Milvus Lite's lock on ``db_dir`` for ``hold_s`` seconds, as a
    killed server's Milvus Lite process does while it closes (announcing it, or not)."""
    from milvus_lite.db import LOCK_FILENAME

    marker = str(closing_marker(db_dir)) if announce_closing else ""
    script = textwrap.dedent(
        """
        import fcntl, os, sys, time
        from pathlib import Path
        lock = open(sys.argv[1], "a")
        fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
        if sys.argv[2]:
            Path(sys.argv[2]).write_text(str(os.getpid()))
        print("locked", flush=True)
        time.sleep(float(sys.argv[3]))
        if sys.argv[2]:
            Path(sys.argv[2]).unlink()
        """
    )
    lock = str(db_dir / LOCK_FILENAME)
    # named as a Milvus Lite child process is (closing_holder checks the command line)
    argv = [sys.executable, "-c", script, lock, marker, str(hold_s), LITE_PROCESS_MODULE]
    holder = subprocess.Popen(argv, stdout=subprocess.PIPE)
    try:
        assert holder.stdout is not None and holder.stdout.readline() == b"locked\n"
        yield holder.pid
    finally:
        holder.kill()
        holder.wait()


def test_an_open_waits_longer_for_a_milvus_process_that_is_closing(tmp_path: Path) -> None:
    Storage(tmp_path).close()  # the data dir and its lock file exist
    db_dir = tmp_path / "milvus.db"
    with _lock_holder(db_dir, hold_s=1.5, announce_closing=True) as pid:
        assert closing_holder(db_dir) == pid
        started = time.monotonic()
        served = open_private_waiting(db_dir, wait_s=0.2, closing_wait_s=60)
        waited = time.monotonic() - started
    assert served is not None
    served.close()
    assert 1.0 < waited < 60  # past the short wait, until the holder let go


def test_a_holder_that_is_not_closing_gets_only_the_short_wait(tmp_path: Path) -> None:
    from milvus_lite.exceptions import DataDirLockedError

    Storage(tmp_path).close()
    db_dir = tmp_path / "milvus.db"
    with _lock_holder(db_dir, hold_s=30, announce_closing=False):
        assert closing_holder(db_dir) is None
        started = time.monotonic()
        with pytest.raises(DataDirLockedError):
            open_private_waiting(db_dir, wait_s=0.2, closing_wait_s=60)
        assert time.monotonic() - started < 10


def test_a_marker_left_by_a_process_that_died_is_ignored(tmp_path: Path) -> None:
    db_dir = tmp_path / "milvus.db"
    closing_marker(db_dir).write_text(str(_exited_pid()))
    assert closing_holder(db_dir) is None
    for not_a_holder in ("not a pid", "0", "-1", str(os.getpid())):  # the last: not Lite
        closing_marker(db_dir).write_text(not_a_holder)
        assert closing_holder(db_dir) is None, not_a_holder


def test_the_long_wait_ends_when_the_closing_process_is_gone_but_the_lock_is_held(
    tmp_path: Path,
) -> None:
    """The process that announced its close exited and a server started meanwhile took the
    lock: that is a data dir in use, said at once, not after the long wait."""
    from milvus_lite.exceptions import DataDirLockedError

    Storage(tmp_path).close()
    db_dir = tmp_path / "milvus.db"
    outcome: list[BaseException] = []

    def opening() -> None:
        try:
            open_private_waiting(db_dir, wait_s=0.2, closing_wait_s=60)
        except BaseException as exc:
            outcome.append(exc)

    with _lock_holder(db_dir, hold_s=60, announce_closing=True):
        waiter = threading.Thread(target=opening)
        waiter.start()
        time.sleep(1.0)  # past the short wait: waiting for the announced close
        assert waiter.is_alive()
        # the announcer is gone; the lock's holder now is one that announced nothing
        closing_marker(db_dir).write_text(str(_exited_pid()))
        started = time.monotonic()
        waiter.join(30)
        assert not waiter.is_alive() and time.monotonic() - started < 10
    assert len(outcome) == 1 and isinstance(outcome[0], DataDirLockedError)


def test_the_holder_check_knows_the_module_milvus_lite_processes_run() -> None:
    from langchain_zilliz_bailian.server import lite_process

    assert lite_process.__name__ == LITE_PROCESS_MODULE  # what `python -m` names in cmdline


def test_the_marker_is_created_afresh_never_through_a_link(tmp_path: Path) -> None:
    db_dir = tmp_path / "milvus.db"
    victim = tmp_path / "victim"
    victim.write_text("keep me")
    closing_marker(db_dir).symlink_to(victim)
    marker = write_closing_marker(db_dir)
    assert marker == closing_marker(db_dir) and not marker.is_symlink()
    assert marker.read_text() == str(os.getpid())
    assert stat.S_IMODE(marker.stat().st_mode) == 0o600
    assert victim.read_text() == "keep me"


def _exited_pid() -> int:
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    return gone.pid
