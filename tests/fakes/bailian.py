"""Test doubles for the Bailian app completion API, served through ``httpx.MockTransport``.

``sse``/``event`` write DashScope's exact SSE framing (``id:``, ``event:``, ``:HTTP_STATUS/NNN``,
``data:`` with no space, blank line). :class:`FakeApp` answers like the documented service
(JSON, incremental or cumulative SSE, error envelopes) so the standard LangChain suites can run
offline when the local compatible server is not available. Bodies can pause between events to
prove that nothing is buffered.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from langchain_zilliz_bailian._http.retry import RetryPolicy

APP_ID = "5ccc140108fd4b2ea5e6101fbada7583"
API_KEY = "sk-test-0123456789abcdef"
BASE_URL = "https://dashscope.aliyuncs.com/api/v1"
SSE_HEADERS = {"content-type": "text/event-stream;charset=UTF-8", "x-request-id": "hdr-req-1"}
JSON_HEADERS = {"content-type": "application/json", "x-request-id": "hdr-req-1"}


def event(data: Any, *, name: str = "result", id: int = 1, status: int | None = 200) -> bytes:
    """One event in DashScope's framing."""
    payload = data if isinstance(data, str) else json.dumps(data, ensure_ascii=False)
    lines = [f"id:{id}", f"event:{name}"]
    if status is not None:
        lines.append(f":HTTP_STATUS/{status}")
    lines.append(f"data:{payload}")
    return ("\n".join(lines) + "\n\n").encode()


def result(
    text: str,
    *,
    finish: str = "null",
    session_id: str = "sess-1",
    request_id: str = "req-1",
    usage: Any = None,
    **output: Any,
) -> dict[str, Any]:
    """The data of one result event (or a JSON answer)."""
    body: dict[str, Any] = {
        "output": {"session_id": session_id, "finish_reason": finish, "text": text, **output},
        "request_id": request_id,
    }
    body["usage"] = (
        usage
        if usage is not None
        else {"models": [{"model_id": "qwen-plus", "input_tokens": 10, "output_tokens": 1}]}
    )
    return body


def sse(*datas: Any) -> bytes:
    """A whole stream body of result events numbered from 1."""
    return b"".join(event(data, id=i) for i, data in enumerate(datas, 1))


def incremental_stream(pieces: Iterable[str], **final_output: Any) -> bytes:
    """An incremental stream: one event per piece, then an empty ``stop`` event."""
    datas = []
    pieces = list(pieces)
    for n, piece in enumerate(pieces, 1):
        usage = {"models": [{"model_id": "qwen-plus", "input_tokens": 10, "output_tokens": n}]}
        datas.append(result(piece, usage=usage))
    usage = {
        "models": [{"model_id": "qwen-plus", "input_tokens": 10, "output_tokens": len(pieces)}]
    }
    datas.append(result("", finish="stop", usage=usage, **final_output))
    return sse(*datas)


def paced(chunks: list[bytes], delay: float, sent: list[float]) -> Iterator[bytes]:
    """A sync body that records when each chunk is handed over and pauses between them."""
    for i, chunk in enumerate(chunks):
        if i:
            time.sleep(delay)
        sent.append(time.perf_counter())
        yield chunk


async def apaced(chunks: list[bytes], delay: float, sent: list[float]) -> AsyncIterator[bytes]:
    """Async twin of :func:`paced`."""
    for i, chunk in enumerate(chunks):
        if i:
            await asyncio.sleep(delay)
        sent.append(time.perf_counter())
        yield chunk


@dataclass
class Recorder:
    """A MockTransport handler that answers from a list (last one repeats) and keeps requests."""

    responses: list[Callable[[], httpx.Response]]
    requests: list[httpx.Request] = field(default_factory=list)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        factory = self.responses[min(len(self.requests), len(self.responses)) - 1]
        return factory()

    @property
    def bodies(self) -> list[dict[str, Any]]:
        return [json.loads(r.content) for r in self.requests]


def respond(
    status: int = 200, body: bytes | str | dict[str, Any] = b"", **headers: str
) -> Callable[[], httpx.Response]:
    """A response factory (a fresh response per request, since streams are consumed)."""

    def make() -> httpx.Response:
        content = json.dumps(body).encode() if isinstance(body, dict) else body
        content = content.encode() if isinstance(content, str) else content
        return httpx.Response(status, headers=headers, content=content)

    return make


# -- an emulator of the app, for the standard suites ---------------------------------------------


@dataclass
class FakeApp:
    """Answers ``POST /api/v1/apps/{id}/completion`` as the documented service does.

    The answer is derived from the last user turn; streams are incremental when
    ``incremental_output`` is true and cumulative otherwise; ``incremental_output`` on a
    non-stream call is refused (400 ``InvalidParameter``), as is a call without prompt or messages.
    """

    api_key: str = API_KEY
    model_id: str = "qwen-plus"
    requests: list[httpx.Request] = field(default_factory=list)
    sessions: int = 0

    def answer(self, body: dict[str, Any]) -> str:
        data = body.get("input", {})
        turns = data.get("messages") or []
        last = data.get("prompt") or next(
            (t["content"] for t in reversed(turns) if t.get("role") == "user"), ""
        )
        return f"Hello from the app. You asked: {last.strip()[:60]}. Here is a short answer."

    def _error(self, status: int, code: str, message: str) -> httpx.Response:
        return httpx.Response(
            status,
            headers=JSON_HEADERS,
            json={"code": code, "message": message, "request_id": "fake-err"},
        )

    def _check(self, request: httpx.Request) -> tuple[httpx.Response | None, dict[str, Any]]:
        self.requests.append(request)
        if request.headers.get("authorization") != f"Bearer {self.api_key}":
            return self._error(401, "InvalidApiKey", "Invalid API-key provided."), {}
        parts = request.url.path.strip("/").split("/")
        if parts[:3] != ["api", "v1", "apps"] or parts[4:] != ["completion"]:
            return self._error(404, "NotFound", "Not found."), {}
        try:
            body = json.loads(request.content)
        except ValueError:
            return self._error(400, "InvalidParameter", "Body is not JSON."), {}
        data = body.get("input", {})
        if not data.get("prompt") and not data.get("messages"):
            return self._error(
                400, "InvalidParameter", 'Either "prompt" or "messages" must exist'
            ), body
        return None, body

    def _events(self, body: dict[str, Any], stream_id: str) -> list[bytes]:
        text = self.answer(body)
        words = text.split(" ")
        pieces = [w if i == 0 else " " + w for i, w in enumerate(words)]
        incremental = body.get("parameters", {}).get("incremental_output") is True
        session = body.get("input", {}).get("session_id") or stream_id
        prompt_tokens = len(json.dumps(body.get("input", {}))) // 4
        chunks, so_far = [], ""
        for n, piece in enumerate(pieces, 1):
            so_far += piece
            usage = {
                "models": [
                    {"model_id": self.model_id, "input_tokens": prompt_tokens, "output_tokens": n}
                ]
            }
            data = result(
                piece if incremental else so_far,
                session_id=session,
                request_id=stream_id,
                usage=usage,
            )
            chunks.append(event(data, id=n))
        usage = {
            "models": [
                {"model_id": self.model_id, "input_tokens": prompt_tokens, "output_tokens": n}
            ]
        }
        final = result(
            "" if incremental else so_far,
            finish="stop",
            session_id=session,
            request_id=stream_id,
            usage=usage,
        )
        chunks.append(event(final, id=len(pieces) + 1))
        return chunks

    def _respond(self, request: httpx.Request, *, asynchronous: bool) -> httpx.Response:
        error, body = self._check(request)
        if error is not None:
            return error
        self.sessions += 1
        stream_id = f"fake-{self.sessions}"
        wants_sse = (
            request.headers.get("accept", "").startswith("text/event-stream")
            or request.headers.get("x-dashscope-sse") == "enable"
        )
        if not wants_sse:
            if "incremental_output" in body.get("parameters", {}):
                return self._error(
                    400, "InvalidParameter", "parameter incremental_output only support stream call"
                )
            text = self.answer(body)
            session = body.get("input", {}).get("session_id") or stream_id
            usage = {
                "models": [{"model_id": self.model_id, "input_tokens": 20, "output_tokens": 12}]
            }
            return httpx.Response(
                200,
                headers=JSON_HEADERS,
                json=result(
                    text, finish="stop", session_id=session, request_id=stream_id, usage=usage
                ),
            )
        chunks = self._events(body, stream_id)
        sent: list[float] = []
        content = apaced(chunks, 0.0, sent) if asynchronous else paced(chunks, 0.0, sent)
        return httpx.Response(200, headers=SSE_HEADERS, content=content)

    def handle(self, request: httpx.Request) -> httpx.Response:
        return self._respond(request, asynchronous=False)

    async def ahandle(self, request: httpx.Request) -> httpx.Response:
        return self._respond(request, asynchronous=True)

    def clients(self) -> tuple[httpx.Client, httpx.AsyncClient]:
        """A sync and an async httpx client wired to this app."""
        return (
            httpx.Client(transport=httpx.MockTransport(self.handle)),
            httpx.AsyncClient(transport=httpx.MockTransport(self.ahandle)),
        )


# -- helpers for fixtures ------------------------------------------------------------------------


#: Real DashScope exchanges (MIT, cnblogs/dashscope-sdk test data), kept in the repository.
RECORDINGS = Path(__file__).resolve().parents[1] / "fixtures" / "bailian-recordings"
#: Retries without waiting, so retry tests take no time.
NO_WAIT = RetryPolicy(max_retries=2, initial_delay=0.0, max_delay=0.0)


def read_recording(name: str) -> bytes:
    """A recorded file's bytes, byte-order mark stripped."""
    data = (RECORDINGS / name).read_bytes()
    return data.removeprefix(b"\xef\xbb\xbf")


def mock_http(recorder: Recorder) -> dict[str, Any]:
    """``http_client`` and ``http_async_client`` whose transports answer from ``recorder``."""

    async def ahandler(request: httpx.Request) -> httpx.Response:
        return recorder(request)

    return {
        "http_client": httpx.Client(transport=httpx.MockTransport(recorder)),
        "http_async_client": httpx.AsyncClient(transport=httpx.MockTransport(ahandler)),
    }


@dataclass
class Backend:
    """Where the app under test lives, and the constructor arguments that reach it."""

    kind: str
    base_url: str
    api_key: str
    app_id: str = APP_ID
    clients: dict[str, Any] = field(default_factory=dict)

    def params(self) -> dict[str, Any]:
        return {
            "app_id": self.app_id,
            "api_key": self.api_key,
            "base_url": self.base_url,
            **self.clients,
        }
