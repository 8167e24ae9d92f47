"""Crash test: every acknowledged ingestion survives a SIGKILL of the server (issue 10, item 1).

Each round starts ``python -m langchain_zilliz_bailian serve`` on the same data dir, runs
concurrent async text ingestion through :class:`ZillizPipelinesClient` (``--concurrency``
requests in flight), SIGKILLs the server mid-run, and checks, with the server dead, that every
acknowledged id (a 200 with its id, in this round or any earlier one) is stored with its exact
text, its preserved ``score`` and a finite vector equal to the embedding of that text (an exact
query by id, not a vector search). The next round's restart must also answer a search with
finite distances.

    python scripts/crash_test.py --kills 20 --concurrency 4 --batch 8

Exit status 0 when nothing acknowledged is missing or damaged. The child servers get a
bytecode cache directory (``PYTHONPYCACHEPREFIX``) so that a restart costs about a second even
when the environment disables writing bytecode; it changes nothing else.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import math
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from langchain_zilliz_bailian.server import DEFAULT_API_KEY, LexicalEmbedder
from langchain_zilliz_bailian.server.storage import Storage
from langchain_zilliz_bailian.zilliz import ZillizPipelinesClient

PROJECT = "proj-crashtest"
CLUSTER = "in03-crashtest"
COLLECTION = "crash_texts"
WORDS = "archive backup cluster daemon engine folder gateway harbor index journal kernel ledger"


@dataclass
class CrashConfig:
    """Size of one run."""

    kills: int = 20
    concurrency: int = 4
    batch: int = 8
    min_acks_per_round: int = 4
    jitter_s: float = 0.4
    seed: int = 0
    data_dir: Path | None = None
    pycache_dir: Path | None = None
    startup_timeout_s: float = 60.0
    verify_every_kill: bool = True
    final_restart: bool = True
    #: A Milvus server shared by the server processes (default: Milvus Lite in the data dir).
    milvus_uri: str | None = None
    collection: str = COLLECTION


@dataclass
class CrashReport:
    """What a run acknowledged and what the engine still holds."""

    kills: int = 0
    requests_acknowledged: int = 0
    rows_acknowledged: int = 0
    missing: int = 0
    corrupted: int = 0
    seconds: float = 0.0
    ingest_seconds: float = 0.0
    acks_per_round: list[int] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.missing == 0 and self.corrupted == 0 and not self.problems

    def summary(self) -> str:
        rate = self.rows_acknowledged / self.ingest_seconds if self.ingest_seconds else 0.0
        return (
            f"kills={self.kills} acknowledged={self.rows_acknowledged} rows "
            f"({self.requests_acknowledged} requests) missing={self.missing} "
            f"corrupted={self.corrupted} time={self.seconds:.1f}s "
            f"ingest={rate:.0f} rows/s acks/round={self.acks_per_round}"
            + (f" problems={self.problems[:5]}" if self.problems else "")
        )


@dataclass
class Row:
    """What one acknowledged id must still hold."""

    text: str
    score: float


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class _PortTaken(Exception):
    """The port picked for the server was bound by another process before the server got it."""


class ServerProcess:
    """``zilliz-bailian serve`` as a child process that can be SIGKILLed."""

    def __init__(
        self,
        data_dir: Path,
        pycache_dir: Path,
        log_path: Path,
        extra_args: Sequence[str] = (),
    ) -> None:
        self.data_dir = data_dir
        self.extra_args = list(extra_args)
        self.log_path = log_path
        self.env = dict(os.environ)
        self.env.pop("PYTHONDONTWRITEBYTECODE", None)
        self.env["PYTHONPYCACHEPREFIX"] = str(pycache_dir)
        self.proc: subprocess.Popen[bytes] | None = None
        self.url = ""

    def start(self, timeout_s: float) -> str:
        """Start on a free port; retried when another process took that port meanwhile."""
        for _ in range(5):
            try:
                return self._start_once(timeout_s)
            except _PortTaken:
                continue
        raise RuntimeError("no free port after 5 attempts")

    def _start_once(self, timeout_s: float) -> str:
        port = _free_port()
        log_start = self.log_path.stat().st_size if self.log_path.exists() else 0
        cmd = [sys.executable, "-m", "langchain_zilliz_bailian", "serve"]
        cmd += ["--data-dir", str(self.data_dir), "--port", str(port), "--log-level", "warning"]
        # verify() recomputes every stored vector with the lexical embedder.
        cmd += ["--embedder", "lexical", "--embedding-fallback"]
        cmd += self.extra_args
        with self.log_path.open("ab") as sink:
            self.proc = subprocess.Popen(cmd, env=self.env, stdout=sink, stderr=sink)
        self.url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                log = self.log_path.read_bytes()[log_start:].decode(errors="replace")
                self.proc = None
                if "address already in use" in log.lower():
                    raise _PortTaken
                raise RuntimeError(f"server exited:\n{log[-2000:]}")
            try:
                if httpx.get(self.url + "/health", timeout=1).status_code == 200:
                    return self.url
            except httpx.HTTPError:
                pass
            time.sleep(0.05)
        self.kill()
        tail = self.log_path.read_text(errors="replace")[-2000:]
        raise RuntimeError(f"server did not start within {timeout_s} s:\n{tail}")

    def kill(self) -> None:
        """SIGKILL: no shutdown hook, no flush, no close, for the server and its uvicorn worker
        processes (``--workers``), which would otherwise serve on as orphans. Its Milvus Lite
        process is left to close the database as it does when its parent dies; that is awaited
        (after a large ingestion on a loaded machine it took more than the 5 s a new server
        waits for the data dir's lock), so the next start or the check finds the dir free."""
        if self.proc is not None and self.proc.poll() is None:
            children = _children(self.proc.pid)
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()
            for child in children:
                if not _is_lite_process(child):
                    with contextlib.suppress(OSError):
                        os.kill(child, signal.SIGKILL)
            _wait_gone(children, CHILD_EXIT_TIMEOUT_S)
        self.proc = None


#: How long a killed server's child processes may take to exit.
CHILD_EXIT_TIMEOUT_S = 120.0


def _children(pid: int) -> set[int]:
    """The direct child processes of ``pid`` (Linux ``/proc``; empty elsewhere)."""
    found: set[int] = set()
    for listing in Path(f"/proc/{pid}/task").glob("*/children"):
        with contextlib.suppress(OSError):
            found.update(int(child) for child in listing.read_text().split())
    return found


def _is_lite_process(pid: int) -> bool:
    try:
        command = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False
    return b"langchain_zilliz_bailian.server.lite_process" in command


def _running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
    except (OSError, IndexError):
        return False
    return state not in ("Z", "X")  # a zombie has exited (and let go of its locks)


def _wait_gone(pids: set[int], timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while any(_running(pid) for pid in pids):
        if time.monotonic() > deadline:
            raise RuntimeError(f"child processes {sorted(pids)} still run {timeout_s:g} s after")
        time.sleep(0.05)


def _client(url: str) -> ZillizPipelinesClient:
    return ZillizPipelinesClient(base_url=url, api_key=DEFAULT_API_KEY, timeout=30, max_retries=0)


def create_pipelines(url: str, collection: str = COLLECTION) -> tuple[str, str]:
    """An INDEX_TEXT pipeline (with a Double ``score``) and its SEARCH pipeline."""
    with _client(url) as client:
        ingestion = client.create(
            {
                "name": "crash_ingestion",
                "type": "INGESTION",
                "projectId": PROJECT,
                "clusterId": CLUSTER,
                "collectionName": collection,
                "functions": [
                    {"name": "index_texts", "action": "INDEX_TEXT", "language": "ENGLISH"},
                    {
                        "name": "keep_score",
                        "action": "PRESERVE",
                        "inputField": "score",
                        "outputField": "score",
                        "fieldType": "Double",
                    },
                ],
            }
        )
        search = client.create(
            {
                "name": "crash_search",
                "type": "SEARCH",
                "projectId": PROJECT,
                "functions": [
                    {
                        "name": "search_texts",
                        "action": "SEARCH_TEXT",
                        "clusterId": CLUSTER,
                        "collectionName": collection,
                    }
                ],
            }
        )
    return ingestion.pipeline_id, search.pipeline_id


def _texts(round_no: int, worker: int, n: int, batch: int) -> list[str]:
    words = WORDS.split()
    return [
        f"round {round_no} worker {worker} call {n} item {k}: "
        + " ".join(words[(round_no + worker + n + k + j) % len(words)] for j in range(6))
        for k in range(batch)
    ]


async def ingest_until_killed(
    url: str,
    pipeline_id: str,
    round_no: int,
    cfg: CrashConfig,
    server: ServerProcess,
    acked: dict[int, Row],
    rng: random.Random,
) -> int:
    """Ingest with ``cfg.concurrency`` requests in flight; SIGKILL the server mid-run.

    Returns the number of requests acknowledged in this round; their rows go into ``acked``.
    """
    round_acks = 0
    enough = asyncio.Event()
    killed = False
    failures: list[str] = []

    async def worker(client: ZillizPipelinesClient, worker_no: int) -> None:
        nonlocal round_acks
        n = 0
        while True:
            texts = _texts(round_no, worker_no, n, cfg.batch)
            score = round_no * 1e6 + worker_no * 1e3 + n + 0.25
            try:
                result = await client.aingest_texts(pipeline_id, texts, metadata={"score": score})
            except Exception as exc:  # after the kill: reset/refused, outcome unknown
                if not killed:
                    failures.append(f"round {round_no}: {type(exc).__name__}: {exc}")
                return
            if len(result.ids) != len(texts):
                raise AssertionError(f"{len(texts)} texts acknowledged with {result.ids}")
            for id_, text in zip(result.ids, texts, strict=True):
                acked[int(id_)] = Row(text, score)
            round_acks += 1
            if round_acks >= cfg.min_acks_per_round:
                enough.set()
            n += 1

    async with _client(url) as client:
        workers = asyncio.gather(*(worker(client, w) for w in range(cfg.concurrency)))
        waiter = asyncio.ensure_future(enough.wait())
        await asyncio.wait({waiter, workers}, return_when=asyncio.FIRST_COMPLETED)
        if enough.is_set():
            await asyncio.sleep(rng.uniform(0, cfg.jitter_s))
        killed = True
        await asyncio.to_thread(server.kill)
        waiter.cancel()
        await workers
    if failures:
        raise RuntimeError("ingestion failed before the kill: " + "; ".join(failures[:3]))
    return round_acks


def verify(
    data_dir: Path,
    acked: dict[int, Row],
    milvus_uri: str | None = None,
    collection: str = COLLECTION,
) -> tuple[int, int, list[str]]:
    """Open the (dead) server's data dir, or the Milvus server, and query every acknowledged id.

    Returns (missing, corrupted, problems): a row is corrupted when its text or score differs,
    or its vector is not finite or not the embedding of its text.
    """
    embedder = LexicalEmbedder()
    missing = corrupted = 0
    problems: list[str] = []
    storage = Storage(data_dir, milvus_uri)
    try:
        ids = sorted(acked)
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            rows = storage.get_rows(collection, chunk, ["id", "text", "score", "embedding"])
            found = {int(r["id"]): r for r in rows}
            for id_ in chunk:
                row, want = found.get(id_), acked[id_]
                if row is None:
                    missing += 1
                    problems.append(f"missing {id_}")
                    continue
                vector = [float(v) for v in row["embedding"]]
                expected = embedder.embed([want.text])[0]
                damaged = (
                    row["text"] != want.text
                    or row["score"] != want.score
                    or not all(math.isfinite(v) for v in vector)
                    or len(vector) != len(expected)
                    or any(abs(a - b) > 1e-5 for a, b in zip(vector, expected, strict=False))
                )
                if damaged:
                    corrupted += 1
                    problems.append(f"corrupted {id_}: {row['text'][:40]!r}")
    finally:
        storage.close()
    return missing, corrupted, problems


def search_is_finite(url: str, search_id: str) -> str | None:
    """A problem description, or None when a search answers JSON with finite distances."""
    body = {
        "data": {"query_text": "archive backup cluster"},
        "params": {"limit": 50, "offset": 0, "outputFields": [], "filter": ""},
    }
    headers = {"Authorization": f"Bearer {DEFAULT_API_KEY}"}
    resp = httpx.post(f"{url}/v1/pipelines/{search_id}/run", json=body, headers=headers, timeout=30)
    try:
        data: Any = resp.json()
    except ValueError:
        return f"search answered non-JSON {resp.status_code}: {resp.text[:80]!r}"
    if resp.status_code != 200 or data.get("code") != 200:
        return f"search answered {resp.status_code}: {data}"
    if not all(math.isfinite(hit["distance"]) for hit in data["data"]["result"]):
        return "search returned a non-finite distance"
    return None


def run_crash_test(cfg: CrashConfig) -> CrashReport:
    """``cfg.kills`` rounds of start, concurrent ingestion, SIGKILL and an exact check."""
    report = CrashReport()
    started = time.monotonic()
    rng = random.Random(cfg.seed)
    with tempfile.TemporaryDirectory(prefix="zb-crash-") as scratch:
        data_dir = cfg.data_dir or Path(scratch) / "data"
        pycache = cfg.pycache_dir or Path(scratch) / "pycache"
        extra = ["--milvus-uri", cfg.milvus_uri] if cfg.milvus_uri else []
        server = ServerProcess(data_dir, pycache, Path(scratch) / "server.log", extra)
        acked: dict[int, Row] = {}
        ingestion_id = search_id = ""
        try:
            for round_no in range(cfg.kills):
                url = server.start(cfg.startup_timeout_s)
                if round_no == 0:
                    ingestion_id, search_id = create_pipelines(url, cfg.collection)
                elif (problem := search_is_finite(url, search_id)) is not None:
                    report.problems.append(f"after kill {round_no}: {problem}")
                t0 = time.monotonic()
                acks = asyncio.run(
                    ingest_until_killed(url, ingestion_id, round_no, cfg, server, acked, rng)
                )
                report.ingest_seconds += time.monotonic() - t0
                report.kills += 1
                report.requests_acknowledged += acks
                report.acks_per_round.append(acks)
                if cfg.verify_every_kill or round_no == cfg.kills - 1:
                    missing, corrupted, problems = verify(
                        data_dir, acked, cfg.milvus_uri, cfg.collection
                    )
                    report.missing, report.corrupted = missing, corrupted
                    report.problems.extend(f"after kill {round_no + 1}: {p}" for p in problems)
            if cfg.final_restart:
                url = server.start(cfg.startup_timeout_s)
                if (problem := search_is_finite(url, search_id)) is not None:
                    report.problems.append(f"after the last kill: {problem}")
        finally:
            server.kill()
        report.rows_acknowledged = len(acked)
    report.seconds = time.monotonic() - started
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--kills", type=int, default=20)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--batch", type=int, default=8, help="texts per ingestion request")
    parser.add_argument("--min-acks", type=int, default=20, help="acks per round before the kill")
    parser.add_argument("--jitter", type=float, default=1.0, help="random extra seconds")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--data-dir", type=Path, default=None)
    parser.add_argument("--pycache-dir", type=Path, default=None, help="reused bytecode cache")
    parser.add_argument("--verify-at-end", action="store_true", help="one check after all kills")
    parser.add_argument("--milvus-uri", default=None, help="a Milvus server instead of Lite")
    args = parser.parse_args(argv)
    cfg = CrashConfig(
        kills=args.kills,
        concurrency=args.concurrency,
        batch=args.batch,
        min_acks_per_round=args.min_acks,
        jitter_s=args.jitter,
        seed=args.seed,
        data_dir=args.data_dir,
        pycache_dir=args.pycache_dir,
        verify_every_kill=not args.verify_at_end,
        milvus_uri=args.milvus_uri,
    )
    report = run_crash_test(cfg)
    print(report.summary())
    return 0 if report.ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
