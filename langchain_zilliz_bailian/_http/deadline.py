"""A whole call's deadline (``total_timeout``), enforced the same way for sync and async calls.

No attempt or retry starts past the deadline, every timeout of an attempt (connect, write, pool,
read) is capped at the time left when it starts, and the body is checked between reads, so a
server that keeps bytes flowing (``:keep-alive`` comments, a trickled JSON body) is stopped at the
deadline. An async read is also cancelled at the deadline; a sync read waiting in silence cannot
be, and ends at the read timeout it started with (never later than the deadline was then).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import TypeVar, cast

import httpx

__all__ = ["Deadline", "abound_body", "bound_body", "within"]

T = TypeVar("T")

#: A timeout this close to the deadline is the deadline's (socket timeouts end a little late).
_DEADLINE_SLACK = 0.01


@dataclass(frozen=True)
class Deadline:
    """When (``time.monotonic()``) a whole call must be done, and the error to raise past it."""

    at: float
    overdue: Callable[[], Exception]

    @classmethod
    def after(cls, seconds: float | None, overdue: Callable[[], Exception]) -> Deadline | None:
        """A deadline ``seconds`` from now, or ``None`` for no bound."""
        return None if seconds is None else cls(time.monotonic() + seconds, overdue)

    def remaining(self) -> float:
        """Seconds left (negative once past)."""
        return self.at - time.monotonic()

    def check(self) -> None:
        """Raise the overdue error once the deadline has passed."""
        if time.monotonic() >= self.at:
            raise self.overdue()

    def limit(self, request: httpx.Request, timeouts: Mapping[str, float | None]) -> None:
        """Cap every phase timeout of the next attempt at the time left (or raise if none)."""
        left = self.remaining()
        if left <= 0:
            raise self.overdue()
        request.extensions["timeout"] = {
            phase: left if limit is None or limit > left else limit
            for phase, limit in timeouts.items()
        }

    def timed_out(self, exc: BaseException) -> bool:
        """Whether ``exc`` is a timeout that the deadline caused (then raise :attr:`overdue`)."""
        return isinstance(exc, httpx.TimeoutException) and self.remaining() <= _DEADLINE_SLACK


class _SyncBody(httpx.SyncByteStream):
    """A response body that raises the deadline's error when a read ends past it."""

    def __init__(self, inner: httpx.SyncByteStream, deadline: Deadline) -> None:
        self._inner = inner
        self._deadline = deadline

    def __iter__(self) -> Iterator[bytes]:
        for chunk in self._inner:
            self._deadline.check()
            yield chunk

    def close(self) -> None:
        self._inner.close()


class _AsyncBody(httpx.AsyncByteStream):
    """A response body whose every read is cancelled at the deadline (then its error raised)."""

    def __init__(self, inner: httpx.AsyncByteStream, deadline: Deadline) -> None:
        self._inner = inner
        self._deadline = deadline

    async def __aiter__(self) -> AsyncIterator[bytes]:
        chunks = self._inner.__aiter__()
        while True:
            try:
                chunk = await within(self._deadline, chunks.__anext__())
            except StopAsyncIteration:
                return
            yield chunk

    async def aclose(self) -> None:
        await self._inner.aclose()


async def within(deadline: Deadline | None, awaitable: Awaitable[T]) -> T:
    """Await ``awaitable``, cancelled at ``deadline`` (whose error is then raised)."""
    if deadline is None:
        return await awaitable
    try:
        return await asyncio.wait_for(awaitable, max(deadline.remaining(), 0.0))
    except asyncio.TimeoutError:
        raise deadline.overdue() from None


def bound_body(response: httpx.Response, deadline: Deadline | None) -> httpx.Response:
    """Check ``deadline`` now that the headers are in, then between the reads of the body."""
    if deadline is not None:
        deadline.check()
        response.stream = _SyncBody(cast(httpx.SyncByteStream, response.stream), deadline)
    return response


def abound_body(response: httpx.Response, deadline: Deadline | None) -> httpx.Response:
    """The async :func:`bound_body`: every read of the body is cancelled at the deadline."""
    if deadline is not None:
        deadline.check()
        response.stream = _AsyncBody(cast(httpx.AsyncByteStream, response.stream), deadline)
    return response
