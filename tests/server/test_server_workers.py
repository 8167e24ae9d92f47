"""Worker processes of ``serve --workers N`` shut down when their supervisor is gone
(:func:`langchain_zilliz_bailian.server.runner._exit_with_parent`): a supervisor killed with
SIGKILL cannot stop them, and they would serve on as orphans, holding the port."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.server.scripts import load_script

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")

ROOT = Path(__file__).resolve().parents[2]


class Supervisor:
    """uvicorn serving ``tests.server.orphan_app`` from 2 worker processes."""

    def __init__(self, startup_s: float) -> None:
        self.crash = load_script("crash_test")
        self.port = self.crash._free_port()
        code = (
            "import uvicorn; uvicorn.run('tests.server.orphan_app:create', factory=True, "
            f"host='127.0.0.1', port={self.port}, workers=2, log_level='warning')"
        )
        env = dict(
            os.environ,
            PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
            ORPHAN_TEST_STARTUP_S=str(startup_s),
        )
        self.process = subprocess.Popen([sys.executable, "-c", code], env=env)
        self.workers: set[int] = set()

    def wait_for_workers(self) -> set[int]:
        """Its 2 worker processes (not multiprocessing's resource tracker), once both run."""
        deadline = time.monotonic() + 30
        while len(self.workers) < 2:
            assert time.monotonic() < deadline, "the workers did not start"
            time.sleep(0.05)
            self.workers |= {
                pid for pid in self.crash._children(self.process.pid) if _is_worker(pid)
            }
        return self.workers

    def kill_alone(self) -> None:
        """SIGKILL the supervisor alone, then wait for its workers to exit by themselves."""
        workers = self.wait_for_workers()
        self.process.kill()
        self.process.wait()
        self.crash._wait_gone(workers, 30)

    def cleanup(self) -> None:
        """Leave no process behind, whatever the test did."""
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        for worker in self.workers:
            if self.crash._running(worker):
                with contextlib.suppress(OSError):
                    os.kill(worker, signal.SIGKILL)


def _is_worker(pid: int) -> bool:
    try:
        return b"spawn_main" in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False


@contextlib.contextmanager
def _supervisor(startup_s: float) -> Iterator[Supervisor]:
    supervisor = Supervisor(startup_s)
    try:
        yield supervisor
    finally:
        supervisor.cleanup()


def test_workers_exit_when_their_supervisor_is_killed() -> None:
    with _supervisor(startup_s=0) as supervisor:
        deadline = time.monotonic() + 30
        while True:
            try:
                url = f"http://127.0.0.1:{supervisor.port}/"
                if httpx.get(url, timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "the workers never served"
            time.sleep(0.05)
        supervisor.kill_alone()


def test_workers_exit_when_their_supervisor_died_while_they_started() -> None:
    """The supervisor is gone before a worker reaches its app factory: the worker still knows
    which process spawned it, and does not take its new parent (init) for the supervisor."""
    with _supervisor(startup_s=4) as supervisor:
        supervisor.kill_alone()  # each worker is still "starting" (4 s)
