"""``BailianAppClient``: calls a Bailian (DashScope) app, as JSON or as an SSE stream.

Framework-free. Sync and native async twins (``a`` prefix) share one :class:`HTTPAdapter`, so
calls reuse pooled connections. An app call may run an agent's side effects and adds a session
turn, so it is retried only when the server refused it (throttling, 408, 5xx) or nothing was sent,
never after a read timeout or a reset (:attr:`RequestKind.GENERATION`), and for streams only
before the body is handed on; a failure after the first byte raises
(:class:`StreamInterruptedError`, :class:`APITimeoutError`) and the deltas already handed on stay
valid.

Three time limits (B18): connecting (5 s), the silence between two reads (``timeout``,
200 s), and the whole call (``total_timeout``, 600 s). The total one holds for sync and async
calls and streams alike: no attempt or retry starts past it, each attempt's timeouts are capped
at the time left, and async reads are cancelled at the deadline while sync ones are checked
against it between reads of the body, so a server that keeps bytes flowing (``:keep-alive``
comments, a trickled JSON body) cannot hold a call past it. A sync read that is waiting in
silence cannot be interrupted; it ends at the read timeout set when the attempt started (never
later than the deadline was then).
"""

from __future__ import annotations

import os
from collections.abc import AsyncGenerator, AsyncIterator, Generator, Iterator, Mapping
from functools import cached_property
from typing import Any, TypedDict

import httpx
from pydantic import SecretStr
from typing_extensions import Unpack

from langchain_zilliz_bailian._http.adapter import (
    AClosesOnExit,
    Closeable,
    ClosesOnExit,
    Deadline,
    HTTPAdapter,
    default_timeout,
)
from langchain_zilliz_bailian._http.checks import check_base_url, check_client_options, check_id
from langchain_zilliz_bailian._http.retry import RequestKind, RetryPolicy
from langchain_zilliz_bailian._http.sse import aiter_events, iter_events
from langchain_zilliz_bailian.bailian._constants import (
    API_KEY_ENV,
    BASE_URL_ENV,
    DEFAULT_BASE_URL,
    DEFAULT_READ_TIMEOUT,
    DEFAULT_TOTAL_TIMEOUT,
)
from langchain_zilliz_bailian.bailian.assembler import StreamAssembler
from langchain_zilliz_bailian.bailian.envelope import (
    error_from_response,
    is_json,
    parse_completion,
    parse_response,
)
from langchain_zilliz_bailian.bailian.models import AppCompletion, AppStreamChunk
from langchain_zilliz_bailian.bailian.request import AppOptions, build_body, build_headers
from langchain_zilliz_bailian.errors import (
    APITimeoutError,
    InvalidInputError,
    StreamInterruptedError,
)

__all__ = [
    "AppStream",
    "AsyncAppStream",
    "BailianAppClient",
    "check_total_timeout",
    "resolve_timeout",
]


def resolve_timeout(timeout: float | httpx.Timeout | None) -> httpx.Timeout:
    """Connect within 5 s; a number is the read timeout (for streams: the idle time per read)."""
    if isinstance(timeout, httpx.Timeout):
        return timeout
    return default_timeout(DEFAULT_READ_TIMEOUT if timeout is None else float(timeout))


def _check(response: httpx.Response) -> None:
    """Raise the typed error for a non-2xx answer before its body reaches the SSE parser."""
    if not response.is_success:
        response.read()
        raise error_from_response(response)


async def _acheck(response: httpx.Response) -> None:
    if not response.is_success:
        await response.aread()
        raise error_from_response(response)


def check_total_timeout(total_timeout: float | None) -> float | None:
    """A positive number of seconds, or ``None`` for no overall deadline."""
    if total_timeout is None:
        return None
    if isinstance(total_timeout, bool) or not isinstance(total_timeout, (int, float)):
        raise InvalidInputError(f"total_timeout must be seconds or None, got {total_timeout!r}.")
    if not total_timeout > 0:
        raise InvalidInputError(f"total_timeout must be > 0 seconds, got {total_timeout!r}.")
    return float(total_timeout)


def _held_note(assembler: StreamAssembler) -> str:
    if not assembler.holding:
        return ""
    return (
        " (the last event's text, held back because it could be read as a delta or as the "
        "whole text so far, was dropped)"
    )


def _truncated(url: str, assembler: StreamAssembler) -> StreamInterruptedError:
    return StreamInterruptedError(
        f"The stream from {url} ended after {assembler.events} event(s) without a final "
        f"(finish_reason) event; the deltas received so far were already delivered"
        f"{_held_note(assembler)}.",
        url=url,
    )


def _stream_overdue(url: str, total: float, assembler: StreamAssembler) -> APITimeoutError:
    return APITimeoutError(
        f"The stream from {url} exceeded total_timeout={total:g} s after {assembler.events} "
        f"event(s); the deltas received so far were already delivered{_held_note(assembler)}.",
        url=url,
    )


def _call_overdue(url: str, total: float) -> APITimeoutError:
    return APITimeoutError(f"The call to {url} exceeded total_timeout={total:g} s.", url=url)


class _AppRequest(TypedDict):
    """The adapter's arguments for one app call, stream or not."""

    method: str
    path: str
    kind: RequestKind
    json: dict[str, Any]
    headers: dict[str, str]
    deadline: Deadline | None


class _StreamBase:
    """What the sync and async streams share: the request, the assembler, the result.

    The request is sent on first use; the subclasses differ only in how they wait for I/O.
    """

    def __init__(
        self,
        adapter: HTTPAdapter,
        path: str,
        body: dict[str, Any],
        headers: dict[str, str],
        *,
        incremental: bool,
        total_timeout: float | None = None,
    ) -> None:
        self._adapter = adapter
        self._path = path
        self._body = body
        self._headers = headers
        self._url = str(adapter.url(path))
        self._total = total_timeout
        self._assembler = StreamAssembler(incremental=incremental)

    @property
    def completion(self) -> AppCompletion:
        """The result assembled from the events so far: complete once the stream is exhausted."""
        return self._assembler.completion

    @property
    def done(self) -> bool:
        """Whether the final event has arrived."""
        return self._assembler.done

    def _request(self) -> _AppRequest:
        """The adapter's arguments: an app call, bounded by ``total_timeout`` from now."""
        total = self._total
        deadline = Deadline.after(
            total, lambda: _stream_overdue(self._url, total or 0.0, self._assembler)
        )
        return {
            "method": "POST",
            "path": self._path,
            "kind": RequestKind.GENERATION,
            "json": self._body,
            "headers": self._headers,
            "deadline": deadline,
        }

    def _opened(self, response: httpx.Response) -> bool:
        """Note the response's request id; whether it is JSON (a server ignoring the SSE switch)."""
        self._assembler.header_request_id = response.headers.get("x-request-id")
        return is_json(response)

    def _json_answer(self, response: httpx.Response) -> AppStreamChunk:
        """The one chunk of a JSON answer whose body has been read."""
        return self._assembler.feed_response(parse_response(response))


class AppStream(_StreamBase, ClosesOnExit):
    """Iterate for :class:`AppStreamChunk` s as events arrive; then read :attr:`completion`.

    The request is sent on the first ``next()``. Use it as a context manager (or call
    :meth:`close`) to release the connection when leaving the loop early. ``total_timeout``
    is checked between reads of the body, keep-alive comments included.
    """

    @cached_property
    def _chunks(self) -> Generator[AppStreamChunk, None, None]:
        """The chunks, from a generator made once (it sends the request when first advanced)."""
        return self._run()

    def _run(self) -> Generator[AppStreamChunk, None, None]:
        feed = self._assembler.feed
        with self._adapter.stream(check=_check, **self._request()) as response:
            if self._opened(response):
                response.read()
                yield self._json_answer(response)
                return
            for event in iter_events(response):
                if (chunk := feed(event)) is not None:
                    yield chunk
                    if chunk.done:
                        return
            raise _truncated(self._url, self._assembler)

    def __iter__(self) -> Iterator[AppStreamChunk]:
        return self

    def __next__(self) -> AppStreamChunk:
        return next(self._chunks)

    def close(self) -> None:
        """Stop reading and release the connection."""
        self._chunks.close()


class AsyncAppStream(_StreamBase, AClosesOnExit):
    """Async twin of :class:`AppStream` (``async for``, ``async with``, :meth:`aclose`).

    Each read waits at most the time left before ``total_timeout``, so the deadline is exact.
    """

    @cached_property
    def _chunks(self) -> AsyncGenerator[AppStreamChunk, None]:
        """The chunks, from a generator made once (it sends the request when first advanced)."""
        return self._run()

    async def _run(self) -> AsyncGenerator[AppStreamChunk, None]:
        feed = self._assembler.feed
        async with self._adapter.astream(check=_acheck, **self._request()) as response:
            if self._opened(response):
                await response.aread()
                yield self._json_answer(response)
                return
            async for event in aiter_events(response):
                if (chunk := feed(event)) is not None:
                    yield chunk
                    if chunk.done:
                        return
            raise _truncated(self._url, self._assembler)

    def __aiter__(self) -> AsyncIterator[AppStreamChunk]:
        return self

    async def __anext__(self) -> AppStreamChunk:
        return await self._chunks.__anext__()

    async def aclose(self) -> None:
        """Stop reading and release the connection."""
        await self._chunks.aclose()


class BailianAppClient(Closeable):
    """Calls one Bailian app: ``POST {base_url}/apps/{app_id}/completion``.

    ``api_key`` defaults to ``$DASHSCOPE_API_KEY`` and ``base_url`` to ``$DASHSCOPE_HTTP_BASE_URL``
    or the Beijing host (keys are region-bound; see ``INTL_BASE_URL``). ``timeout`` is the read
    timeout in seconds (for streams, the longest silence allowed), or an ``httpx.Timeout``.
    ``total_timeout`` bounds a whole call or stream, retries included (``None``: no bound); past
    it, :class:`APITimeoutError` is raised (for a stream, after the deltas that arrived in time
    were handed on).
    """

    def __init__(
        self,
        app_id: str,
        *,
        api_key: SecretStr | str | None = None,
        base_url: str | None = None,
        workspace: str | None = None,
        timeout: float | httpx.Timeout | None = None,
        total_timeout: float | None = DEFAULT_TOTAL_TIMEOUT,
        max_retries: int = 2,
        headers: Mapping[str, str] | None = None,
        http_client: httpx.Client | None = None,
        http_async_client: httpx.AsyncClient | None = None,
        retry_policy: RetryPolicy | None = None,
    ) -> None:
        self.app_id = check_id("app_id", app_id)
        self.workspace = check_id("workspace", workspace) if workspace else None
        self.total_timeout = check_total_timeout(total_timeout)
        check_client_options(
            api_key=api_key,
            timeout=timeout,
            max_retries=max_retries,
            http_client=http_client,
            http_async_client=http_async_client,
        )
        if api_key is None:
            api_key = os.environ.get(API_KEY_ENV)
        key = api_key if isinstance(api_key, SecretStr) or api_key is None else SecretStr(api_key)
        self.path = f"apps/{self.app_id}/completion"
        self._adapter = HTTPAdapter(
            base_url=check_base_url(base_url or os.environ.get(BASE_URL_ENV) or DEFAULT_BASE_URL),
            api_key=key,
            api_key_env=API_KEY_ENV,
            timeout=resolve_timeout(timeout),
            max_retries=max_retries,
            headers=headers,
            http_client=http_client,
            http_async_client=http_async_client,
            retry_policy=retry_policy,
        )

    def __repr__(self) -> str:
        return f"{type(self).__name__}(app_id={self.app_id!r}, base_url={self.base_url!r})"

    @property
    def base_url(self) -> str:
        """The base URL, ``/api/v1`` included."""
        return self._adapter.base_url

    @property
    def _url(self) -> str:
        return str(self._adapter.url(self.path))

    def _headers(self, options: AppOptions, *, stream: bool) -> dict[str, str]:
        return build_headers(stream=stream, workspace=options.get("workspace") or self.workspace)

    # -- calls --------------------------------------------------------------------------------

    def call(self, prompt: str | None = None, **options: Unpack[AppOptions]) -> AppCompletion:
        """One JSON call: the whole answer at once.

        ``total_timeout`` caps each attempt's timeouts and is checked between reads of the
        answer, so a body trickled past it raises :class:`APITimeoutError`.
        """
        return self._adapter.request(parse=parse_completion, **self._call_request(prompt, options))

    async def acall(
        self, prompt: str | None = None, **options: Unpack[AppOptions]
    ) -> AppCompletion:
        """Async twin of :meth:`call`; ``total_timeout`` cancels a read at the deadline."""
        request = self._call_request(prompt, options)
        return await self._adapter.arequest(parse=parse_completion, **request)

    def _call_request(self, prompt: str | None, options: AppOptions) -> _AppRequest:
        """The adapter's arguments for a JSON call (checked here, before anything is sent)."""
        total = self.total_timeout
        return {
            "method": "POST",
            "path": self.path,
            "kind": RequestKind.GENERATION,
            "json": build_body(prompt, options, stream=False),
            "headers": self._headers(options, stream=False),
            "deadline": Deadline.after(total, lambda: _call_overdue(self._url, total or 0.0)),
        }

    def stream(
        self,
        prompt: str | None = None,
        *,
        incremental_output: bool = True,
        **options: Unpack[AppOptions],
    ) -> AppStream:
        """A streamed call; iterate the result for deltas (the request is sent on first use).

        The input is checked here, so bad input raises before anything is sent.
        """
        body = build_body(prompt, options, stream=True, incremental_output=incremental_output)
        return AppStream(
            self._adapter,
            self.path,
            body,
            self._headers(options, stream=True),
            incremental=incremental_output,
            total_timeout=self.total_timeout,
        )

    def astream(
        self,
        prompt: str | None = None,
        *,
        incremental_output: bool = True,
        **options: Unpack[AppOptions],
    ) -> AsyncAppStream:
        """Async twin of :meth:`stream` (``async for chunk in client.astream(...)``)."""
        body = build_body(prompt, options, stream=True, incremental_output=incremental_output)
        return AsyncAppStream(
            self._adapter,
            self.path,
            body,
            self._headers(options, stream=True),
            incremental=incremental_output,
            total_timeout=self.total_timeout,
        )

    # -- lifecycle ----------------------------------------------------------------------------

    def close(self) -> None:
        """Close the connection pool this client created (injected clients are left open)."""
        self._adapter.close()

    async def aclose(self) -> None:
        """Close the pools this client created, the current event loop's included."""
        await self._adapter.aclose()
