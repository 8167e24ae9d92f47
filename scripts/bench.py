"""Benchmark the retriever's overhead and its native async concurrency, over TLS on loopback.

1. Per-call cost of ``ZillizPipelineRetriever.invoke`` against a minimal LangChain retriever that
   does one keep-alive httpx POST and maps the hits, both against the same HTTPS server.
2. Wall time of 40 concurrent ``ainvoke`` calls against one, with the server taking 50 ms a call:
   with native async the 40 overlap, so the ratio stays near 1.

Run with ``make bench``. Nothing leaves the machine: the server is a small Starlette app on
127.0.0.1 with a throwaway certificate authority made by trustme.
"""

from __future__ import annotations

import asyncio
import os
import socket
import ssl
import statistics
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import trustme
import uvicorn
from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from langchain_zilliz_bailian import ZillizPipelineRetriever

PIPE = "pipe-0123456789abcdef012345"
HITS = [
    {"id": 448986959321277978 + i, "distance": 0.9 - i / 10, "text": f"chunk {i} " * 20}
    for i in range(4)
]
DELAY = {"seconds": 0.0}


async def run(request: Request) -> JSONResponse:
    await request.body()
    if DELAY["seconds"]:
        await asyncio.sleep(DELAY["seconds"])
    return JSONResponse({"code": 200, "data": {"result": HITS, "usage": {"embedding": 5}}})


async def describe(request: Request) -> JSONResponse:
    return JSONResponse(
        {
            "code": 200,
            "data": {
                "pipelineId": PIPE,
                "type": "SEARCH",
                "status": "SERVING",
                "functions": [{"action": "SEARCH_TEXT"}],
            },
        }
    )


APP = Starlette(
    routes=[
        Route("/v1/pipelines/{pid}/run", run, methods=["POST"]),
        Route("/v1/pipelines/{pid}", describe, methods=["GET"]),
    ]
)


class MinimalRetriever(BaseRetriever):
    """The smallest sensible retriever: one pooled httpx POST, hits mapped to Documents."""

    url: str
    client: Any

    def _get_relevant_documents(
        self, query: str, *, run_manager: CallbackManagerForRetrieverRun
    ) -> list[Document]:
        response = self.client.post(
            self.url,
            json={"data": {"query_text": query}, "params": {"limit": 4}},
            headers={"Authorization": "Bearer k"},
        )
        hits = response.json()["data"]["result"]
        return [
            Document(
                page_content=h["text"], metadata={"id": str(h["id"]), "distance": h["distance"]}
            )
            for h in hits
        ]


def serve(cert_dir: Path) -> tuple[uvicorn.Server, int, ssl.SSLContext]:
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1", "localhost")
    key_file, cert_file = cert_dir / "key.pem", cert_dir / "cert.pem"
    cert.private_key_pem.write_to_path(str(key_file))
    cert.cert_chain_pems[0].write_to_path(str(cert_file))
    client_ctx = ssl.create_default_context()
    ca.configure_trust(client_ctx)
    ca.cert_pem.write_to_path(str(cert_dir / "ca.pem"))
    # IPPROTO_TCP, so asyncio sets TCP_NODELAY on accepted connections (else ~40 ms a response).
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(
        APP, log_level="warning", ssl_keyfile=str(key_file), ssl_certfile=str(cert_file)
    )
    server = uvicorn.Server(config)
    threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True).start()
    while not server.started:
        time.sleep(0.01)
    return server, port, client_ctx


def per_call(fn: Any, n: int) -> list[float]:
    for _ in range(20):
        fn()
    samples = []
    for _ in range(n):
        start = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - start) * 1e6)
    return samples


async def concurrency(retriever: ZillizPipelineRetriever, n: int) -> float:
    start = time.perf_counter()
    await asyncio.gather(*(retriever.ainvoke(f"query {i}") for i in range(n)))
    return time.perf_counter() - start


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        server, port, ctx = serve(Path(tmp))
        # Our retriever trusts the throwaway CA the way a user's deployment would: SSL_CERT_FILE.
        os.environ["SSL_CERT_FILE"] = str(Path(tmp) / "ca.pem")
        base = f"https://127.0.0.1:{port}"
        n = 400
        # Our retriever builds its own pool (TCP_NODELAY); the baselines get the same socket
        # option so the comparison measures code, not Nagle's algorithm.
        ours = ZillizPipelineRetriever(pipeline_id=PIPE, api_key="k", base_url=base, k=4)
        nodelay = [(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)]

        def pooled() -> httpx.Client:
            return httpx.Client(transport=httpx.HTTPTransport(verify=ctx, socket_options=nodelay))

        minimal = MinimalRetriever(url=f"{base}/v1/pipelines/{PIPE}/run", client=pooled())
        raw = pooled()
        raw_url = f"{base}/v1/pipelines/{PIPE}/run"
        body = {"data": {"query_text": "q"}, "params": {"limit": 4}}

        rounds = {"raw httpx POST": [], "minimal retriever": [], "ZillizPipelineRetriever": []}
        for _ in range(3):  # interleave to spread machine noise over all three
            rounds["raw httpx POST"] += per_call(lambda: raw.post(raw_url, json=body).json(), n)
            rounds["minimal retriever"] += per_call(lambda: minimal.invoke("q"), n)
            rounds["ZillizPipelineRetriever"] += per_call(lambda: ours.invoke("q"), n)
        print(f"Per-call cost over TLS on loopback ({3 * n} calls each, after warm-up):")
        print(f"  {'':26} {'median µs':>10} {'mean µs':>10} {'p95 µs':>10}")
        medians = {}
        for name, samples in rounds.items():
            samples.sort()
            medians[name] = statistics.median(samples)
            p95 = samples[int(len(samples) * 0.95)]
            print(f"  {name:26} {medians[name]:10.0f} {statistics.mean(samples):10.0f} {p95:10.0f}")
        overhead = medians["ZillizPipelineRetriever"] - medians["minimal retriever"]
        ratio = medians["ZillizPipelineRetriever"] / medians["minimal retriever"]
        print(f"  retriever vs minimal: {overhead:+.0f} µs per call (x{ratio:.2f})")

        DELAY["seconds"] = 0.05
        async_ours = ZillizPipelineRetriever(pipeline_id=PIPE, api_key="k", base_url=base)

        async def raw_posts(client: httpx.AsyncClient, n: int) -> float:
            start = time.perf_counter()
            await asyncio.gather(*(client.post(raw_url, json=body) for _ in range(n)))
            return time.perf_counter() - start

        async def measure() -> tuple[float, float, float, float]:
            await concurrency(async_ours, 40)  # warm-up: describe + TLS handshakes
            one = min([await concurrency(async_ours, 1) for _ in range(5)])
            forty = min([await concurrency(async_ours, 40) for _ in range(5)])
            nodelay_async = httpx.AsyncHTTPTransport(verify=ctx, socket_options=nodelay)
            async with httpx.AsyncClient(transport=nodelay_async) as client:
                await raw_posts(client, 40)
                raw_one = min([await raw_posts(client, 1) for _ in range(5)])
                raw_forty = min([await raw_posts(client, 40) for _ in range(5)])
            return one, forty, raw_one, raw_forty

        one, forty, raw_one, raw_forty = asyncio.run(measure())
        print("Native async, server taking 50 ms per call (best of 5):")
        print(
            f"  ZillizPipelineRetriever: 1 ainvoke {one * 1000:.0f} ms; 40 concurrent "
            f"{forty * 1000:.0f} ms (x{forty / one:.2f}; sequential ~{40 * one * 1000:.0f} ms)"
        )
        print(
            f"  raw httpx.AsyncClient:   1 POST {raw_one * 1000:.0f} ms; 40 concurrent "
            f"{raw_forty * 1000:.0f} ms (x{raw_forty / raw_one:.2f})"
        )
        server.should_exit = True


if __name__ == "__main__":
    main()
