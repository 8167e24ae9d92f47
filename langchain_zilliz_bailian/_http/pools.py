"""Pooled httpx clients: TCP_NODELAY sockets, keep-alive limits and environment proxies.

A client given its own transport no longer reads ``HTTP(S)_PROXY`` / ``ALL_PROXY`` / ``NO_PROXY``,
so those are read here (through the standard library) and mounted as proxied transports; loopback
hosts are always reached directly.
"""

from __future__ import annotations

import ipaddress
import socket
import urllib.request

import httpx

__all__ = ["new_async_client", "new_client", "proxy_routes"]

_LIMITS = httpx.Limits(max_connections=100, max_keepalive_connections=100, keepalive_expiry=30)
#: httpx writes a request's headers and body separately; with Nagle's algorithm on, the body waits
#: for the server's delayed ACK (about 40 ms a POST on loopback). Measured in scripts/bench.py.
_SOCKET_OPTIONS = [(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)]
#: Loopback never goes through a proxy: a remote proxy cannot reach this machine's local server.
_LOOPBACK = ("all://127.0.0.1", "all://localhost", "all://[::1]")


def _no_proxy_pattern(host: str) -> str:
    """The mount pattern that sends one ``NO_PROXY`` entry direct."""
    if "://" in host:
        return host
    try:
        address = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        address = None
    if isinstance(address, ipaddress.IPv6Address):
        return f"all://[{address}]"
    if address is not None or host.lower() == "localhost":
        return f"all://{host}"
    return f"all://*{host}"  # a domain: itself and its subdomains


def proxy_routes() -> dict[str, str | None]:
    """Mount pattern to proxy URL (``None``: direct) from the environment, loopback direct.

    Empty when no proxy is configured or ``NO_PROXY=*`` turns them all off.
    """
    found = urllib.request.getproxies()
    routes: dict[str, str | None] = {}
    for scheme in ("http", "https", "all"):
        url = found.get(scheme)
        if url:
            routes[f"{scheme}://"] = url if "://" in url else f"http://{url}"
    for host in (part.strip() for part in found.get("no", "").split(",")):
        if host == "*":
            return {}
        if host:
            routes[_no_proxy_pattern(host)] = None
    if any(url is not None for url in routes.values()):
        routes.update(dict.fromkeys(_LOOPBACK))
    else:
        routes = {}
    return routes


def _sync_transport(proxy: str | None = None) -> httpx.HTTPTransport:
    return httpx.HTTPTransport(limits=_LIMITS, socket_options=_SOCKET_OPTIONS, proxy=proxy)


def _async_transport(proxy: str | None = None) -> httpx.AsyncHTTPTransport:
    return httpx.AsyncHTTPTransport(limits=_LIMITS, socket_options=_SOCKET_OPTIONS, proxy=proxy)


def new_client(timeout: httpx.Timeout) -> httpx.Client:
    """A pooled client with TCP_NODELAY that still honours HTTP(S)_PROXY / NO_PROXY."""
    mounts = {
        pattern: _sync_transport(url) if url else None for pattern, url in proxy_routes().items()
    }
    return httpx.Client(timeout=timeout, transport=_sync_transport(), mounts=mounts)


def new_async_client(timeout: httpx.Timeout) -> httpx.AsyncClient:
    """The async client of :func:`new_client`."""
    mounts = {
        pattern: _async_transport(url) if url else None for pattern, url in proxy_routes().items()
    }
    return httpx.AsyncClient(timeout=timeout, transport=_async_transport(), mounts=mounts)
