"""``LocalServer``: run the compatible server in a background thread (tests, demos, notebooks);
:func:`run_workers`: run it as several uvicorn worker processes behind one port.

with LocalServer(data_dir=tmp_path) as server:
    httpx.get(server.url + "/health")
"""

from __future__ import annotations

import contextlib
import json
import logging
import multiprocessing
import os
import signal
import socket
import threading
import time
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from types import TracebackType
from typing import Any

from langchain_zilliz_bailian.server.app import DEFAULT_API_KEY, create_app
from langchain_zilliz_bailian.server.apps import AppSpec
from langchain_zilliz_bailian.server.context import check_exposure
from langchain_zilliz_bailian.server.embeddings import Embedder
from langchain_zilliz_bailian.server.faults import FaultConfig, FaultInjector
from langchain_zilliz_bailian.server.fetch import DEFAULT_FETCH_DEADLINE_S
from langchain_zilliz_bailian.server.limits import DEFAULT_MAX_BODY_BYTES

#: Where :func:`run_workers` hands each worker process its ``create_app`` arguments (JSON).
WORKER_CONFIG_VARIABLE = "ZILLIZ_BAILIAN_WORKER_CONFIG"
#: How often a worker process checks that the process that started it is still there.
PARENT_CHECK_INTERVAL_S = 0.5
#: How long a worker whose supervisor is gone may take to finish its requests.
ORPHAN_DRAIN_S = 30.0

logger = logging.getLogger(__name__)


class LocalServer:
    """uvicorn on a loopback port (``port=0`` picks a free one), started and stopped from Python."""

    def __init__(
        self,
        *,
        data_dir: str | Path | None = None,
        api_key: str = DEFAULT_API_KEY,
        host: str = "127.0.0.1",
        port: int = 0,
        milvus_uri: str | None = None,
        milvus_token: str | None = None,
        lite_process: bool = False,
        embedder: str | Embedder | None = None,
        model_dir: str | Path | None = None,
        model_download: bool = False,
        embedding_fallback: bool = False,
        default_pipeline_ids: list[str] | None = None,
        default_app_id: str | None = None,
        any_app_id: bool = False,
        default_system_prompt: str = "",
        apps: Sequence[AppSpec | dict[str, Any]] = (),
        legacy: bool = False,
        stream_interval_ms: int = 5,
        faults: FaultConfig | None = None,
        max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
        allow_private_fetch: bool = False,
        fetch_deadline_s: float = DEFAULT_FETCH_DEADLINE_S,
        admin_key: str | None = None,
        startup_timeout: float = 60.0,
        log_level: str = "warning",
    ) -> None:
        check_exposure(host, api_key)
        self.api_key = api_key
        self.host = host
        self._requested_port = port
        self.faults = FaultInjector(faults)
        self.app = create_app(
            data_dir=data_dir,
            api_key=api_key,
            milvus_uri=milvus_uri,
            milvus_token=milvus_token,
            lite_process=lite_process,
            embedder=embedder,
            model_dir=model_dir,
            model_download=model_download,
            embedding_fallback=embedding_fallback,
            default_pipeline_ids=default_pipeline_ids,
            default_app_id=default_app_id,
            any_app_id=any_app_id,
            default_system_prompt=default_system_prompt,
            apps=apps,
            legacy=legacy,
            stream_interval_ms=stream_interval_ms,
            faults=self.faults,
            max_body_bytes=max_body_bytes,
            allow_private_fetch=allow_private_fetch,
            fetch_deadline_s=fetch_deadline_s,
            admin_key=admin_key,
        )
        self.data_dir: Path = self.app.state.settings.data_dir
        self._startup_timeout = startup_timeout
        self._log_level = log_level
        self._server: Any = None
        self._thread: threading.Thread | None = None
        self._socket: socket.socket | None = None
        self.port: int = 0
        self.startup_seconds: float = 0.0

    def __repr__(self) -> str:
        return f"LocalServer(url={self.url!r}, data_dir={str(self.data_dir)!r}, api_key='***')"

    @property
    def url(self) -> str:
        """Root URL, e.g. ``http://127.0.0.1:8765``."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def zilliz_base_url(self) -> str:
        """Base URL for the Pipelines client (``/v1/pipelines`` is appended by the client)."""
        return self.url

    @property
    def bailian_base_url(self) -> str:
        """Base URL for the Bailian client (``{base}/apps/{id}/completion``)."""
        return self.url + "/api/v1"

    @property
    def milvus_uri(self) -> str:
        """Where a pymilvus client of this user reaches the server's Milvus while it runs.

        With Milvus Lite, a ``unix:`` socket only this user can open (for benchmarks and
        inspection); with ``milvus_uri=``, that URI.
        """
        return str(self.app.state.context.storage.client_uri)

    def start(self) -> LocalServer:
        """Bind, start uvicorn in a daemon thread and wait until the lifespan has opened storage."""
        import uvicorn

        if self._thread is not None:
            raise RuntimeError("server already started")
        begin = time.perf_counter()
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        # proto=IPPROTO_TCP matters: asyncio only sets TCP_NODELAY on accepted sockets whose proto
        # says TCP; with proto 0, small responses stall ~40 ms on delayed ACKs (Nagle).
        sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.host, self._requested_port))
        self._socket = sock
        self.port = sock.getsockname()[1]
        config = uvicorn.Config(
            self.app,
            log_level=self._log_level,
            lifespan="on",
            # The host process owns its event loop policy: never install uvloop's from here
            # (the CLI, a process of its own, lets uvicorn pick uvloop).
            loop="asyncio",
            access_log=False,
            timeout_graceful_shutdown=2,
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._serve, args=(sock,), daemon=True, name="zb-server"
        )
        self._thread.start()
        deadline = time.monotonic() + self._startup_timeout
        while not self._server.started:
            if not self._thread.is_alive():
                self._thread = None
                self._socket = None
                sock.close()
                # The lifespan keeps the reason (a data dir in use, an unreachable Milvus, ...).
                error: BaseException | None = getattr(self.app.state, "startup_error", None)
                if error is not None:
                    raise error
                raise RuntimeError("the local server failed to start (see the log above)")
            if time.monotonic() > deadline:
                self.stop()
                raise TimeoutError("the local server did not start in time")
            time.sleep(0.01)
        self.startup_seconds = time.perf_counter() - begin
        return self

    def _serve(self, sock: socket.socket) -> None:
        """uvicorn's loop, in the thread. A failed startup raises ``SystemExit`` (newer uvicorn),
        which must end the thread, not reach its excepthook: :meth:`start` reports the cause."""
        with contextlib.suppress(SystemExit):
            self._server.run(sockets=[sock])

    def stop(self) -> None:
        """Ask uvicorn to exit, wait for the lifespan shutdown (closes Milvus), release the port."""
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=30)
            self._thread = None
        if self._socket is not None:
            self._socket.close()
            self._socket = None

    def __enter__(self) -> LocalServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def run_workers(
    app_options: dict[str, Any], *, host: str, port: int, workers: int, log_level: str
) -> None:
    """Serve ``create_app(**app_options)`` from ``workers`` uvicorn processes sharing one socket.

    Every worker opens its own storage, so all state must live in a Milvus server
    (``milvus_uri``): Milvus Lite allows one process per data dir. Each worker gets the options
    through :data:`WORKER_CONFIG_VARIABLE` (an environment variable, readable only by this user,
    unlike the command line); an embedder must be given as its ``module:callable`` spec.
    """
    import uvicorn

    if workers > 1 and not app_options.get("milvus_uri"):
        raise ValueError("several workers need a Milvus server (milvus_uri)")
    options = dict(app_options)
    faults = options.pop("faults", None)
    if isinstance(faults, FaultConfig):
        options["fault_config"] = asdict(faults)
    for key in ("data_dir", "model_dir"):
        if options.get(key) is not None:
            options[key] = str(options[key])
    options["apps"] = [
        spec.model_dump(mode="json") if isinstance(spec, AppSpec) else spec
        for spec in options.get("apps", ())
    ]
    os.environ[WORKER_CONFIG_VARIABLE] = json.dumps(options)
    uvicorn.run(
        f"{__name__}:worker_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level=log_level,
    )


def worker_app() -> Any:
    """The app of one worker process started by :func:`run_workers` (a uvicorn factory)."""
    _exit_with_parent()
    options: dict[str, Any] = json.loads(os.environ[WORKER_CONFIG_VARIABLE])
    fault_config = options.pop("fault_config", None)
    if fault_config is not None:
        options["faults"] = FaultConfig(**fault_config)
    return create_app(**options)


def _exit_with_parent(drain_s: float = ORPHAN_DRAIN_S) -> None:
    """Shut this worker down once the uvicorn supervisor that started it is gone: SIGTERM (its
    requests finish, usage is flushed), then a hard exit if that takes over ``drain_s``. A
    supervisor killed with SIGKILL cannot stop its workers, which would serve on as orphans,
    still holding the port. The supervisor is the process that spawned this one, even if it
    died before this worker got here."""
    spawner = multiprocessing.parent_process()
    parent = spawner.pid if spawner is not None and spawner.pid else os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(PARENT_CHECK_INTERVAL_S)
        logger.warning("the supervisor process %d is gone; this worker shuts down", parent)
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(drain_s)
        logger.error("still running %g s after its supervisor died; exiting now", drain_s)
        os._exit(1)

    threading.Thread(target=watch, name="zb-parent-watch", daemon=True).start()
