"""A real standalone Milvus server for the tests: PyPI ``milvus``'s ``milvus-server`` on free ports.

The test session starts it once (about a minute: embedded etcd, then every Milvus component) in
a temporary directory and always stops it, with its whole process group, when the session ends.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from types import TracebackType

#: Every port ``milvus-server`` opens; each gets a free one so parallel sessions do not clash.
PORT_FLAGS = (
    "--etcd-port",  # first: the etcd config file repeats it
    "--root-coord-port",
    "--proxy-port",
    "--proxy-internal-port",
    "--query-coord-port",
    "--query-node-port",
    "--index-coord-port",
    "--index-node-port",
    "--data-coord-port",
    "--data-node-port",
)
#: Overrides the executable (e.g. one from another venv: it is a separate process).
EXECUTABLE_VARIABLE = "ZB_MILVUS_SERVER"


def find_executable() -> str | None:
    """``$ZB_MILVUS_SERVER``, else ``milvus-server`` beside this Python, else on ``PATH``."""
    explicit = os.environ.get(EXECUTABLE_VARIABLE)
    if explicit:
        return explicit
    beside = Path(sys.executable).parent / "milvus-server"
    if beside.exists():
        return str(beside)
    return shutil.which("milvus-server")


def _free_ports(n: int) -> list[int]:
    sockets = []
    try:
        for _ in range(n):
            sock = socket.socket()
            sock.bind(("127.0.0.1", 0))
            sockets.append(sock)
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def _etcd_config(client_port: int, peer_port: int) -> str:
    client = f"http://127.0.0.1:{client_port}"
    peer = f"http://127.0.0.1:{peer_port}"
    return (
        f"name: default\nlisten-peer-urls: {peer}\ninitial-advertise-peer-urls: {peer}\n"
        f"initial-cluster: default={peer}\nlisten-client-urls: {client}\n"
        f"advertise-client-urls: {client}\n"
    )


class MilvusServer:
    """One ``milvus-server`` process group; :attr:`uri` once :meth:`start` returned."""

    def __init__(self, executable: str, base_dir: Path, startup_timeout_s: float = 240) -> None:
        self.executable = executable
        self.base_dir = base_dir
        self.log_path = base_dir / "milvus-server.log"
        self.startup_timeout_s = startup_timeout_s
        self.proc: subprocess.Popen[bytes] | None = None
        self.uri = ""
        self.startup_seconds = 0.0

    def start(self) -> MilvusServer:
        """Start on free ports and wait until a client can list collections."""
        from pymilvus import MilvusClient

        *ports, peer_port = _free_ports(len(PORT_FLAGS) + 1)
        argv = [self.executable, "--data", str(self.base_dir / "data")]
        for flag, port in zip(PORT_FLAGS, ports, strict=True):
            argv += [flag, str(port)]
        self.uri = f"http://127.0.0.1:{ports[PORT_FLAGS.index('--proxy-port')]}"
        # The embedded etcd's peer port has no flag (2380 by default, so a second server on the
        # machine failed); Milvus reads an etcd config file named by ETCD_CONFIG_PATH.
        etcd_config = self.base_dir / "etcd.yaml"
        etcd_config.write_text(_etcd_config(ports[0], peer_port), encoding="utf-8")
        env = dict(os.environ, ETCD_CONFIG_PATH=str(etcd_config))
        begin = time.monotonic()
        with self.log_path.open("ab") as log:
            # Its own session: stop() ends the wrapper and the milvus binary it runs, together.
            self.proc = subprocess.Popen(
                argv,
                stdout=log,
                stderr=log,
                stdin=subprocess.DEVNULL,
                env=env,
                start_new_session=True,
            )
        atexit.register(self.stop)
        while time.monotonic() - begin < self.startup_timeout_s:
            if self.proc.poll() is not None:
                raise RuntimeError(f"milvus-server exited:\n{self.log_tail()}")
            try:
                client = MilvusClient(uri=self.uri, timeout=2)
                client.list_collections()
                client.close()
                self.startup_seconds = time.monotonic() - begin
                return self
            except Exception:
                time.sleep(1)
        self.stop()
        raise TimeoutError(f"milvus-server not ready in {self.startup_timeout_s} s")

    def log_tail(self, chars: int = 3000) -> str:
        """The end of the server's own output (startup errors show here)."""
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return ""

    def stop(self) -> None:
        """SIGTERM the process group, SIGKILL it after 20 s."""
        proc, self.proc = self.proc, None
        if proc is None:
            return
        for sig, wait_s in ((signal.SIGTERM, 20.0), (signal.SIGKILL, 10.0)):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, sig)
            try:
                proc.wait(wait_s)
                break
            except subprocess.TimeoutExpired:
                continue
        with contextlib.suppress(ProcessLookupError):  # the milvus binary may outlive the wrapper
            os.killpg(proc.pid, signal.SIGKILL)

    def __enter__(self) -> MilvusServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
