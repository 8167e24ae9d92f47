"""Milvus Lite in a process of its own, beside the server, on a private Unix socket.

Milvus Lite is Python: inside the server's process it shares one interpreter lock with HTTP
handling, so a server on Milvus Lite could use one core. In a child process its searches run on
another core (``scripts/bench_concurrency.py``, before searches were batched: 322 -> 516
searches/s at 32 clients on 2 cores).
The child serves exactly as :mod:`.lite_endpoint` does in-process (a ``0700`` socket directory,
no TCP port) and lives as long as its parent: it exits, closing the database cleanly, when its
stdin (a pipe from the parent) reaches end of file, which happens on a clean shutdown and when
the parent is killed. While it closes, a ``<db_dir>.closing`` file holds its pid, so a server
started meanwhile waits for it (:func:`.lite_endpoint.open_private_waiting`). It ignores SIGINT
and SIGTERM, so a Ctrl-C or a service manager stopping the process group lets the parent finish
its requests before Milvus goes away.

The child says ``ready`` on stdout once it serves, or ``error: ...`` (exit status 3) when it
cannot open the directory, or ``unsupported`` (exit status 4) when this Milvus Lite has no gRPC
adapter; then the caller serves Milvus Lite in-process instead.
"""

from __future__ import annotations

import gc
import os
import selectors
import shutil
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from langchain_zilliz_bailian.server.lite_endpoint import (
    open_private_waiting,
    private_socket_dir,
    write_closing_marker,
)

#: How long the parent waits for ``ready`` (opening replays Milvus Lite's log: long after a
#: bulk load and a crash).
START_TIMEOUT_S = 600.0
#: How long a clean stop may take before the child is killed.
STOP_TIMEOUT_S = 30.0
_UNSUPPORTED = 4


class LiteProcessError(RuntimeError):
    """The child could not open the directory (its message says why)."""


@dataclass
class LiteProcess:
    """A running child process serving Milvus Lite on ``uri`` (``unix:`` + socket path)."""

    uri: str
    process: subprocess.Popen[bytes]
    _socket_dir: Path

    def close(self) -> None:
        """Close the child's stdin (it closes the database and exits), wait, remove the socket."""
        try:
            if self.process.stdin is not None:
                self.process.stdin.close()
            try:
                self.process.wait(STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        finally:
            shutil.rmtree(self._socket_dir, ignore_errors=True)


def _read_line(process: subprocess.Popen[bytes], timeout_s: float) -> str:
    """The child's first line of stdout ('' at end of file), waiting at most ``timeout_s``."""
    assert process.stdout is not None
    with selectors.DefaultSelector() as selector:
        selector.register(process.stdout, selectors.EVENT_READ)
        if not selector.select(timeout_s):
            raise LiteProcessError(f"Milvus Lite did not start within {timeout_s:g} s")
    return process.stdout.readline().decode(errors="replace").strip()


def open_process(db_dir: Path, start_timeout_s: float = START_TIMEOUT_S) -> LiteProcess | None:
    """Start a child serving ``db_dir``; None when this Milvus Lite cannot serve privately.

    Raises :class:`LiteProcessError` when the child cannot open the directory.
    """
    socket_dir = private_socket_dir()
    socket_path = socket_dir / "milvus.sock"
    package_root = str(Path(__file__).resolve().parents[2])
    path = os.pathsep.join(p for p in (package_root, os.environ.get("PYTHONPATH")) if p)
    argv = [sys.executable, "-m", __name__, str(db_dir), str(socket_dir)]
    process = subprocess.Popen(  # noqa: S603 (our own module, by the running interpreter)
        argv,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        env=dict(os.environ, PYTHONPATH=path),
    )
    try:
        line = _read_line(process, start_timeout_s)
    except BaseException:
        process.kill()
        process.wait()
        shutil.rmtree(socket_dir, ignore_errors=True)
        raise
    assert process.stdout is not None
    process.stdout.close()
    if line == "ready":
        return LiteProcess(f"unix:{socket_path}", process, socket_dir)
    status = process.wait()
    shutil.rmtree(socket_dir, ignore_errors=True)
    if status == _UNSUPPORTED:
        return None
    raise LiteProcessError(line.removeprefix("error: ") or f"Milvus Lite exited with {status}")


def main(argv: list[str]) -> int:
    """The child: ``python -m langchain_zilliz_bailian.server.lite_process DB_DIR SOCKET_DIR``."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    # Only our own line goes to the parent's pipe; anything Milvus Lite prints goes to stderr.
    report = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)
    db_dir, socket_dir = Path(argv[0]), Path(argv[1])
    try:
        served = open_private_waiting(db_dir, socket_dir)
    except Exception as exc:
        report.write(f"error: {exc}\n".replace("\n", " ").strip() + "\n")
        report.close()
        return 3
    if served is None:
        report.write("unsupported\n")
        report.close()
        return _UNSUPPORTED
    # What opening built lives as long as this process: out of the collector's scans, a full
    # collection no longer pauses searches for tens of milliseconds (see create_app's freeze_gc).
    gc.collect()
    gc.freeze()
    report.write("ready\n")
    report.close()
    while sys.stdin.buffer.read(65536):  # until the parent closes the pipe or dies
        pass
    # A server started meanwhile (right after a crash) waits for this close instead of calling
    # the data dir in use.
    marker = write_closing_marker(db_dir)
    try:
        served.close()
    finally:
        if marker is not None:
            marker.unlink(missing_ok=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
