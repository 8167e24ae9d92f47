"""Cost per SSE event of a Bailian app stream, layer by layer (issue 9, "Streaming cost per event").

Serves N incremental DashScope events from an ``httpx.MockTransport`` (no sockets, so only the
per-event work is timed) and prints microseconds per event for:

* ``raw httpx lines``: ``response.iter_lines()`` on the same body, the floor of reading it;
* ``BailianAppClient.stream``: our framework-free client (SSE parsing, validation, assembling);
* ``LangChain floor``: a minimal ``BaseChatModel`` whose ``_stream`` yields one
  ``AIMessageChunk`` per event with no parsing at all, i.e. LangChain's own per-chunk cost;
* ``ChatBailianApp.stream``: our LangChain chat model end to end.

Run: ``python scripts/bench_stream.py [--events 20000] [--repeat 5]``. The figure is the CPU time
of this process (``time.process_time``), best of ``repeat`` runs: on a shared machine wall time
mostly measures the neighbours.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import httpx
from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult

from langchain_zilliz_bailian import ChatBailianApp
from langchain_zilliz_bailian.bailian import BailianAppClient

APP_ID = "5ccc140108fd4b2ea5e6101fbada7583"
BASE_URL = "https://dashscope.aliyuncs.com/api/v1"
API_KEY = "sk-bench-0123456789"
HEADERS = {"content-type": "text/event-stream;charset=UTF-8", "x-request-id": "bench"}


def sse_body(events: int) -> bytes:
    """``events`` incremental result events in DashScope's framing, the last one final."""
    out = []
    for number in range(1, events + 1):
        final = number == events
        data = {
            "output": {
                "session_id": "sess-1",
                "finish_reason": "stop" if final else "null",
                "text": "" if final else "tok ",
            },
            "usage": {
                "models": [{"model_id": "qwen-plus", "input_tokens": 10, "output_tokens": 1}]
            },
            "request_id": "req-1",
        }
        out.append(
            f"id:{number}\nevent:result\n:HTTP_STATUS/200\ndata:{json.dumps(data)}\n\n".encode()
        )
    return b"".join(out)


class Chunks(httpx.SyncByteStream):
    """A body read in 4 KiB pieces, as from a socket (events split anywhere)."""

    def __init__(self, body: bytes) -> None:
        self._body = body

    def __iter__(self) -> Iterator[bytes]:
        for start in range(0, len(self._body), 4096):
            yield self._body[start : start + 4096]


def transport(body: bytes) -> httpx.MockTransport:
    """Answers every request with ``body`` as an SSE stream, in 4 KiB chunks like a socket."""

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, headers=HEADERS, stream=Chunks(body))

    return httpx.MockTransport(handler)


@contextmanager
def open_stream(body: bytes) -> Iterator[httpx.Response]:
    """The raw streamed response, as plain httpx reads it."""
    with (
        httpx.Client(transport=transport(body)) as client,
        client.stream("POST", f"{BASE_URL}/apps/{APP_ID}/completion") as response,
    ):
        yield response


Manager = CallbackManagerForLLMRun | None


class FloorChat(BaseChatModel):
    """The LangChain floor: one ``AIMessageChunk`` per event line, nothing parsed."""

    body: bytes

    @property
    def _llm_type(self) -> str:
        return "bench-floor"

    def _generate(self, messages: list[BaseMessage], *args: Any, **kwargs: Any) -> ChatResult:
        return ChatResult(generations=[ChatGeneration(message=AIMessage(content=""))])

    def _stream(
        self, messages: list[BaseMessage], stop: Any = None, run_manager: Manager = None, **_: Any
    ) -> Iterator[ChatGenerationChunk]:
        with open_stream(self.body) as response:
            for line in response.iter_lines():
                if line.startswith("data:"):
                    chunk = ChatGenerationChunk(message=AIMessageChunk(content="tok "))
                    if run_manager is not None:
                        run_manager.on_llm_new_token("tok ", chunk=chunk)
                    yield chunk


def raw_lines(body: bytes) -> int:
    with open_stream(body) as response:
        return sum(1 for line in response.iter_lines() if line.startswith("data:"))


def bare_client(body: bytes) -> int:
    with httpx.Client(transport=transport(body)) as http:
        client = BailianAppClient(APP_ID, api_key=API_KEY, base_url=BASE_URL, http_client=http)
        return sum(1 for _ in client.stream("hi"))


def floor(body: bytes) -> int:
    return sum(1 for _ in FloorChat(body=body).stream("hi"))


def chat_model(body: bytes) -> int:
    with httpx.Client(transport=transport(body)) as http:
        chat = ChatBailianApp(app_id=APP_ID, api_key=API_KEY, base_url=BASE_URL, http_client=http)
        return sum(1 for _ in chat.stream("hi"))


def best_of(run: Callable[[bytes], int], body: bytes, events: int, repeat: int) -> float:
    """Best CPU microseconds per event over ``repeat`` runs (the count is checked each time)."""
    best = float("inf")
    for _ in range(repeat):
        started = time.process_time()
        count = run(body)
        elapsed = time.process_time() - started
        if count < events - 1:
            raise SystemExit(f"{run.__name__} saw {count} events of {events}")
        best = min(best, elapsed)
    return best / events * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    body = sse_body(args.events)
    runs: list[tuple[str, Callable[[bytes], int]]] = [
        ("raw httpx lines", raw_lines),
        ("BailianAppClient.stream", bare_client),
        ("LangChain floor (minimal BaseChatModel)", floor),
        ("ChatBailianApp.stream", chat_model),
    ]
    print(f"{args.events} events, CPU time, best of {args.repeat}")
    for name, run in runs:
        print(f"{name:42s} {best_of(run, body, args.events, args.repeat):8.1f} us/event")


if __name__ == "__main__":
    main()
