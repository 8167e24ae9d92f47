"""A lean HTTP/1.1 load generator for the benchmarks: keep-alive connections, pre-encoded requests.

On a 2-core machine the load generator competes with the server for CPU, so a general-purpose
client (httpx spends about as much CPU per request as the server's own framework) makes the
server look slower than it is. Each simulated client here owns one connection and sends the same
bytes a browser or httpx would, then reads the status line, ``Content-Length`` and body: the
job ``wrk`` or ``oha`` do, in a few microseconds of Python per request. Responses are checked
(status 200 and a JSON ``code`` of 200), never assumed.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Sequence
from urllib.parse import urlsplit


def encode_post(url: str, path: str, body: object, headers: dict[str, str]) -> bytes:
    """The bytes of one ``POST`` with a JSON body, ready to be written as they are."""
    host = urlsplit(url).netloc
    payload = json.dumps(body).encode()
    lines = [f"POST {path} HTTP/1.1", f"Host: {host}", "Content-Type: application/json"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    lines += [f"Content-Length: {len(payload)}", "", ""]
    return "\r\n".join(lines).encode() + payload


async def _exchange(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: bytes
) -> bytes:
    """Send one request on a kept-alive connection and return its body (the status must be 200)."""
    writer.write(request)
    head = await reader.readuntil(b"\r\n\r\n")
    status_line, _, rest = head.partition(b"\r\n")
    length = -1
    for line in rest.split(b"\r\n"):
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    if length < 0:
        raise RuntimeError(f"no Content-Length in the answer: {head!r}")
    body = await reader.readexactly(length)
    if status_line.split(b" ", 2)[1] != b"200":
        raise RuntimeError(f"{status_line.decode()}: {body[:500]!r}")
    return body


async def run_load(
    url: str, requests: Sequence[bytes], clients: int, seconds: float, warmup_s: float = 0.5
) -> tuple[list[float], float]:
    """``clients`` connections each sending ``requests`` round-robin for ``seconds`` after a
    warm-up; return every request's latency (s) and the measured wall time (s)."""
    parts = urlsplit(url)
    connections = [
        await asyncio.open_connection(parts.hostname, parts.port) for _ in range(clients)
    ]
    latencies: list[float] = []

    async def client(no: int, stop_at: float, record: bool) -> None:
        reader, writer = connections[no]
        i = no
        while time.perf_counter() < stop_at:
            begin = time.perf_counter()
            body = await _exchange(reader, writer, requests[i % len(requests)])
            if record:
                latencies.append(time.perf_counter() - begin)
            if not body.startswith(b'{"code":200'):
                raise RuntimeError(body[:500].decode(errors="replace"))
            i += 1

    try:
        warm_until = time.perf_counter() + warmup_s
        await asyncio.gather(*(client(n, warm_until, False) for n in range(clients)))
        start = time.perf_counter()
        await asyncio.gather(*(client(n, start + seconds, True) for n in range(clients)))
        elapsed = time.perf_counter() - start
    finally:
        for _, writer in connections:
            writer.close()
    return latencies, elapsed
