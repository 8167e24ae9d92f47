"""Milvus Lite behind a private Unix socket instead of an open loopback TCP port.

pymilvus starts Milvus Lite for a ``.db`` path as an in-process gRPC server on ``127.0.0.1`` at a
free port, without authentication, so every local user could read and change the server's data.
Here the same in-process server listens only on a Unix socket inside a fresh ``0700`` directory:
only the server's own user can reach it. This relies on Milvus Lite's gRPC adapter
(``milvus_lite.adapter.grpc.server``); when a Milvus Lite version lacks it, :func:`open_private`
returns None and the caller falls back to pymilvus' TCP endpoint (and logs that it did).
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

#: How long an open waits for the directory lock of a process that is exiting: a server killed a
#: moment ago can leave its Milvus Lite process closing the database for a fraction of a second.
LOCK_WAIT_S = 5.0

#: How long an open waits, past :data:`LOCK_WAIT_S`, for a Milvus Lite process that announced
#: it is closing the database (its server is gone): on a loaded machine, after a bulk load, that
#: close has taken longer than the short wait.
CLOSING_WAIT_S = 120.0

#: The module a Milvus Lite child process runs (:mod:`.lite_process`).
LITE_PROCESS_MODULE = "langchain_zilliz_bailian.server.lite_process"

#: gRPC worker threads of the embedded server (what pymilvus' own endpoint uses).
GRPC_WORKERS = 10


@dataclass
class PrivateLite:
    """A running in-process Milvus Lite reachable only through ``uri`` (``unix:`` + socket path)."""

    uri: str
    _server: Any
    _db: Any
    _socket_dir: Path

    def close(self) -> None:
        """Stop serving, close the database (releases its directory lock), remove the socket."""
        try:
            self._server.stop(grace=2).wait(5)
        finally:
            try:
                self._db.close()
            finally:
                shutil.rmtree(self._socket_dir, ignore_errors=True)


def _adapter() -> tuple[Callable[[str], Any], Callable[[Any, int], Any]] | None:
    """Milvus Lite's database class and gRPC server builder; None when this version lacks them."""
    try:
        from milvus_lite.adapter.grpc import server as grpc_server
        from milvus_lite.db import MilvusLite
    except ImportError:
        return None
    build = getattr(grpc_server, "_build_server", None)
    return (MilvusLite, build) if callable(build) else None


def lock_held_elsewhere(db_dir: Path) -> bool | None:
    """Whether another process holds Milvus Lite's advisory lock on ``db_dir``; None: unknown."""
    try:
        import fcntl

        from milvus_lite.db import LOCK_FILENAME
    except ImportError:  # no flock (Windows) or a Milvus Lite without that lock file
        return None
    lock_path = db_dir / LOCK_FILENAME
    if not lock_path.exists():
        return False
    with lock_path.open("a") as handle:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        except OSError:
            return None
        fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
    return False


def closing_marker(db_dir: Path) -> Path:
    """Where a Milvus Lite process closing ``db_dir`` writes its pid (beside the directory, which
    is Milvus Lite's own) while it closes."""
    return db_dir.with_name(db_dir.name + ".closing")


def closing_holder(db_dir: Path) -> int | None:
    """The pid of a running process that announced it is closing ``db_dir``; None if none did,
    or the one named has exited or (where ``/proc`` tells) is not a Milvus Lite process: a
    marker left by a process killed while closing must not vouch for whoever reuses its pid."""
    try:
        pid = int(closing_marker(db_dir).read_text(encoding="ascii"))
    except (OSError, ValueError):
        return None
    if pid <= 0:
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except OSError:  # it runs, as another user
        pass
    try:
        command = Path(f"/proc/{pid}/cmdline").read_bytes()
    except FileNotFoundError:
        return None if Path("/proc/self").exists() else pid  # gone, or no /proc here
    except OSError:
        return pid
    return pid if LITE_PROCESS_MODULE.encode() in command else None


def write_closing_marker(db_dir: Path) -> Path | None:
    """Announce that this process is closing ``db_dir`` (see :func:`closing_holder`); the marker
    is created afresh, never through a link, readable by this user only. None if it cannot be."""
    marker = closing_marker(db_dir)
    try:
        marker.unlink(missing_ok=True)  # a stale one, or whatever was planted there
        fd = os.open(marker, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    except OSError:
        return None
    with os.fdopen(fd, "w", encoding="ascii") as handle:
        handle.write(str(os.getpid()))
    return marker


def refused_for_lock(exc: BaseException) -> bool:
    """Whether Milvus Lite refused to open because another process held the directory's lock
    (it may have let go since: the holder was exiting), judged by the error itself."""
    try:
        from milvus_lite.exceptions import DataDirLockedError
    except ImportError:  # a Milvus Lite without that error
        return False
    seen: BaseException | None = exc
    visited: set[int] = set()
    while seen is not None and id(seen) not in visited:
        if isinstance(seen, DataDirLockedError):
            return True
        visited.add(id(seen))
        seen = seen.__cause__ or seen.__context__
    return False


def private_socket_dir() -> Path:
    """A fresh ``0700`` directory for the socket, with a short path (Unix socket paths are
    limited to about 100 bytes)."""
    return Path(tempfile.mkdtemp(prefix="zb-milvus-"))


def open_private(db_dir: Path, socket_dir: Path | None = None) -> PrivateLite | None:
    """Open Milvus Lite on ``db_dir`` and serve it on a private socket; None if unsupported.

    Raises whatever Milvus Lite raises when it cannot open the directory (e.g. it is locked by
    another process); the caller turns that into a clear error. ``socket_dir`` (made with
    :func:`private_socket_dir`, removed on close) is where the socket goes; default: a new one.
    """
    parts = _adapter()
    if parts is None:
        log.warning(
            "this Milvus Lite has no gRPC adapter to bind privately; its endpoint is a loopback "
            "TCP port that any local user can reach"
        )
        return None
    lite_class, build_server = parts
    own_dir = socket_dir is None
    socket_dir = socket_dir or private_socket_dir()
    db: Any = None
    try:
        db = lite_class(str(db_dir))
        server = build_server(db, GRPC_WORKERS)
        socket_path = socket_dir / "milvus.sock"
        if not server.add_insecure_port(f"unix:{socket_path}"):
            raise OSError(f"cannot bind Milvus Lite to {socket_path}")
        server.start()
    except BaseException:
        if db is not None:
            db.close()
        if own_dir:
            shutil.rmtree(socket_dir, ignore_errors=True)
        raise
    return PrivateLite(f"unix:{socket_path}", server, db, socket_dir)


def open_private_waiting(
    db_dir: Path,
    socket_dir: Path | None = None,
    wait_s: float = LOCK_WAIT_S,
    closing_wait_s: float = CLOSING_WAIT_S,
) -> PrivateLite | None:
    """:func:`open_private`, retried for up to ``wait_s`` while another process holds the lock
    (a server restarted right after a crash; a live server keeps it, and the error comes then),
    then for up to ``closing_wait_s`` more while the holder is a process that announced it is
    closing (:func:`closing_holder`)."""
    deadline = time.monotonic() + wait_s
    waited_for_closing = False
    while True:
        try:
            return open_private(db_dir, socket_dir)
        except Exception:
            if not lock_held_elsewhere(db_dir):
                raise
            if waited_for_closing:
                # only while the process that announced its close still runs: once it is
                # gone, a holder is a server that started meanwhile
                if closing_holder(db_dir) is None or time.monotonic() > deadline:
                    raise
            elif time.monotonic() > deadline:
                closing = closing_holder(db_dir)
                if closing is None:
                    raise
                log.warning(
                    "Milvus Lite process %d is still closing %s; waiting up to %g s for it",
                    closing,
                    db_dir,
                    closing_wait_s,
                )
                deadline, waited_for_closing = time.monotonic() + closing_wait_s, True
        time.sleep(0.1)
