"""Search latency as data grows: the server against pymilvus on the same indexed collection.

For each size (1k, 10k, 50k chunks by default) a fresh local server (Milvus Lite) ingests that
many synthetic texts over HTTP; once Milvus reports every row indexed (the server's background
sealer flushes what it ingests), it times sequential searches:

* server: ``POST /v1/pipelines/{search}/run`` over keep-alive HTTP (query embedding, pipeline
  lookup and usage bookkeeping included: what a client sees);
* floor: a pymilvus ``MilvusClient.search`` on the same collection (same Milvus Lite instance),
  with the query vector the server computes, the same limit and output field.

    python scripts/bench_search.py --sizes 1000 10000 50000 --searches 60

Goal (issue 10, item 3): server p50 within 2x of the floor at each size.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx
from bench_data import (
    QUERIES,
    floor_search,
    ingest,
    make_pipelines,
    search_body,
    settle,
    synthetic_texts,
    wait_indexed,
)

from langchain_zilliz_bailian.server import LexicalEmbedder, LocalServer


def _p50_ms(fn: object, n: int) -> float:
    assert callable(fn)
    samples = []
    for i in range(n):
        begin = time.perf_counter()
        fn(i)
        samples.append(time.perf_counter() - begin)
    return statistics.median(samples) * 1000


def measure(size: int, searches: int) -> dict[str, float]:
    """Ingest ``size`` texts into a fresh server; return p50s (ms) and timings (s)."""
    from pymilvus import MilvusClient

    collection = f"bench_{size}"
    embedder = LexicalEmbedder()
    vectors = embedder.embed(list(QUERIES))
    with (
        tempfile.TemporaryDirectory() as tmp,
        LocalServer(
            data_dir=Path(tmp),
            embedder="lexical",
            embedding_fallback=True,  # figures: lexical
        ) as server,
    ):
        headers = {"Authorization": f"Bearer {server.api_key}"}
        with httpx.Client(base_url=server.url, headers=headers, timeout=60) as http:
            ingestion_id, search_id = make_pipelines(http, collection)
            ingest_s = ingest(http, ingestion_id, synthetic_texts(size))
            # A second client of the same in-process Milvus Lite (not closed: it is shared).
            floor = MilvusClient(uri=str(server.data_dir / "milvus.db"))
            index_wait_s = wait_indexed(floor, collection, size)

            def through_server(i: int) -> None:
                resp = http.post(
                    f"/v1/pipelines/{search_id}/run", json=search_body(QUERIES[i % len(QUERIES)])
                )
                assert resp.status_code == 200, resp.text
                assert len(resp.json()["data"]["result"]) == 5

            def through_pymilvus(i: int) -> None:
                hits = floor_search(floor, collection, vectors[i % len(vectors)])
                assert len(hits[0]) == 5

            index_wait_s += settle(through_pymilvus)
            for warm in range(5):
                through_server(warm)
            server_ms = _p50_ms(through_server, searches)
            floor_ms = _p50_ms(through_pymilvus, searches)
    return {
        "server_ms": server_ms,
        "floor_ms": floor_ms,
        "ingest_s": ingest_s,
        "index_wait_s": index_wait_s,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000, 50000])
    parser.add_argument("--searches", type=int, default=60)
    args = parser.parse_args(argv)
    print(
        "| chunks | server p50 (ms) | pymilvus floor p50 (ms) | ratio "
        "| ingest (s) | index wait (s) |"
    )
    print("|---:|---:|---:|---:|---:|---:|")
    worst = 0.0
    for size in args.sizes:
        m = measure(size, args.searches)
        ratio = m["server_ms"] / m["floor_ms"]
        worst = max(worst, ratio)
        print(
            f"| {size:,} | {m['server_ms']:.1f} | {m['floor_ms']:.1f} | {ratio:.2f}x "
            f"| {m['ingest_s']:.1f} | {m['index_wait_s']:.1f} |",
            flush=True,
        )
    print(f"worst ratio {worst:.2f}x (goal: within 2x)")
    return 0 if worst <= 2.0 else 1


if __name__ == "__main__":
    sys.exit(main())
