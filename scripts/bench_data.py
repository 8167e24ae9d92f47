"""Shared by the search benchmarks: synthetic texts, pipelines on a running server, bulk ingestion
over HTTP, and a pymilvus view of the same collection (the floor the server is measured against).
"""

from __future__ import annotations

import math
import random
import statistics
import time
from collections.abc import Callable
from typing import Any

import httpx

PROJECT = "proj-benchmark"
CLUSTER = "in03-benchmark"
VOCABULARY = (
    "archive backup cluster daemon engine folder gateway harbor index journal kernel ledger "
    "mirror network object packet queue router schema socket table thread vector window zone "
    "alpha bravo cobalt delta ember falcon garnet helium iris jasper krypton lumen mercury nickel "
    "onyx pearl quartz radium silver topaz umber violet walnut xenon yarrow zircon"
)
QUERIES = (
    "vector index on the cluster",
    "backup of the journal archive",
    "router packet queue",
    "silver falcon over the harbor",
)
BATCH = 500


def synthetic_texts(n: int, seed: int = 0) -> list[str]:
    """``n`` distinct sentences of 12-24 words drawn from a small vocabulary."""
    rng = random.Random(seed)
    words = VOCABULARY.split()
    return [f"doc {i}: " + " ".join(rng.choices(words, k=rng.randint(12, 24))) for i in range(n)]


def make_pipelines(http: httpx.Client, collection: str) -> tuple[str, str]:
    """A text INGESTION and a SEARCH pipeline on ``collection``: (ingestion id, search id)."""
    embedding = "zilliz/bge-base-en-v1.5"
    ingestion = {
        "name": f"{collection}_ing",
        "type": "INGESTION",
        "projectId": PROJECT,
        "clusterId": CLUSTER,
        "collectionName": collection,
        "functions": [
            {
                "name": "index_text",
                "action": "INDEX_TEXT",
                "language": "ENGLISH",
                "embedding": embedding,
            }
        ],
    }
    search = {
        "name": f"{collection}_search",
        "type": "SEARCH",
        "projectId": PROJECT,
        "functions": [
            {
                "name": "search_text",
                "action": "SEARCH_TEXT",
                "clusterId": CLUSTER,
                "collectionName": collection,
                "embedding": embedding,
            }
        ],
    }
    ids = []
    for body in (ingestion, search):
        resp = http.post("/v1/pipelines", json=body)
        resp.raise_for_status()
        ids.append(resp.json()["data"]["pipelineId"])
    return ids[0], ids[1]


def ingest(http: httpx.Client, ingestion_id: str, texts: list[str]) -> float:
    """Ingest ``texts`` in batches of :data:`BATCH`; return the seconds it took."""
    begin = time.perf_counter()
    for start in range(0, len(texts), BATCH):
        resp = http.post(
            f"/v1/pipelines/{ingestion_id}/run",
            json={"data": {"text_list": texts[start : start + BATCH]}},
            timeout=300,
        )
        resp.raise_for_status()
        assert resp.json()["code"] == 200, resp.text
    return time.perf_counter() - begin


def search_body(query: str, limit: int = 5) -> dict[str, Any]:
    """The body of one SEARCH_TEXT run."""
    return {"data": {"query_text": query}, "params": {"limit": limit, "outputFields": []}}


def wait_indexed(client: Any, collection: str, rows: int, timeout_s: float = 600) -> float:
    """Wait until Milvus has indexed ``rows`` rows of ``collection``; return the seconds waited."""
    begin = time.monotonic()
    while time.monotonic() - begin < timeout_s:
        info = client.describe_index(collection, "embedding")
        if int(info.get("indexed_rows", 0)) >= rows and not int(info.get("pending_index_rows", 0)):
            return time.monotonic() - begin
        time.sleep(0.2)
    raise TimeoutError(f"{collection}: not indexed after {timeout_s} s ({info})")


def settle(search: Callable[[int], object], timeout_s: float = 60) -> float:
    """Search until latency stops falling: Milvus Lite reports a flushed segment indexed a few
    seconds before searches use that index. Return the seconds waited."""
    begin = time.monotonic()
    best, calm = math.inf, 0
    while calm < 3 and time.monotonic() - begin < timeout_s:
        samples = []
        for i in range(10):
            start = time.perf_counter()
            search(i)
            samples.append(time.perf_counter() - start)
        p50 = statistics.median(samples)
        calm = calm + 1 if p50 > 0.9 * best else 0
        best = min(best, p50)
        time.sleep(0.5)
    return time.monotonic() - begin


def floor_search(client: Any, collection: str, vector: list[float], limit: int = 5) -> Any:
    """What the server's SEARCH_TEXT asks Milvus, made directly through pymilvus."""
    return client.search(
        collection,
        data=[vector],
        limit=limit,
        output_fields=["text"],
        search_params={"metric_type": "COSINE"},
    )


def percentile(samples: list[float], q: float) -> float:
    """The ``q`` quantile (0..1) of ``samples`` (inclusive method)."""
    if len(samples) == 1:
        return samples[0]
    return statistics.quantiles(samples, n=100, method="inclusive")[max(0, int(q * 100) - 1)]
