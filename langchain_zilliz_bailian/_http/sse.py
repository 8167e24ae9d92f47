"""Server-sent events from an httpx response, keeping DashScope's ``:HTTP_STATUS/NNN`` comments.

Line splitting and field parsing are httpx-sse's; the one addition is that a comment of the form
``:HTTP_STATUS/NNN`` is remembered and attached to the event it precedes, because DashScope puts a
mid-stream error's status only there. Events are yielded as soon as their blank line arrives.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
from httpx_sse._decoders import SSEDecoder, SSELineDecoder

__all__ = ["SSEvent", "aiter_events", "iter_events"]

_STATUS_PREFIX = ":HTTP_STATUS/"


@dataclass(frozen=True)
class SSEvent:
    """One event: name (``message`` when unnamed), data, id and the status from its comment."""

    event: str
    data: str
    id: str
    status: int | None = None

    def json(self) -> Any:
        """The data parsed as JSON (raises ``ValueError`` when it is not)."""
        return json.loads(self.data)


class _EventDecoder:
    """Feeds lines to httpx-sse's decoder, picking up status comments on the way."""

    def __init__(self) -> None:
        self._decoder = SSEDecoder()
        self._status: int | None = None
        self._has_data = False

    def feed(self, line: str) -> SSEvent | None:
        if line.startswith(_STATUS_PREFIX):
            try:
                self._status = int(line[len(_STATUS_PREFIX) :].strip())
            except ValueError:
                self._status = None
            return None
        if line.partition(":")[0] == "data":
            self._has_data = True
        sse = self._decoder.decode(line)
        if sse is None:
            return None
        has_data, self._has_data = self._has_data, False
        status, self._status = self._status, None
        if not has_data:
            # The SSE spec dispatches nothing for a block without data lines; httpx-sse would
            # emit one whenever a last event id is set (extra blank lines, end of stream).
            return None
        return SSEvent(event=sse.event or "message", data=sse.data, id=sse.id, status=status)


def iter_events(response: httpx.Response) -> Iterator[SSEvent]:
    """Yield each event of a streamed response the moment its terminating blank line arrives."""
    lines, events = SSELineDecoder(), _EventDecoder()
    for text in response.iter_text():
        for line in lines.decode(text):
            event = events.feed(line)
            if event is not None:
                yield event
    for line in [*lines.flush(), ""]:
        event = events.feed(line)
        if event is not None:
            yield event


async def aiter_events(response: httpx.Response) -> AsyncIterator[SSEvent]:
    """Async twin of :func:`iter_events`."""
    lines, events = SSELineDecoder(), _EventDecoder()
    async for text in response.aiter_text():
        for line in lines.decode(text):
            event = events.feed(line)
            if event is not None:
                yield event
    for line in [*lines.flush(), ""]:
        event = events.feed(line)
        if event is not None:
            yield event
