"""Search throughput and tail latency under concurrent clients: the server against pymilvus.

The server runs as its own process (``python -m langchain_zilliz_bailian serve``), as users run
it, so the load generator does not share its interpreter. For each concurrency (1, 8 and 32 by
default) that many clients search for ``--seconds`` seconds: keep-alive connections posting
``/v1/pipelines/{search}/run`` to the server (``--client raw``: the lean load generator of
``load_client.py``; ``--client httpx``: httpx's ``AsyncClient``), then threads making the same
searches directly through pymilvus (embedding the query with the same embedder, then
``MilvusClient.search`` on the same collection): the floor. Requests per second and p50/p99
latency are reported for both, and (on Linux) the CPU per request spent by the server's processes
and by the load generator.

    python scripts/bench_concurrency.py                                  # Milvus Lite
    python scripts/bench_concurrency.py --milvus-uri http://127.0.0.1:19530 --workers 2

With Milvus Lite (one process per data dir) the floor opens the data dir after the server has
stopped; with a Milvus server both reach the same collection. Goal (issue 10, item 4): at 32
clients the server's throughput is at least 0.8x the floor's, and its p99 under 10x its
single-client latency.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from bench_data import (
    QUERIES,
    floor_search,
    ingest,
    make_pipelines,
    percentile,
    search_body,
    settle,
    synthetic_texts,
    wait_indexed,
)
from load_client import encode_post, run_load

from langchain_zilliz_bailian.server import DEFAULT_API_KEY, LexicalEmbedder

ROOT = Path(__file__).resolve().parents[1]


@dataclass
class Run:
    """One load level: requests per second and latency quantiles (ms)."""

    clients: int
    rps: float
    p50_ms: float
    p99_ms: float
    server_cpu_ms: float = float("nan")  # CPU per request, the server's processes
    client_cpu_ms: float = float("nan")  # CPU per request, the load generator (this process)


def _tree_cpu_s(pid: int) -> float:
    """CPU seconds (user + system) used so far by ``pid`` and its descendants (Linux /proc)."""
    stats: dict[int, tuple[int, float]] = {}
    tick = os.sysconf("SC_CLK_TCK")
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rpartition(")")[2].split()
        except OSError:
            continue
        stats[int(entry.name)] = (int(fields[1]), (int(fields[11]) + int(fields[12])) / tick)
    total, frontier = 0.0, {pid}
    while frontier:
        total += sum(stats[p][1] for p in frontier if p in stats)
        frontier = {child for child, (parent, _) in stats.items() if parent in frontier}
    return total


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class ServeProcess:
    """``zilliz-bailian serve`` as a child process (the CLI users run)."""

    def __init__(
        self, data_dir: Path, milvus_uri: str | None, workers: int, in_process: bool = False
    ) -> None:
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        argv = [sys.executable, "-m", "langchain_zilliz_bailian", "serve"]
        argv += ["--embedder", "lexical", "--embedding-fallback"]  # it re-embeds lexically
        path = [str(ROOT), os.environ.get("PYTHONPATH", "")]
        argv += ["--port", str(self.port), "--data-dir", str(data_dir), "--log-level", "warning"]
        # The floor embeds with the lexical embedder; the server must do the same work.
        argv += ["--embedder", "lexical"]
        if milvus_uri:
            argv += ["--milvus-uri", milvus_uri]
        if workers > 1:
            argv += ["--workers", str(workers)]
        if in_process:
            argv += ["--lite-in-process"]
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(path))
        self.process = subprocess.Popen(argv, env=env, stdin=subprocess.DEVNULL)

    def wait_ready(self, timeout_s: float = 120) -> None:
        """Until ``/health`` answers (each worker opens storage before serving)."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited with {self.process.returncode}")
            try:
                if httpx.get(self.url + "/health", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise TimeoutError("server did not start")

    def stop(self) -> None:
        """SIGTERM, then SIGKILL if it lingers."""
        self.process.terminate()
        try:
            self.process.wait(30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(10)


async def _server_load_raw(url: str, search_id: str, clients: int, seconds: float) -> Run:
    headers = {"Authorization": f"Bearer {DEFAULT_API_KEY}"}
    path = f"/v1/pipelines/{search_id}/run"
    requests = [encode_post(url, path, search_body(q), headers) for q in QUERIES]
    latencies, elapsed = await run_load(url, requests, clients, seconds)
    return _run(clients, latencies, elapsed)


async def _server_load_httpx(url: str, search_id: str, clients: int, seconds: float) -> Run:
    latencies: list[float] = []
    headers = {"Authorization": f"Bearer {DEFAULT_API_KEY}"}
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    stop_at = time.perf_counter() + 0.5  # warm-up: open every connection
    async with httpx.AsyncClient(base_url=url, headers=headers, timeout=120, limits=limits) as http:

        async def client(no: int) -> None:
            i = no
            while time.perf_counter() < stop_at:
                begin = time.perf_counter()
                resp = await http.post(
                    f"/v1/pipelines/{search_id}/run", json=search_body(QUERIES[i % len(QUERIES)])
                )
                latencies.append(time.perf_counter() - begin)
                if resp.status_code != 200:
                    raise RuntimeError(resp.text)
                i += 1

        await asyncio.gather(*(client(n) for n in range(clients)))
        latencies.clear()
        start = time.perf_counter()
        stop_at = start + seconds
        await asyncio.gather(*(client(n) for n in range(clients)))
        elapsed = time.perf_counter() - start
    return _run(clients, latencies, elapsed)


def _floor_load(milvus: Any, collection: str, clients: int, seconds: float) -> Run:
    embedder = LexicalEmbedder()
    latencies: list[float] = []
    lock = threading.Lock()

    def client(no: int, stop_at: float) -> None:
        i = no
        while time.perf_counter() < stop_at:
            begin = time.perf_counter()
            vector = embedder.embed([QUERIES[i % len(QUERIES)]])[0]
            floor_search(milvus, collection, vector)
            with lock:
                latencies.append(time.perf_counter() - begin)
            i += 1

    with ThreadPoolExecutor(clients) as pool:
        list(pool.map(client, range(clients), [time.perf_counter() + 0.5] * clients))
        latencies.clear()
        start = time.perf_counter()
        list(pool.map(client, range(clients), [start + seconds] * clients))
        elapsed = time.perf_counter() - start
    return _run(clients, latencies, elapsed)


def _run(clients: int, latencies: list[float], elapsed: float) -> Run:
    return Run(
        clients,
        len(latencies) / elapsed,
        statistics.median(latencies) * 1000,
        percentile(latencies, 0.99) * 1000,
    )


def _freeze_gc() -> None:
    """Take what setup built out of this process's garbage collection before a load phase: a
    full collection here (60-90 ms on the 2-core machine) would land in the tail latencies this
    process measures, of the server's and of the floor's searches alike."""
    gc.collect()
    gc.freeze()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--chunks", type=int, default=1000)
    parser.add_argument("--clients", type=int, nargs="+", default=[1, 8, 32])
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--milvus-uri", default=None, help="a Milvus server (default: Lite)")
    parser.add_argument(
        "--start-milvus-server",
        action="store_true",
        help="start the test extra's milvus-server for the run (Linux x86_64) and use it",
    )
    parser.add_argument(
        "--lite-in-process",
        action="store_true",
        help="serve Milvus Lite inside the server process (default: its own process)",
    )
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument(
        "--client", choices=("raw", "httpx"), default="raw", help="the server's load generator"
    )
    args = parser.parse_args(argv)
    if args.start_milvus_server:
        sys.path.insert(0, str(ROOT))
        from tests.server.milvus_server import MilvusServer, find_executable

        executable = find_executable()
        if executable is None:
            parser.error("milvus-server not found: install the test extra (Linux x86_64)")
        with tempfile.TemporaryDirectory() as tmp, MilvusServer(executable, Path(tmp)) as milvus:
            rest = [a for a in (argv or sys.argv[1:]) if a != "--start-milvus-server"]
            return main([*rest, "--milvus-uri", milvus.uri])
    from pymilvus import MilvusClient

    collection = f"conc_{uuid.uuid4().hex[:8]}"
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp)
        server = ServeProcess(data_dir, args.milvus_uri, args.workers, args.lite_in_process)
        try:
            server.wait_ready()
            headers = {"Authorization": f"Bearer {DEFAULT_API_KEY}"}
            with httpx.Client(base_url=server.url, headers=headers, timeout=120) as http:
                ingestion_id, search_id = make_pipelines(http, collection)
                ingest(http, ingestion_id, synthetic_texts(args.chunks))

                def one(i: int) -> None:
                    http.post(f"/v1/pipelines/{search_id}/run", json=search_body(QUERIES[i % 4]))

                if args.milvus_uri:
                    wait_indexed(MilvusClient(uri=args.milvus_uri), collection, args.chunks)
                settle(one)
            load = _server_load_raw if args.client == "raw" else _server_load_httpx
            _freeze_gc()
            ours = []
            for n in args.clients:
                cpu = _tree_cpu_s(server.process.pid), time.process_time()
                run = asyncio.run(load(server.url, search_id, n, args.seconds))
                requests = run.rps * args.seconds
                run.server_cpu_ms = (_tree_cpu_s(server.process.pid) - cpu[0]) / requests * 1e3
                run.client_cpu_ms = (time.process_time() - cpu[1]) / requests * 1e3
                ours.append(run)
        finally:
            server.stop()
        milvus = MilvusClient(uri=args.milvus_uri or str(data_dir / "milvus.db"))
        try:
            milvus.load_collection(collection)  # released when the Lite server stopped
            embedder = LexicalEmbedder()
            settle(lambda i: floor_search(milvus, collection, embedder.embed([QUERIES[i % 4]])[0]))
            _freeze_gc()
            floor = []
            for n in args.clients:
                cpu = time.process_time()
                run = _floor_load(milvus, collection, n, args.seconds)
                run.client_cpu_ms = (time.process_time() - cpu) / (run.rps * args.seconds) * 1e3
                floor.append(run)
        finally:
            milvus.close()
    backend = f"Milvus server, {args.workers} worker(s)" if args.milvus_uri else "Milvus Lite"
    if not args.milvus_uri:
        backend += " in the server process" if args.lite_in_process else " in its own process"
    print(f"{backend}, {args.chunks:,} chunks, {args.seconds:g} s per level, {args.client} client")
    print(
        "| clients | server req/s | server p50 (ms) | server p99 (ms) | pymilvus req/s "
        "| pymilvus p50 (ms) | pymilvus p99 (ms) | throughput ratio "
        "| server CPU/req (ms) | load CPU/req (ms) | pymilvus CPU/req (ms) |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for a, b in zip(ours, floor, strict=True):
        print(
            f"| {a.clients} | {a.rps:.1f} | {a.p50_ms:.1f} | {a.p99_ms:.1f} | {b.rps:.1f} "
            f"| {b.p50_ms:.1f} | {b.p99_ms:.1f} | {a.rps / b.rps:.2f}x "
            f"| {a.server_cpu_ms:.2f} | {a.client_cpu_ms:.2f} | {b.client_cpu_ms:.2f} |"
        )
    single = ours[0].p50_ms
    last, last_floor = ours[-1], floor[-1]
    ok = last.rps >= 0.8 * last_floor.rps and last.p99_ms < 10 * single
    print(
        f"at {last.clients} clients: {last.rps / last_floor.rps:.2f}x the floor's throughput "
        f"(goal >= 0.8x), p99 {last.p99_ms / single:.1f}x the single-client p50 (goal < 10x)"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
