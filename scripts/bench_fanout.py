"""Fan-out on a cold retriever: 40 concurrent ``ainvoke`` against raw ``httpx.AsyncClient``.

Both sides hit the package's own local server (``LocalServer``, Milvus Lite in a temporary
directory) on loopback, with a text pipeline set and a few ingested texts. Each round builds a
fresh ``ZillizPipelineRetriever`` (no client, pipeline not yet described) and fires 40
``ainvoke`` at once; the baseline is a fresh ``httpx.AsyncClient`` doing the same 40 search
POSTs. Printed: the median wall times, their ratio (target <= 1.3) and the describe calls the
retriever made per round (must be 1: the first uses share one describe).

Run: ``PYTHONPATH=$PWD python scripts/bench_fanout.py [--rounds N] [--calls N]``.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from typing import Any

import httpx

from langchain_zilliz_bailian import ZillizPipelineRetriever
from langchain_zilliz_bailian.server import LocalServer
from langchain_zilliz_bailian.zilliz import ZillizPipelinesClient

TEXTS = [
    "Milvus Lite keeps its data in a local file.",
    "Zilliz Cloud Pipelines embed text on ingestion.",
    "A search pipeline returns the closest chunks.",
    "A deletion pipeline removes chunks by id or expression.",
    "Bailian apps answer with cited documents.",
]
QUERY = "Where does Milvus Lite keep its data?"

Scope = dict[str, Any]
Asgi = Callable[[Scope, Any, Any], Awaitable[None]]


class CountingApp:
    """The server's ASGI app, counting describe calls (``GET /v1/pipelines/{id}``)."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.describes = 0

    @property
    def state(self) -> Any:
        return self.app.state

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        parts = scope.get("path", "").strip("/").split("/")
        if (
            scope["type"] == "http"
            and scope["method"] == "GET"
            and parts[:2] == ["v1", "pipelines"]
        ):
            self.describes += len(parts) == 3
        await self.app(scope, receive, send)


async def raw_fanout(base_url: str, api_key: str, pipeline_id: str, calls: int) -> float:
    """Seconds for ``calls`` concurrent search POSTs from a fresh ``httpx.AsyncClient``."""
    body = {
        "data": {"query_text": QUERY},
        "params": {"limit": 4, "offset": 0, "outputFields": [], "filter": ""},
    }
    headers = {"Authorization": f"Bearer {api_key}"}
    started = time.perf_counter()
    async with httpx.AsyncClient(base_url=base_url, headers=headers, timeout=60) as http:
        url = f"/v1/pipelines/{pipeline_id}/run"
        answers = await asyncio.gather(*(http.post(url, json=body) for _ in range(calls)))
    elapsed = time.perf_counter() - started
    assert all(len(a.json()["data"]["result"]) == 4 for a in answers)
    return elapsed


async def retriever_fanout(base_url: str, api_key: str, pipeline_id: str, calls: int) -> float:
    """Seconds for ``calls`` concurrent ``ainvoke`` on a cold retriever (closed afterwards)."""
    started = time.perf_counter()
    async with ZillizPipelineRetriever(
        pipeline_id=pipeline_id, api_key=api_key, base_url=base_url, k=4
    ) as retriever:
        answers = await asyncio.gather(*(retriever.ainvoke(QUERY) for _ in range(calls)))
    elapsed = time.perf_counter() - started
    assert all(len(documents) == 4 for documents in answers)
    return elapsed


async def measure(server: LocalServer, counter: CountingApp, search_id: str, args: Any) -> None:
    base, key = server.zilliz_base_url, server.api_key
    for _ in range(3):  # warm the server: Milvus Lite, the embedder, uvicorn's workers
        await raw_fanout(base, key, search_id, args.calls)
    raw: list[float] = []
    cold: list[float] = []
    describes: list[int] = []
    for _ in range(args.rounds):  # alternate, so drift in the machine's load hits both sides
        raw.append(await raw_fanout(base, key, search_id, args.calls))
        before = counter.describes
        cold.append(await retriever_fanout(base, key, search_id, args.calls))
        describes.append(counter.describes - before)
    raw_ms, cold_ms = statistics.median(raw) * 1e3, statistics.median(cold) * 1e3
    print(f"{args.calls} concurrent searches, median of {args.rounds} rounds")
    print(f"  raw httpx.AsyncClient          {raw_ms:8.1f} ms")
    print(f"  cold ZillizPipelineRetriever   {cold_ms:8.1f} ms")
    print(f"  ratio                          {cold_ms / raw_ms:8.2f}x  (target <= 1.3x)")
    print(f"  describe calls per round       {sorted(set(describes))}  (must be [1])")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--calls", type=int, default=40)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-fanout-") as data_dir:
        server = LocalServer(  # the published figures were measured with the lexical embedder
            data_dir=data_dir, stream_interval_ms=0, embedder="lexical", embedding_fallback=True
        )
        counter = CountingApp(server.app)
        server.app = counter  # type: ignore[assignment]
        with server:
            with ZillizPipelinesClient(
                api_key=server.api_key, base_url=server.zilliz_base_url
            ) as c:
                made = c.create_pipeline_set(
                    name="bench_fanout",
                    project_id="proj-0123456789abcdef",
                    cluster_id="in03-0123456789abcdef",
                    collection_name="bench_fanout_col",
                    kind="text",
                )
                c.ingest_texts(made.ingestion.pipeline_id, TEXTS)
            asyncio.run(measure(server, counter, made.search.pipeline_id, args))


if __name__ == "__main__":
    main()
