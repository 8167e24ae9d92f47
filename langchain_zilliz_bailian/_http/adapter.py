"""The shared HTTP adapter: pooled httpx clients, auth, timeouts, retries and error mapping.

Every client in the package talks HTTP through :class:`HTTPAdapter`. It knows HTTP and nothing of
LangChain, LlamaIndex or either service's payloads: a service client passes a ``parse`` callable
that turns a response into a value or raises the typed error, and a :class:`RequestKind` that says
whether the request may be repeated. One ``httpx.Client`` and one ``httpx.AsyncClient`` (per event
loop) are created lazily and reused, so calls share keep-alive connections.
"""

from __future__ import annotations

import asyncio
import logging
import platform
import socket
import threading
import time
import weakref
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from types import TracebackType
from typing import Any, TypeVar

import httpx
from httpx._utils import get_environment_proxies
from pydantic import SecretStr
from typing_extensions import Self

from langchain_zilliz_bailian._http.retry import RequestKind, RetryPolicy
from langchain_zilliz_bailian._version import __version__
from langchain_zilliz_bailian.errors import (
    APIConnectionError,
    APIError,
    APITimeoutError,
    InvalidInputError,
    ResponseFormatError,
    StreamInterruptedError,
    ZillizBailianError,
)

__all__ = [
    "Closeable",
    "Deadline",
    "HTTPAdapter",
    "TransportErrorHook",
    "default_timeout",
    "user_agent",
]

logger = logging.getLogger("langchain_zilliz_bailian")

T = TypeVar("T")
#: Builds the error for a transport failure (lets a service explain, say, a discontinued host).
TransportErrorHook = Callable[[httpx.TransportError, httpx.URL], APIConnectionError | None]

_LIMITS = httpx.Limits(max_connections=100, max_keepalive_connections=100, keepalive_expiry=30)
#: httpx writes a request's headers and body separately; with Nagle's algorithm on, the body waits
#: for the server's delayed ACK (about 40 ms a POST on loopback). Measured in scripts/bench.py.
_SOCKET_OPTIONS = [(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)]


def default_timeout(read: float) -> httpx.Timeout:
    """Connect within 5 s, then allow ``read`` seconds between bytes (server limit + margin)."""
    return httpx.Timeout(connect=5.0, read=read, write=read, pool=10.0)


#: A timeout this close to the deadline is the deadline's (socket timeouts end a little late).
_DEADLINE_SLACK = 0.01


@dataclass(frozen=True)
class Deadline:
    """When (``time.monotonic()``) a whole call must be done, and the error to raise past it.

    A blocking read cannot be cancelled as ``asyncio.wait_for`` cancels an async one, so the
    adapter bounds sync calls the closest way a socket allows: no attempt or retry starts past
    the deadline, every timeout of an attempt (connect, write, pool, read) is capped at the time
    left when it starts, and the body is checked between reads, so a server that keeps bytes
    flowing (``:keep-alive`` comments, a trickled JSON body) is stopped at the deadline.
    """

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


class _DeadlineStream(httpx.SyncByteStream):
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


def _bound(response: httpx.Response, deadline: Deadline | None) -> None:
    """Check ``deadline`` now that the headers are in, then between the reads of the body."""
    if deadline is None:
        return
    deadline.check()
    if isinstance(response.stream, httpx.SyncByteStream):
        response.stream = _DeadlineStream(response.stream, deadline)


def _timeouts(request: httpx.Request) -> dict[str, float | None]:
    """The per-phase timeouts the client put on ``request`` (before any deadline capped them)."""
    return dict(request.extensions.get("timeout") or {})


def _sync_transport(proxy: str | None = None) -> httpx.HTTPTransport:
    return httpx.HTTPTransport(limits=_LIMITS, socket_options=_SOCKET_OPTIONS, proxy=proxy)


def _async_transport(proxy: str | None = None) -> httpx.AsyncHTTPTransport:
    return httpx.AsyncHTTPTransport(limits=_LIMITS, socket_options=_SOCKET_OPTIONS, proxy=proxy)


#: Loopback never goes through a proxy: a remote proxy cannot reach this machine's local server.
_LOOPBACK = ("all://127.0.0.1", "all://localhost", "all://[::1]")


def _proxy_routes() -> dict[str, str | None]:
    """HTTP(S)_PROXY / ALL_PROXY / NO_PROXY as httpx reads them, loopback always direct."""
    routes = get_environment_proxies()
    if routes:
        routes.update(dict.fromkeys(_LOOPBACK))
    return routes


def new_client(timeout: httpx.Timeout) -> httpx.Client:
    """A pooled client with TCP_NODELAY that still honours HTTP(S)_PROXY / NO_PROXY."""
    mounts = {
        pattern: _sync_transport(url) if url else None for pattern, url in _proxy_routes().items()
    }
    return httpx.Client(timeout=timeout, transport=_sync_transport(), mounts=mounts)


def new_async_client(timeout: httpx.Timeout) -> httpx.AsyncClient:
    """Async twin of :func:`new_client`."""
    mounts = {
        pattern: _async_transport(url) if url else None for pattern, url in _proxy_routes().items()
    }
    return httpx.AsyncClient(timeout=timeout, transport=_async_transport(), mounts=mounts)


def _where(url: httpx.URL) -> str:
    """``scheme://host[:port]/path``, without the query (ports matter for local servers)."""
    port = f":{url.port}" if url.port else ""
    return f"{url.scheme}://{url.host}{port}{url.path}"


def _http_error(exc: httpx.HTTPError, url: httpx.URL) -> ZillizBailianError:
    """An httpx failure that is not a transport error: an undecodable body, redirect loops..."""
    if isinstance(exc, httpx.DecodingError):
        return ResponseFormatError(f"The body from {_where(url)} could not be decoded: {exc}")
    return APIConnectionError(f"HTTP failure on {_where(url)}: {exc!r}", url=_where(url))


def user_agent() -> str:
    """``langchain-zilliz-bailian/<version> python/<version> httpx/<version>``."""
    return (
        f"langchain-zilliz-bailian/{__version__} "
        f"python/{platform.python_version()} httpx/{httpx.__version__}"
    )


class Closeable:
    """``with`` and ``async with`` for objects that own connection pools (``close``/``aclose``)."""

    def close(self) -> None:
        """Close the pools this object created."""
        raise NotImplementedError

    async def aclose(self) -> None:
        """Close the pools this object created, the current event loop's async one included."""
        raise NotImplementedError

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()


class HTTPAdapter(Closeable):
    """Sends requests to one base URL with one API key, through pooled sync and async clients.

    ``http_client`` / ``http_async_client`` may be injected (proxies, custom TLS, tests); injected
    clients are used as they are and left open on :meth:`close`, since their owner closes them.
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
        self,
        client: httpx.Client | httpx.AsyncClient,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: Mapping[str, str] | None = None,
        files: Mapping[str, Any] | None = None,
        data: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> httpx.Request:
        if self._api_key is None or not self._api_key.get_secret_value():
            raise InvalidInputError(
                f"No API key: pass api_key=... or set the {self._api_key_env} environment variable."
            )
        merged = {
            **self._headers,
            **(headers or {}),
            "Authorization": f"Bearer {self._api_key.get_secret_value()}",
        }
        return client.build_request(
            method,
            self.url(path),
            json=json,
            params=params,
            files=files,
            data=data,
            headers=merged,
        )

    def _transport_error(self, exc: httpx.TransportError, url: httpx.URL) -> APIConnectionError:
        if self._on_transport_error is not None:
            mapped = self._on_transport_error(exc, url)
            if mapped is not None:
                return mapped
        where = _where(url)
        if isinstance(exc, httpx.TimeoutException):
            kind = type(exc).__name__
            return APITimeoutError(f"{kind} after {self._timeout_text(exc)} on {where}", url=where)
        return APIConnectionError(f"Connection failed on {where}: {exc!r}", url=where)

    def _timeout_text(self, exc: httpx.TimeoutException) -> str:
        limit = {
            httpx.ConnectTimeout: self.timeout.connect,
            httpx.ReadTimeout: self.timeout.read,
            httpx.WriteTimeout: self.timeout.write,
            httpx.PoolTimeout: self.timeout.pool,
        }.get(type(exc))
        return f"{limit:g} s" if limit is not None else "the configured timeout"

    def _log_retry(self, request: httpx.Request, attempt: int, delay: float, why: object) -> None:
        logger.info(
            "Retrying %s %s in %.2f s (retry %d of %d) after %s",
            request.method,
            request.url.path,
            delay,
            attempt + 1,
            self.retry.max_retries,
            type(why).__name__,
        )

    def _next_delay(
        self, kind: RequestKind, attempt: int, error: BaseException, response: httpx.Response | None
    ) -> float | None:
        """Seconds to wait before the next attempt, or ``None`` when ``error`` must be raised."""
        if attempt >= self.retry.max_retries or not self.retry.should_retry(kind, error):
            return None
        return self.retry.delay(attempt, response.headers if response is not None else None)

    # -- plain requests -----------------------------------------------------------------------

    def request(
        self,
        method: str,
        path: str,
        *,
        kind: RequestKind,
        parse: Callable[[httpx.Response], T],
        json: Any = None,
        params: Mapping[str, str] | None = None,
        files: Mapping[str, Any] | None = None,
        data: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        deadline: Deadline | None = None,
    ) -> T:
        """Send a request, retrying as ``kind`` allows, and return ``parse(response)``.

        With a ``deadline``, the body is read in chunks and the deadline checked between them.
        """
        client = self.client
        request = self._build(
            client, method, path, json=json, params=params, files=files, data=data, headers=headers
        )
        timeouts = _timeouts(request)
        attempt = 0
        while True:
            if deadline is not None:
                deadline.limit(request, timeouts)
            started = time.perf_counter()
            response: httpx.Response | None = None
            try:
                response = self._send(client, request, deadline)
                logger.debug(
                    "%s %s -> %d in %.1f ms",
                    method,
                    request.url.path,
                    response.status_code,
                    (time.perf_counter() - started) * 1000,
                )
                return parse(response)
            except httpx.TransportError as exc:
                if deadline is not None and deadline.timed_out(exc):
                    raise deadline.overdue() from exc
                delay = self._next_delay(kind, attempt, exc, None)
                if delay is None:
                    raise self._transport_error(exc, request.url) from exc
                error: BaseException = exc
            except httpx.HTTPError as exc:
                raise _http_error(exc, request.url) from exc
            except APIError as exc:
                delay = self._next_delay(kind, attempt, exc, response)
                if delay is None:
                    raise
                error = exc
            self._wait(request, attempt, delay, error, deadline)
            time.sleep(delay)
            attempt += 1

    def _send(
        self, client: httpx.Client, request: httpx.Request, deadline: Deadline | None
    ) -> httpx.Response:
        """``client.send``; with a deadline, the body is read chunk by chunk against it."""
        if deadline is None:
            return client.send(request)
        response = client.send(request, stream=True)
        try:
            _bound(response, deadline)
            response.read()
        finally:
            response.close()
        return response

    def _wait(
        self,
        request: httpx.Request,
        attempt: int,
        delay: float,
        error: BaseException,
        deadline: Deadline | None,
    ) -> None:
        """Log the coming retry; if it could only start past the deadline, give up with the error
        that called for it (the deadline has not passed, so a timeout would not be true)."""
        if deadline is not None and delay >= deadline.remaining():
            if deadline.remaining() <= 0:
                raise deadline.overdue() from error
            if isinstance(error, httpx.TransportError):
                raise self._transport_error(error, request.url) from error
            raise error
        self._log_retry(request, attempt, delay, error)

    async def arequest(
        self,
        method: str,
        path: str,
        *,
        kind: RequestKind,
        parse: Callable[[httpx.Response], T],
        json: Any = None,
        params: Mapping[str, str] | None = None,
        files: Mapping[str, Any] | None = None,
        data: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        deadline: Deadline | None = None,
    ) -> T:
        """Async twin of :meth:`request`, on the native async client (no threads)."""
        client = self.async_client
        request = self._build(
            client, method, path, json=json, params=params, files=files, data=data, headers=headers
        )
        timeouts = _timeouts(request)
        attempt = 0
        while True:
            if deadline is not None:
                deadline.limit(request, timeouts)
            started = time.perf_counter()
            response: httpx.Response | None = None
            try:
                response = await client.send(request)
                logger.debug(
                    "%s %s -> %d in %.1f ms",
                    method,
                    request.url.path,
                    response.status_code,
                    (time.perf_counter() - started) * 1000,
                )
                return parse(response)
            except httpx.TransportError as exc:
                if deadline is not None and deadline.timed_out(exc):
                    raise deadline.overdue() from exc
                delay = self._next_delay(kind, attempt, exc, None)
                if delay is None:
                    raise self._transport_error(exc, request.url) from exc
                error: BaseException = exc
            except httpx.HTTPError as exc:
                raise _http_error(exc, request.url) from exc
            except APIError as exc:
                delay = self._next_delay(kind, attempt, exc, response)
                if delay is None:
                    raise
                error = exc
            self._wait(request, attempt, delay, error, deadline)
            await asyncio.sleep(delay)
            attempt += 1

    # -- streams ------------------------------------------------------------------------------

    @contextmanager
    def stream(
        self,
        method: str,
        path: str,
        *,
        kind: RequestKind,
        check: Callable[[httpx.Response], None],
        json: Any = None,
        headers: Mapping[str, str] | None = None,
        deadline: Deadline | None = None,
    ) -> Iterator[httpx.Response]:
        """Open a streamed response whose headers ``check`` accepted; close it on exit.

        Retries cover only the phase before the body is handed on: ``check`` sees the response
        with its body unread and raises the typed error for a non-2xx answer (it may read the
        body). Once the response is yielded, a transport failure becomes
        :class:`StreamInterruptedError` (or :class:`APITimeoutError`) and is never retried.
        With a ``deadline``, every read of the body is checked against it.
        """
        client = self.client
        request = self._build(client, method, path, json=json, headers=headers)
        timeouts = _timeouts(request)
        attempt = 0
        while True:
            if deadline is not None:
                deadline.limit(request, timeouts)
            response: httpx.Response | None = None
            try:
                response = client.send(request, stream=True)
                _bound(response, deadline)
                check(response)
                break
            except httpx.TransportError as exc:
                if response is not None:
                    response.close()
                if deadline is not None and deadline.timed_out(exc):
                    raise deadline.overdue() from exc
                delay = self._next_delay(kind, attempt, exc, None)
                if delay is None:
                    raise self._transport_error(exc, request.url) from exc
                error: BaseException = exc
            except httpx.HTTPError as exc:
                if response is not None:
                    response.close()
                raise _http_error(exc, request.url) from exc
            except APIError as exc:
                if response is not None:
                    response.close()
                delay = self._next_delay(kind, attempt, exc, response)
                if delay is None:
                    raise
                error = exc
            except BaseException:  # the deadline passed while ``check`` read an error body
                if response is not None:
                    response.close()
                raise
            self._wait(request, attempt, delay, error, deadline)
            time.sleep(delay)
            attempt += 1
        try:
            yield response
        except httpx.TransportError as exc:
            if deadline is not None and deadline.timed_out(exc):
                raise deadline.overdue() from exc
            raise self._stream_error(exc, request.url) from exc
        except httpx.HTTPError as exc:
            raise _http_error(exc, request.url) from exc
        finally:
            response.close()

    @asynccontextmanager
    async def astream(
        self,
        method: str,
        path: str,
        *,
        kind: RequestKind,
        check: Callable[[httpx.Response], Any],
        json: Any = None,
        headers: Mapping[str, str] | None = None,
        deadline: Deadline | None = None,
    ) -> AsyncIterator[httpx.Response]:
        """Async twin of :meth:`stream`; ``check`` may be a coroutine function (to read a body).

        A ``deadline`` caps the timeouts of each attempt and stops retries; the caller cancels
        reads of the body at the deadline (``asyncio.wait_for``).
        """
        client = self.async_client
        request = self._build(client, method, path, json=json, headers=headers)
        timeouts = _timeouts(request)
        attempt = 0
        while True:
            if deadline is not None:
                deadline.limit(request, timeouts)
            response: httpx.Response | None = None
            try:
                response = await client.send(request, stream=True)
                result = check(response)
                if asyncio.iscoroutine(result):
                    await result
                break
            except httpx.TransportError as exc:
                if response is not None:
                    await response.aclose()
                if deadline is not None and deadline.timed_out(exc):
                    raise deadline.overdue() from exc
                delay = self._next_delay(kind, attempt, exc, None)
                if delay is None:
                    raise self._transport_error(exc, request.url) from exc
                error: BaseException = exc
            except httpx.HTTPError as exc:
                if response is not None:
                    await response.aclose()
                raise _http_error(exc, request.url) from exc
            except APIError as exc:
                if response is not None:
                    await response.aclose()
                delay = self._next_delay(kind, attempt, exc, response)
                if delay is None:
                    raise
                error = exc
            self._wait(request, attempt, delay, error, deadline)
            await asyncio.sleep(delay)
            attempt += 1
        try:
            yield response
        except httpx.TransportError as exc:
            if deadline is not None and deadline.timed_out(exc):
                raise deadline.overdue() from exc
            raise self._stream_error(exc, request.url) from exc
        except httpx.HTTPError as exc:
            raise _http_error(exc, request.url) from exc
        finally:
            await response.aclose()

    def _stream_error(self, exc: httpx.TransportError, url: httpx.URL) -> APIConnectionError:
        where = _where(url)
        if isinstance(exc, httpx.TimeoutException):
            return APITimeoutError(
                f"The stream from {where} stalled: no data for {self._timeout_text(exc)}; "
                "the deltas received so far were already delivered.",
                url=where,
            )
        return StreamInterruptedError(
            f"The stream from {where} broke off ({exc!r}); the deltas received so far were "
            "already delivered.",
            url=where,
        )
