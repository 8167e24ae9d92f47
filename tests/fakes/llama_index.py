"""Scripted Bailian answers (JSON and SSE bytes) and recorders for LlamaIndex events."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from typing import Any

import httpx
from llama_index.core.callbacks.base_handler import BaseCallbackHandler
from llama_index.core.callbacks.schema import CBEventType
from llama_index.core.instrumentation.event_handlers import BaseEventHandler
from llama_index.core.instrumentation.events import BaseEvent

APP_ID = "app0123456789"
BASE_URL = "https://dashscope.test/api/v1"
SECRET = "sk-llama-secret-0123456789"
USAGE = {"models": [{"model_id": "qwen-plus", "input_tokens": 12, "output_tokens": 5}]}
REFS = [{"index_id": "1", "doc_name": "lite.md", "title": "Storage", "text": "Milvus Lite ..."}]


def output(text: str, *, finish: str = "stop", **extra: Any) -> dict[str, Any]:
    return {"session_id": "sess-1", "finish_reason": finish, "text": text, **extra}


def json_answer(text: str, **extra: Any) -> httpx.Response:
    """A non-streamed app answer."""
    body = {"output": output(text, **extra), "usage": USAGE, "request_id": "req-1"}
    return httpx.Response(200, json=body)


def frames(deltas: Iterable[str], **final: Any) -> Iterator[bytes]:
    """SSE events in DashScope's layout: one per delta, then the closing ``stop`` event."""
    n = 0
    for n, delta in enumerate(deltas, start=1):
        data = {"output": output(delta, finish="null"), "usage": USAGE, "request_id": "req-1"}
        yield f"id:{n}\nevent:result\n:HTTP_STATUS/200\ndata:{json.dumps(data)}\n\n".encode()
    data = {"output": output("", **final), "usage": USAGE, "request_id": "req-1"}
    yield f"id:{n + 1}\nevent:result\n:HTTP_STATUS/200\ndata:{json.dumps(data)}\n\n".encode()


def sse_answer(deltas: Iterable[str], **final: Any) -> httpx.Response:
    """A streamed app answer (the whole body at once)."""
    return httpx.Response(
        200,
        headers={"content-type": "text/event-stream;charset=UTF-8"},
        content=b"".join(frames(deltas, **final)),
    )


class EventLog(BaseEventHandler):
    """Records every instrumentation event's class name (and the events themselves)."""

    events: list[BaseEvent] = []

    @classmethod
    def class_name(cls) -> str:
        return "EventLog"

    def handle(self, event: BaseEvent, **kwargs: Any) -> None:
        self.events.append(event)

    def names(self) -> list[str]:
        return [type(e).__name__ for e in self.events]


class CallbackLog(BaseCallbackHandler):
    """A legacy CallbackManager handler that records (phase, event type, payload)."""

    def __init__(self) -> None:
        super().__init__(event_starts_to_ignore=[], event_ends_to_ignore=[])
        self.records: list[tuple[str, CBEventType, dict[str, Any]]] = []

    def on_event_start(self, event_type, payload=None, event_id="", parent_id="", **kwargs):
        self.records.append(("start", event_type, dict(payload or {})))
        return event_id

    def on_event_end(self, event_type, payload=None, event_id="", **kwargs):
        self.records.append(("end", event_type, dict(payload or {})))

    def start_trace(self, trace_id=None):
        pass

    def end_trace(self, trace_id=None, trace_map=None):
        pass
