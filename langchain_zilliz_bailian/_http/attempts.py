"""The one attempt loop: failure handling shared by sync and async calls, requests and streams.

Every request and stream of :class:`~langchain_zilliz_bailian._http.adapter.HTTPAdapter` runs
each attempt inside ``with attempts:`` (``async with`` on the async side) and sleeps
:attr:`Attempts.delay` when the block ends without returning::

    while True:
        with attempts:
            response = attempts.hold(client.send(request))
            return parse(response)
        time.sleep(attempts.delay)

Entering caps the attempt's timeouts at the deadline. Leaving with an exception closes the held
response and decides, in one place: the httpx exception mapped to the package's error, retry or
raise (the request's kind, the retry budget), the delay (``Retry-After`` first) and whether the
retry could still start before the deadline. A retry is swallowed, leaving the delay to sleep;
everything else is raised. :meth:`Attempts.reading` maps failures once the body is handed on.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import TracebackType

import httpx

from langchain_zilliz_bailian._http.deadline import Deadline
from langchain_zilliz_bailian._http.retry import RequestKind, RetryPolicy, may_have_effect
from langchain_zilliz_bailian.errors import (
    APIConnectionError,
    APIError,
    APITimeoutError,
    ResponseFormatError,
    StreamInterruptedError,
    ZillizBailianError,
)

__all__ = ["Attempts", "TransportErrorMapper", "where"]

logger = logging.getLogger("langchain_zilliz_bailian")

_ExcType = type[BaseException] | None
_Traceback = TracebackType | None
#: Turns an httpx transport failure on a URL into the package's error (the adapter's mapping).
TransportErrorMapper = Callable[[httpx.TransportError, httpx.URL], APIConnectionError]


def where(url: httpx.URL) -> str:
    """``scheme://host[:port]/path``, without the query (ports matter for local servers)."""
    port = f":{url.port}" if url.port else ""
    return f"{url.scheme}://{url.host}{port}{url.path}"


def http_error(exc: httpx.HTTPError, url: httpx.URL) -> ZillizBailianError:
    """An httpx failure that is not a transport error: an undecodable body, redirect loops..."""
    if isinstance(exc, httpx.DecodingError):
        return ResponseFormatError(f"The body from {where(url)} could not be decoded: {exc}")
    return APIConnectionError(f"HTTP failure on {where(url)}: {exc!r}", url=where(url))


class Attempts:
    """The attempts of one call: enter once per attempt, sleep :attr:`delay` after a retry.

    ``unknown_write_note`` is appended to a timeout that ends a write which may have been applied
    (see :func:`may_have_effect`), so the caller checks before sending it again.
    """

    def __init__(
        self,
        request: httpx.Request,
        *,
        kind: RequestKind,
        policy: RetryPolicy,
        transport_error: TransportErrorMapper,
        deadline: Deadline | None = None,
        unknown_write_note: str | None = None,
    ) -> None:
        self.request = request
        self.kind = kind
        self.policy = policy
        self.deadline = deadline
        self.retries = 0
        self.delay = 0.0
        self.response: httpx.Response | None = None
        self._transport_error = transport_error
        self._note = unknown_write_note
        self._timeouts: dict[str, float | None] = dict(request.extensions.get("timeout") or {})
        self._started = 0.0

    # -- one attempt --------------------------------------------------------------------------

    def __enter__(self) -> Attempts:
        if self.deadline is not None:
            self.deadline.limit(self.request, self._timeouts)
        self.response = None
        self._started = time.perf_counter()
        return self

    def __exit__(self, kind: _ExcType, exc: BaseException | None, tb: _Traceback) -> bool:
        if exc is not None and self.response is not None:
            self.response.close()
        return exc is not None and self._failed(exc)

    async def __aenter__(self) -> Attempts:
        return self.__enter__()

    async def __aexit__(self, kind: _ExcType, exc: BaseException | None, tb: _Traceback) -> bool:
        if exc is not None and self.response is not None:
            await self.response.aclose()
        return exc is not None and self._failed(exc)

    def hold(self, response: httpx.Response) -> httpx.Response:
        """Keep ``response`` to close it should this attempt fail; log its arrival."""
        self.response = response
        logger.debug(
            "%s %s -> %d in %.1f ms",
            self.request.method,
            self.request.url.path,
            response.status_code,
            (time.perf_counter() - self._started) * 1000,
        )
        return response

    # -- the one failure rule -----------------------------------------------------------------

    def _failed(self, exc: BaseException) -> bool:
        """Swallow ``exc`` with :attr:`delay` set when the call is retried; else raise its error."""
        if isinstance(exc, httpx.TransportError):
            if self.deadline is not None and self.deadline.timed_out(exc):
                raise self.deadline.overdue() from exc
        elif isinstance(exc, httpx.HTTPError):
            raise http_error(exc, self.request.url) from exc
        elif not isinstance(exc, APIError):
            return False  # our own errors (a passed deadline, bad input) and the rest: as they are
        delay = self._next_delay(exc)
        if delay is None:
            return self._give_up(exc)
        if self.deadline is not None and delay >= self.deadline.remaining():
            if self.deadline.remaining() <= 0:
                raise self.deadline.overdue() from exc
            return self._give_up(exc)  # the retry could only start past the deadline
        logger.info(
            "Retrying %s %s in %.2f s (retry %d of %d) after %s",
            self.request.method,
            self.request.url.path,
            delay,
            self.retries + 1,
            self.policy.max_retries,
            type(exc).__name__,
        )
        self.retries += 1
        self.delay = delay
        return True

    def _next_delay(self, exc: BaseException) -> float | None:
        """Seconds to wait before the next attempt, or ``None`` when ``exc`` must be raised."""
        if self.retries >= self.policy.max_retries or not self.policy.should_retry(self.kind, exc):
            return None
        headers = self.response.headers if isinstance(exc, APIError) and self.response else None
        return self.policy.delay(self.retries, headers)

    def _give_up(self, exc: BaseException) -> bool:
        """Let an API error pass as it is (``False``); raise a transport one mapped."""
        if not isinstance(exc, httpx.TransportError):
            return False
        error = self._transport_error(exc, self.request.url)
        if (
            self._note
            and self.kind is RequestKind.WRITE
            and isinstance(error, APITimeoutError)
            and may_have_effect(exc)
        ):
            error = APITimeoutError(f"{error.message}. {self._note}", url=error.url)
        raise error from exc

    # -- after the body is handed on ----------------------------------------------------------

    @contextmanager
    def reading(self, stream_error: TransportErrorMapper) -> Iterator[None]:
        """Map a failure while the caller reads the body; nothing is retried any more."""
        try:
            yield
        except httpx.TransportError as exc:
            if self.deadline is not None and self.deadline.timed_out(exc):
                raise self.deadline.overdue() from exc
            raise stream_error(exc, self.request.url) from exc
        except httpx.HTTPError as exc:
            raise http_error(exc, self.request.url) from exc


def stream_interrupted(exc: httpx.TransportError, url: httpx.URL, limit: str) -> APIConnectionError:
    """The error for a stream that failed after its body was handed on (``limit``: the timeout)."""
    if isinstance(exc, httpx.TimeoutException):
        return APITimeoutError(
            f"The stream from {where(url)} stalled: no data for {limit}; "
            "the deltas received so far were already delivered.",
            url=where(url),
        )
    return StreamInterruptedError(
        f"The stream from {where(url)} broke off ({exc!r}); the deltas received so far were "
        "already delivered.",
        url=where(url),
    )
