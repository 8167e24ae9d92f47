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
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

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


def open_private(db_dir: Path) -> PrivateLite | None:
    """Open Milvus Lite on ``db_dir`` and serve it on a private socket; None if unsupported.

    Raises whatever Milvus Lite raises when it cannot open the directory (e.g. it is locked by
    another process); the caller turns that into a clear error.
    """
    parts = _adapter()
    if parts is None:
        log.warning(
            "this Milvus Lite has no gRPC adapter to bind privately; its endpoint is a loopback "
            "TCP port that any local user can reach"
        )
        return None
    lite_class, build_server = parts
    # A short path (Unix socket paths are limited to about 100 bytes); mkdtemp makes it 0700.
    socket_dir = Path(tempfile.mkdtemp(prefix="zb-milvus-"))
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
        shutil.rmtree(socket_dir, ignore_errors=True)
        raise
    return PrivateLite(f"unix:{socket_path}", server, db, socket_dir)
