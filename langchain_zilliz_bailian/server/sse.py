"""DashScope's exact SSE framing, and a streaming response that can also cut the connection.

Each event is ``id:N\\nevent:result\\n:HTTP_STATUS/200\\ndata:{json}\\n\\n`` (no space after colons,
compact JSON, UTF-8 unescaped), as in the recorded Bailian streams.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Mapping
from typing import Any

from starlette.responses import StreamingResponse
from starlette.types import Send

SSE_CONTENT_TYPE = "text/event-stream;charset=UTF-8"


class _Drop:
    """Sentinel yielded by an event iterator to abort the connection mid-stream."""


DROP = _Drop()


def dumps(obj: Any) -> str:
    """Compact JSON without ASCII escaping, as DashScope sends it."""
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"))


def frame(event_id: int, data: Any, event: str = "result", status: int = 200) -> bytes:
    """One SSE event in DashScope's byte layout."""
    return f"id:{event_id}\nevent:{event}\n:HTTP_STATUS/{status}\ndata:{dumps(data)}\n\n".encode()


class EventStreamResponse(StreamingResponse):
    """Writes each yielded chunk immediately; on :data:`DROP` returns without finishing the body,
    so uvicorn closes the connection and the client sees a truncated chunked response."""

    def __init__(
        self,
        events: AsyncIterator[bytes | _Drop],
        status_code: int = 200,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        all_headers = {"content-type": SSE_CONTENT_TYPE, "cache-control": "no-cache"}
        all_headers.update(headers or {})
        self._events = events
        # The body is sent by stream_response below; the base class only needs an iterable.
        super().__init__((), status_code=status_code, headers=all_headers)

    async def stream_response(self, send: Send) -> None:
        """Send the head, then every event as its own body message (no buffering)."""
        await send(
            {"type": "http.response.start", "status": self.status_code, "headers": self.raw_headers}
        )
        async for item in self._events:
            if isinstance(item, _Drop):
                return
            await send({"type": "http.response.body", "body": item, "more_body": True})
        await send({"type": "http.response.body", "body": b"", "more_body": False})
