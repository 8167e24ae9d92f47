"""Latency the local server adds to each model delta (issue 12, "Generation through any
OpenAI-compatible endpoint").

A scripted OpenAI-compatible stub (``tests/fakes/openai_stub.py``, uvicorn on loopback) sends
``--deltas`` content deltas ``--interval-ms`` apart and notes when each left. The same script is
read twice: directly from the stub (httpx streaming, SSE parsing), and through the local server
as a Bailian incremental SSE stream of an app whose ``model`` is the stub. For each delta the lag
is its arrival at the reader minus its departure from the stub; the added latency is the proxy's
lag minus the direct lag (median and 95th percentile over all deltas of ``--repeat`` runs).

Run: ``PYTHONPATH=. python scripts/bench_proxy.py [--deltas 200] [--interval-ms 10] [--repeat 3]``.
Wall-clock figures: on a shared machine they include the neighbours' load.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable

import httpx

from langchain_zilliz_bailian._http.sse import iter_events
from langchain_zilliz_bailian.server import LocalServer
from langchain_zilliz_bailian.server.apps import AppSpec
from tests.fakes.openai_stub import Script, StubModel

APP_ID = "bench-proxy"


def read_direct(stub: StubModel) -> list[float]:
    """Arrival times of the content deltas, read from the stub itself."""
    arrived = []
    body = {"model": "stub-model", "messages": [{"role": "user", "content": "Count."}]}
    body |= {"stream": True, "stream_options": {"include_usage": True}}
    with (
        httpx.Client(timeout=60) as client,
        client.stream("POST", stub.base_url + "/chat/completions", json=body) as response,
    ):
        for event in iter_events(response):
            if event.data.strip() == "[DONE]":
                break
            choices = event.json().get("choices") or []
            if choices and choices[0]["delta"].get("content"):
                arrived.append(time.perf_counter())
    return arrived


def read_proxied(server: LocalServer) -> list[float]:
    """Arrival times of the text events of the app's Bailian stream."""
    arrived = []
    with (
        httpx.Client(timeout=60) as client,
        client.stream(
            "POST",
            f"{server.bailian_base_url}/apps/{APP_ID}/completion",
            json={"input": {"prompt": "Count."}, "parameters": {"incremental_output": True}},
            headers={"Authorization": f"Bearer {server.api_key}", "Accept": "text/event-stream"},
        ) as response,
    ):
        for event in iter_events(response):
            if event.json()["output"]["text"]:
                arrived.append(time.perf_counter())
    return arrived


def lags(stub: StubModel, read: Callable[[], list[float]], script: Script) -> list[float]:
    """Per-delta lag (seconds) of one read of ``script``."""
    stub.reset(script)
    arrived = read()
    if len(arrived) != len(stub.sent_at):
        raise RuntimeError(f"{len(arrived)} deltas read, {len(stub.sent_at)} sent")
    return [got - sent for sent, got in zip(stub.sent_at, arrived, strict=True)]


def summary(values: list[float]) -> str:
    ordered = sorted(values)
    p95 = ordered[int(0.95 * (len(ordered) - 1))]
    return (
        f"median {statistics.median(ordered) * 1000:7.3f} ms   p95 {p95 * 1000:7.3f} ms   "
        f"max {ordered[-1] * 1000:7.3f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--deltas", type=int, default=200)
    parser.add_argument("--interval-ms", type=float, default=10.0)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    script = Script(
        deltas=[f" w{n}" for n in range(args.deltas)],
        delay_s=args.interval_ms / 1000,
        usage=(10, args.deltas),
    )
    with StubModel() as stub:
        app = AppSpec.build(
            app_id=APP_ID, type="model", model={"base_url": stub.base_url, "model": "stub-model"}
        )
        with LocalServer(data_dir=tempfile.mkdtemp(prefix="zb-bench-"), apps=[app]) as server:
            read_proxied(server)  # warm up both paths (connections, imports)
            direct: list[float] = []
            proxied: list[float] = []
            for _ in range(args.repeat):
                direct += lags(stub, lambda: read_direct(stub), script)
                proxied += lags(stub, lambda: read_proxied(server), script)
    print(f"{args.repeat} runs x {args.deltas} deltas, {args.interval_ms} ms apart")
    print(f"direct from the stub      {summary(direct)}")
    print(f"through the local server  {summary(proxied)}")
    added = statistics.median(proxied) - statistics.median(direct)
    p95 = (
        sorted(proxied)[int(0.95 * (len(proxied) - 1))]
        - sorted(direct)[int(0.95 * (len(direct) - 1))]
    )
    print(f"added by the proxy        median {added * 1000:7.3f} ms   p95 {p95 * 1000:7.3f} ms")


if __name__ == "__main__":
    main()
