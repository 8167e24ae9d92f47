"""Server-sent events from an httpx response, keeping DashScope's ``:HTTP_STATUS/NNN`` comments.

A small parser of the SSE format (lines end in CRLF, LF or CR, split anywhere across chunks;
``field:value`` with one optional space; ``data`` lines joined with newlines; the last event id
kept), with one addition: a comment ``:HTTP_STATUS/NNN`` is remembered and attached to the event
it precedes, because DashScope puts a mid-stream error's status only there. Events are yielded
as soon as their blank line arrives; a block without data lines dispatches nothing, as the SSE
specification says.
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator, Iterator
from typing import Any, NamedTuple

import httpx

__all__ = ["EventParser", "SSEvent", "aiter_events", "iter_events"]

_STATUS_TAG = "HTTP_STATUS/"  # in a comment line, ``:HTTP_STATUS/NNN``
#: SSE line ends only; ``str.splitlines`` would also split at U+2028 and friends inside JSON.
_LINE_END = re.compile(r"\r\n|\r|\n")


class SSEvent(NamedTuple):
    """One event: name (``message`` when unnamed), data, id and the status from its comment.

    A named tuple: immutable and the cheapest record to build, once per event.
    """

    event: str
    data: str
    id: str
    status: int | None = None

    def json(self) -> Any:
        """The data parsed as JSON (raises ``ValueError`` when it is not)."""
        return json.loads(self.data)


class EventParser:
    """Feed it decoded text as it arrives; it returns the events each piece completes."""

    def __init__(self) -> None:
        self._tail = ""  # an unfinished line (a trailing CR is kept: an LF may follow)
        self._event = ""
        self._data: list[str] = []
        self._id = ""
        self._status: int | None = None
        self._pending = False  # a field was seen since the last dispatch

    def feed(self, text: str) -> list[SSEvent]:
        """The events completed by ``text``."""
        text = self._tail + text
        if "\r" not in text:  # the usual LF-only stream: a plain split is much cheaper
            lines = text.split("\n")
            self._tail = lines.pop()
        elif text.endswith("\r"):
            lines = _LINE_END.split(text[:-1])
            self._tail = lines.pop() + "\r"
        else:
            lines = _LINE_END.split(text)
            self._tail = lines.pop()
        return self._lines(lines)

    def close(self) -> list[SSEvent]:
        """The events the end of the stream completes (a last event without its blank line)."""
        tail, self._tail = self._tail.rstrip("\r"), ""
        return self._lines([tail, ""] if tail else [""])

    def _lines(self, lines: list[str]) -> list[SSEvent]:
        events: list[SSEvent] = []
        event, data, last_id, status, pending = (
            self._event,
            self._data,
            self._id,
            self._status,
            self._pending,
        )
        for line in lines:
            if not line:  # the blank line: dispatch
                if data:
                    events.append(SSEvent(event or "message", "\n".join(data), last_id, status))
                if data or event or last_id or pending:
                    event, data, status, pending = "", [], None, False
                continue
            name, _, value = line.partition(":")
            if not name:  # a comment; DashScope's carries the status
                if value.startswith(_STATUS_TAG):
                    status = _status(value)
                continue
            if value[:1] == " ":
                value = value[1:]
            if name == "data":
                data.append(value)
            elif name == "event":
                event = value
            elif name == "id":
                if "\0" not in value:
                    last_id = value
            else:
                continue  # ``retry`` and unknown fields
            pending = True
        self._event, self._data, self._id, self._status, self._pending = (
            event,
            data,
            last_id,
            status,
            pending,
        )
        return events


def _status(comment: str) -> int | None:
    try:
        return int(comment[len(_STATUS_TAG) :].strip())
    except ValueError:
        return None


def iter_events(response: httpx.Response) -> Iterator[SSEvent]:
    """Yield each event of a streamed response the moment its terminating blank line arrives."""
    parser = EventParser()
    for text in response.iter_text():
        yield from parser.feed(text)
    yield from parser.close()


async def aiter_events(response: httpx.Response) -> AsyncIterator[SSEvent]:
    """Async :func:`iter_events`."""
    parser = EventParser()
    async for text in response.aiter_text():
        for event in parser.feed(text):
            yield event
    for event in parser.close():
        yield event
