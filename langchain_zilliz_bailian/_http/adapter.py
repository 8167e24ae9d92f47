"""The shared HTTP adapter: pooled httpx clients, auth, timeouts, and the calls themselves.

Every client in the package talks HTTP through :class:`HTTPAdapter`. It knows HTTP and nothing of
LangChain, LlamaIndex or either service's payloads: a service client passes a ``parse`` callable
that turns a response into a value or raises the typed error, and a :class:`RequestKind` that says
whether the request may be repeated. One ``httpx.Client`` and one ``httpx.AsyncClient`` (per event
loop) are created lazily and reused, so calls share keep-alive connections. Every attempt of every
call, sync or async, request or stream, runs through the one loop in ``attempts.py`` (error
mapping, retry decision, delay); ``deadline.py`` bounds a whole call.
"""

from __future__ import annotations

import asyncio
import logging
import platform
import threading
import time
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping
from contextlib import asynccontextmanager, contextmanager
from types import TracebackType
from typing import Any, TypedDict, TypeVar

import httpx
from pydantic import SecretStr
from typing_extensions import Required, Self, Unpack

from langchain_zilliz_bailian._http.attempts import Attempts, stream_interrupted, where
from langchain_zilliz_bailian._http.deadline import Deadline, abound_body, bound_body, within
from langchain_zilliz_bailian._http.pools import new_async_client, new_client
from langchain_zilliz_bailian._http.retry import RequestKind, RetryPolicy
from langchain_zilliz_bailian._version import __version__
from langchain_zilliz_bailian.errors import (
    APIConnectionError,
    APITimeoutError,
    InvalidInputError,
)

__all__ = [
    "AClosesOnExit",
    "Closeable",
    "ClosesOnExit",
    "Deadline",
    "HTTPAdapter",
    "RequestFields",
    "TransportErrorHook",
    "default_timeout",
    "new_async_client",
    "new_client",
    "user_agent",
]

logger = logging.getLogger("langchain_zilliz_bailian")

T = TypeVar("T")
#: Reads a response: into a value, or into the typed error it stands for.
Reader = Callable[[httpx.Response], T]
#: Checks a streamed response's headers, reading an error body if need be (sync or async).
AsyncCheck = Callable[[httpx.Response], Awaitable[None] | None]
#: Builds the error for a transport failure (lets a service explain, say, a discontinued host).
TransportErrorHook = Callable[[httpx.TransportError, httpx.URL], APIConnectionError | None]


class RequestFields(TypedDict, total=False):
    """What a call carries besides its method, path and reader: whether it may be repeated
    (``kind``), the deadline of the whole call, and the request's content."""

    kind: Required[RequestKind]
    deadline: Deadline | None
    json: Any
    params: Mapping[str, str] | None
    files: Mapping[str, Any] | None
    data: Mapping[str, str] | None
    headers: Mapping[str, str] | None


def default_timeout(read: float) -> httpx.Timeout:
    """Connect within 5 s, then allow ``read`` seconds between bytes (server limit + margin)."""
    return httpx.Timeout(connect=5.0, read=read, write=read, pool=10.0)


def user_agent() -> str:
    """``langchain-zilliz-bailian/<version> python/<version> httpx/<version>``."""
    return (
        f"langchain-zilliz-bailian/{__version__} "
        f"python/{platform.python_version()} httpx/{httpx.__version__}"
    )


_ExcType = type[BaseException] | None
_Traceback = TracebackType | None


class ClosesOnExit:
    """``with`` for an object with a :meth:`close` (called on leaving the block)."""

    def close(self) -> None:
        """Release what this object holds."""
        raise NotImplementedError

    def __enter__(self) -> Self:
        return self

    def __exit__(self, kind: _ExcType, exc: BaseException | None, tb: _Traceback) -> None:
        self.close()


class AClosesOnExit:
    """``async with`` for an object with an :meth:`aclose` (awaited on leaving the block)."""

    async def aclose(self) -> None:
        """Release what this object holds, awaiting what must be awaited."""
        raise NotImplementedError

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, kind: _ExcType, exc: BaseException | None, tb: _Traceback) -> None:
        await self.aclose()


class Closeable(ClosesOnExit, AClosesOnExit):
    """``with`` and ``async with`` for objects that own connection pools (``close``/``aclose``)."""


class HTTPAdapter(Closeable):
    """Sends requests to one base URL with one API key, through pooled sync and async clients.

    ``http_client`` / ``http_async_client`` may be injected (proxies, custom TLS, tests); injected
    clients are used as they are and left open on :meth:`close`, since their owner closes them.
    ``unknown_write_note`` is added to a timeout that ends a write which may have been applied.
    """

    def __init__(
        self,
        *,
        base_url: str,
        api_key: SecretStr | None,
        api_key_env: str,
        timeout: httpx.Timeout,
        max_retries: int = 2,
        headers: Mapping[str, str] | None = None,
        http_client: httpx.Client | None = None,
        http_async_client: httpx.AsyncClient | None = None,
        on_transport_error: TransportErrorHook | None = None,
        retry_policy: RetryPolicy | None = None,
        unknown_write_note: str | None = None,
    ) -> None:
        if isinstance(max_retries, bool) or not isinstance(max_retries, int) or max_retries < 0:
            raise InvalidInputError(f"max_retries must be an int >= 0, got {max_retries!r}.")
        self.base_url = base_url.rstrip("/")
        self._api_key = api_key
        self._api_key_env = api_key_env
        self.timeout = timeout
        self.retry = retry_policy or RetryPolicy(max_retries=max_retries)
        self._headers = {"User-Agent": user_agent(), **(headers or {})}
        self._on_transport_error = on_transport_error
        self._unknown_write_note = unknown_write_note
        self._client = http_client
        self._owns_client = http_client is None
        self._injected_async = http_async_client
        # id(loop) -> (the loop, weakly; its client). A client refers to its loop through its
        # connections, so a WeakKeyDictionary would never drop an entry: stale ones are pruned.
        self._async_clients: dict[
            int, tuple[weakref.ref[asyncio.AbstractEventLoop], httpx.AsyncClient]
        ] = {}
        self._lock = threading.Lock()
        self._urls: dict[str, httpx.URL] = {}

    def __repr__(self) -> str:
        return f"{type(self).__name__}(base_url={self.base_url!r})"

    # -- clients ------------------------------------------------------------------------------

    @property
    def client(self) -> httpx.Client:
        """The sync client, created on first use and then reused."""
        if self._client is None:
            with self._lock:
                if self._client is None:
                    self._client = new_client(self.timeout)
        return self._client

    @property
    def async_client(self) -> httpx.AsyncClient:
        """The async client for the running event loop, created on first use there and reused.

        An ``httpx.AsyncClient``'s connections belong to the loop that opened them, so a second
        loop (``asyncio.run`` called twice) gets its own pool instead of a broken one.
        """
        if self._injected_async is not None:
            return self._injected_async
        loop = asyncio.get_running_loop()
        entry = self._async_clients.get(id(loop))
        if entry is not None and entry[0]() is loop and not entry[1].is_closed:
            return entry[1]
        self._forget_finished_loops()
        client = new_async_client(self.timeout)
        self._async_clients[id(loop)] = (weakref.ref(loop), client)
        return client

    def _forget_finished_loops(self) -> None:
        """Drop the clients of loops that are closed or gone (``asyncio.run`` called repeatedly).

        Their connections cannot be closed politely without their loop; dropping the last
        reference lets the sockets be closed when the client is collected.
        """
        for key, (ref, client) in list(self._async_clients.items()):
            loop = ref()
            if loop is None or loop.is_closed() or client.is_closed:
                del self._async_clients[key]

    def close(self) -> None:
        """Close the sync pool this adapter created (an injected client is left to its owner)."""
        if self._owns_client and self._client is not None:
            self._client.close()
            self._client = None

    async def aclose(self) -> None:
        """Close the pools this adapter created, the current loop's async one included."""
        self.close()
        if self._injected_async is None:
            entry = self._async_clients.pop(id(asyncio.get_running_loop()), None)
            if entry is not None:
                await entry[1].aclose()
            self._forget_finished_loops()

    # -- building requests --------------------------------------------------------------------

    def url(self, path: str) -> httpx.URL:
        """The absolute URL of ``path`` under the base URL (parsed once per path)."""
        url = self._urls.get(path)
        if url is None:
            url = httpx.URL(f"{self.base_url}/{path.lstrip('/')}")
            if len(self._urls) < 1024:
                self._urls[path] = url
        return url

    def _build(
        self, client: httpx.Client | httpx.AsyncClient, method: str, path: str, call: RequestFields
    ) -> httpx.Request:
        if self._api_key is None or not self._api_key.get_secret_value():
            raise InvalidInputError(
                f"No API key: pass api_key=... or set the {self._api_key_env} environment variable."
            )
        merged = {
            **self._headers,
            **(call.get("headers") or {}),
            "Authorization": f"Bearer {self._api_key.get_secret_value()}",
        }
        return client.build_request(
            method,
            self.url(path),
            json=call.get("json"),
            params=call.get("params"),
            files=call.get("files"),
            data=call.get("data"),
            headers=merged,
        )

    def _transport_error(self, exc: httpx.TransportError, url: httpx.URL) -> APIConnectionError:
        """The package's error for a transport failure before the body was handed on."""
        if self._on_transport_error is not None:
            mapped = self._on_transport_error(exc, url)
            if mapped is not None:
                return mapped
        if isinstance(exc, httpx.TimeoutException):
            kind = type(exc).__name__
            text = f"{kind} after {self._timeout_text(exc)} on {where(url)}"
            return APITimeoutError(text, url=where(url))
        return APIConnectionError(f"Connection failed on {where(url)}: {exc!r}", url=where(url))

    def _stream_error(self, exc: httpx.TransportError, url: httpx.URL) -> APIConnectionError:
        """The package's error for a transport failure once the body was handed on."""
        return stream_interrupted(exc, url, self._timeout_text(exc))

    def _timeout_text(self, exc: httpx.TransportError) -> str:
        limits: dict[type[httpx.TransportError], float | None] = {
            httpx.ConnectTimeout: self.timeout.connect,
            httpx.ReadTimeout: self.timeout.read,
            httpx.WriteTimeout: self.timeout.write,
            httpx.PoolTimeout: self.timeout.pool,
        }
        limit = limits.get(type(exc))
        return f"{limit:g} s" if limit is not None else "the configured timeout"

    def _attempts(
        self, client: httpx.Client | httpx.AsyncClient, method: str, path: str, call: RequestFields
    ) -> Attempts:
        return Attempts(
            self._build(client, method, path, call),
            kind=call["kind"],
            policy=self.retry,
            transport_error=self._transport_error,
            deadline=call.get("deadline"),
            unknown_write_note=self._unknown_write_note,
        )

    # -- calls: each attempt runs in ``with attempts`` (the one loop); only I/O differs ------------

    def request(
        self, method: str, path: str, *, parse: Reader[T], **call: Unpack[RequestFields]
    ) -> T:
        """Send a request, retrying as ``kind`` allows, and return ``parse(response)``.

        With a ``deadline``, every read of the body is checked against it.
        """
        client = self.client
        attempts = self._attempts(client, method, path, call)
        while True:
            with attempts:
                response = attempts.hold(client.send(attempts.request, stream=True))
                bound_body(response, attempts.deadline).read()
                return parse(response)
            time.sleep(attempts.delay)

    async def arequest(
        self, method: str, path: str, *, parse: Reader[T], **call: Unpack[RequestFields]
    ) -> T:
        """Async :meth:`request` on the native async client; reads are cancelled at ``deadline``."""
        client = self.async_client
        attempts = self._attempts(client, method, path, call)
        while True:
            async with attempts:
                response = attempts.hold(
                    await within(attempts.deadline, client.send(attempts.request, stream=True))
                )
                await abound_body(response, attempts.deadline).aread()
                return parse(response)
            await asyncio.sleep(attempts.delay)

    @contextmanager
    def stream(
        self, method: str, path: str, *, check: Reader[None], **call: Unpack[RequestFields]
    ) -> Iterator[httpx.Response]:
        """Open a streamed response whose headers ``check`` accepted; close it on exit.

        Retries cover only the phase before the body is handed on: ``check`` sees the response
        with its body unread and raises the typed error for a non-2xx answer (it may read the
        body). Once the response is yielded, a transport failure becomes
        :class:`StreamInterruptedError` (or :class:`APITimeoutError`) and is never retried.
        With a ``deadline``, every read of the body is checked against it.
        """
        client = self.client
        attempts = self._attempts(client, method, path, call)
        while True:
            with attempts:
                response = attempts.hold(client.send(attempts.request, stream=True))
                check(bound_body(response, attempts.deadline))
                break
            time.sleep(attempts.delay)
        try:
            with attempts.reading(self._stream_error):
                yield response
        finally:
            response.close()

    @asynccontextmanager
    async def astream(
        self, method: str, path: str, *, check: AsyncCheck, **call: Unpack[RequestFields]
    ) -> AsyncIterator[httpx.Response]:
        """Async :meth:`stream`; ``check`` may be a coroutine function (to read a body)."""
        client = self.async_client
        attempts = self._attempts(client, method, path, call)
        while True:
            async with attempts:
                response = attempts.hold(
                    await within(attempts.deadline, client.send(attempts.request, stream=True))
                )
                checked = check(abound_body(response, attempts.deadline))
                if checked is not None:
                    await checked
                break
            await asyncio.sleep(attempts.delay)
        try:
            with attempts.reading(self._stream_error):
                yield response
        finally:
            await response.aclose()
