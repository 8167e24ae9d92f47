"""A scripted OpenAI-compatible chat-completions server, served on loopback by uvicorn.

The test sets :attr:`StubModel.script` (deltas, timing, usage, a failure) and reads back what the
server was sent (:attr:`StubModel.requests`) and when each delta left (:attr:`StubModel.sent_at`,
``time.perf_counter()`` values, for latency measurements).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import threading
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

#: The variable the tests' model apps read their key from, and the key it holds.
KEY_VARIABLE = "ZB_TEST_MODEL_KEY"
SECRET = "sk-stub-secret-0123456789"
#: An HTTP status of the endpoint → the Bailian code and status the app answers with.
ENDPOINT_STATUSES = [
    (401, "ModelServiceFailed", 500),
    (404, "ModelServiceFailed", 500),
    (429, "Throttling.RateQuota", 429),
    (500, "ModelServiceFailed", 500),
    (503, "ModelUnavailable", 503),
]


@dataclass
class Script:
    """What the stub answers to the next requests."""

    deltas: list[str] = field(default_factory=lambda: ["Hello", " world", "."])
    #: ``reasoning_content`` deltas sent before the content (a thinking model).
    reasoning: list[str] = field(default_factory=list)
    model: str = "stub-model"
    #: Seconds before the first delta and between deltas.
    first_delay_s: float = 0.0
    delay_s: float = 0.0
    #: ``prompt_tokens``/``completion_tokens`` of the last chunk; ``None`` sends no usage chunk.
    usage: tuple[int | None, int | None] | None = (42, 7)
    #: Answer this HTTP status with ``error_body`` instead of a stream.
    status: int = 200
    error_body: str = '{"error":{"message":"scripted failure","type":"server_error"}}'
    #: After this many deltas: send a data line that is not JSON ...
    malformed_after: int | None = None
    #: ... or close the stream without finishing it.
    truncate_after: int | None = None
    send_done: bool = True


def _chunk(model: str, delta: dict[str, Any], finish: str | None = None) -> bytes:
    body = {
        "id": "chatcmpl-stub",
        "object": "chat.completion.chunk",
        "created": 0,
        "model": model,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }
    return f"data: {json.dumps(body)}\n\n".encode()


class StubModel:
    """The stub server: ``with StubModel() as stub: stub.base_url`` (ends in ``/v1``)."""

    def __init__(self) -> None:
        self.script = Script()
        self.requests: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        self.sent_at: list[float] = []
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self.port = 0
        self.app = Starlette(
            routes=[Route("/v1/chat/completions", self._completions, methods=["POST"])]
        )

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def assert_relayed_live(self, arrived: list[float]) -> None:
        """Each delta arrived (``arrived``: ``time.perf_counter()`` per content delta) after the
        stub sent it and before it sent the next: passed on at once, not after the stream."""
        assert len(arrived) == len(self.sent_at), (arrived, self.sent_at)
        for n, got in enumerate(arrived):
            assert got >= self.sent_at[n]
            if n + 1 < len(self.sent_at):
                assert got < self.sent_at[n + 1], f"delta {n} came after delta {n + 1} was sent"

    def reset(self, script: Script | None = None) -> None:
        self.script = script or Script()
        self.requests.clear()
        self.headers.clear()
        self.sent_at.clear()

    async def _completions(self, request: Request) -> Response:
        body = await request.json()
        self.requests.append(body)
        self.headers.append(dict(request.headers))
        script = self.script
        if script.status != 200:
            return Response(script.error_body, status_code=script.status)
        if not body.get("stream"):
            return JSONResponse({"error": {"message": "the stub only streams"}}, status_code=400)
        return StreamingResponse(self._events(script), media_type="text/event-stream")

    async def _events(self, script: Script) -> AsyncIterator[bytes]:
        yield _chunk(script.model, {"role": "assistant", "content": ""})
        for thought in script.reasoning:
            yield _chunk(script.model, {"reasoning_content": thought, "content": None})
        for n, delta in enumerate(script.deltas):
            await asyncio.sleep(script.first_delay_s if n == 0 else script.delay_s)
            if script.malformed_after is not None and n >= script.malformed_after:
                yield b"data: {not json\n\n"
                return
            if script.truncate_after is not None and n >= script.truncate_after:
                return
            self.sent_at.append(time.perf_counter())
            yield _chunk(script.model, {"content": delta})
        yield _chunk(script.model, {}, "stop")
        if script.usage is not None:
            prompt, completion = script.usage
            usage = {
                "id": "chatcmpl-stub",
                "object": "chat.completion.chunk",
                "model": script.model,
                "choices": [],
                "usage": {
                    "prompt_tokens": prompt,
                    "completion_tokens": completion,
                    "total_tokens": (prompt or 0) + (completion or 0),
                },
            }
            yield f"data: {json.dumps(usage)}\n\n".encode()
        if script.send_done:
            yield b"data: [DONE]\n\n"

    def __enter__(self) -> StubModel:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        self.port = sock.getsockname()[1]
        config = uvicorn.Config(self.app, log_level="warning", lifespan="off", access_log=False)
        self._server = uvicorn.Server(config)
        server = self._server

        def serve() -> None:
            with contextlib.suppress(SystemExit):
                server.run(sockets=[sock])

        self._thread = threading.Thread(target=serve, daemon=True, name="openai-stub")
        self._thread.start()
        deadline = time.monotonic() + 10
        while not server.started:
            if time.monotonic() > deadline:
                raise TimeoutError("the OpenAI stub did not start")
            time.sleep(0.005)
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)


def free_port() -> int:
    """A loopback port nobody listens on (for connection-refused cases)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port
