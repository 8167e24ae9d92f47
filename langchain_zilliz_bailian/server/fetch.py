"""Resolution of ``doc_url`` (INDEX_DOC) and image URLs: http(s) downloads, ``file://`` under the
data dir.

The hosted service downloaded presigned object-storage URLs. Here a download has a total deadline
and a size cap, and by default may only reach public addresses: every hop (the URL and each
redirect) is resolved, every address it resolves to is checked, and the connection goes to the
checked address (so a second DNS answer cannot swap in a private one). Loopback, link-local and
private addresses need ``--allow-private-fetch``. Local files are confined to the data directory.
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from urllib.parse import unquote, urlsplit
from urllib.request import url2pathname

import anyio
import httpx

from langchain_zilliz_bailian.server.errors import bad_param

MAX_DOC_BYTES = 10 * 1024 * 1024
DEFAULT_FETCH_DEADLINE_S = 30.0
MAX_REDIRECTS = 5

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


@dataclass(frozen=True)
class FetchPolicy:
    """How ``doc_url`` downloads are bounded: which addresses, how long, how large."""

    allow_private: bool = False
    deadline_s: float = DEFAULT_FETCH_DEADLINE_S
    max_bytes: int = MAX_DOC_BYTES

    def address_allowed(self, address: IPAddress) -> bool:
        """Public unicast addresses only, unless private fetching is allowed."""
        if self.allow_private:
            return True
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            address = address.ipv4_mapped
        return address.is_global and not address.is_multicast


def doc_name_from_url(url: str) -> str:
    """Last path segment, no query string, percent-decoded (``a/x.md?sig=..`` -> ``x.md``)."""
    name = PurePosixPath(unquote(urlsplit(url).path)).name
    if not name:
        raise bad_param(f"Cannot derive a document name from doc_url {url!r}.")
    return name


async def fetch_document(
    url: str, data_dir: Path, policy: FetchPolicy | None = None
) -> tuple[str, bytes]:
    """Return ``(doc_name, bytes)`` for ``url``; a Zilliz 80000 error when it cannot be read."""
    if urlsplit(url).scheme.lower() in ("http", "https"):
        doc_name_from_url(url)  # a URL without a document name is refused before downloading
    return await fetch_url(url, data_dir, policy)


async def fetch_url(
    url: str, data_dir: Path, policy: FetchPolicy | None = None, field: str = "doc_url"
) -> tuple[str, bytes]:
    """``(last path segment, bytes)`` of ``url`` (the input ``field`` names it in errors)."""
    policy = policy or FetchPolicy()
    scheme = urlsplit(url).scheme.lower()
    if scheme == "file":
        return _read_local(url, data_dir, field)
    if scheme not in ("http", "https"):
        upload = ", or the run_ingestion_with_file endpoint" if field == "doc_url" else ""
        raise bad_param(
            f"Unsupported {field} scheme {scheme or '(none)'!r}; use http(s):// or file:// "
            f"under the server data directory{upload}."
        )
    name = PurePosixPath(unquote(urlsplit(url).path)).name
    try:
        with anyio.fail_after(policy.deadline_s):
            return name, await _download(url, policy, field)
    except TimeoutError:
        raise bad_param(
            f"Failed to download {field}: not complete within {policy.deadline_s:g} s."
        ) from None
    except httpx.HTTPError as exc:
        raise bad_param(f"Failed to download {field}: {type(exc).__name__}: {exc}") from None


async def _download(url: str, policy: FetchPolicy, field: str) -> bytes:
    """GET ``url``, following at most :data:`MAX_REDIRECTS` redirects, each hop checked."""
    # trust_env=False: a proxy from the environment would reach addresses we never checked.
    async with httpx.AsyncClient(timeout=policy.deadline_s, trust_env=False) as client:
        current = httpx.URL(url)
        for _ in range(MAX_REDIRECTS + 1):
            request = await _checked_request(client, current, policy, field)
            response = await client.send(request, stream=True)
            try:
                if response.is_redirect and "location" in response.headers:
                    current = current.join(response.headers["location"])
                    continue
                if response.status_code != 200:
                    raise bad_param(f"Failed to download {field}: HTTP {response.status_code}.")
                return await _read_capped(response, policy.max_bytes, field)
            finally:
                await response.aclose()
    raise bad_param(f"Failed to download {field}: more than {MAX_REDIRECTS} redirects.")


async def _checked_request(
    client: httpx.AsyncClient, url: httpx.URL, policy: FetchPolicy, field: str
) -> httpx.Request:
    """A GET for ``url`` sent to an address the policy allows (pinned unless all are allowed)."""
    if url.scheme not in ("http", "https"):
        raise bad_param(f"{field} redirected to an unsupported scheme {url.scheme!r}.")
    if policy.allow_private:
        return client.build_request("GET", url)
    addresses = await _resolve(url, field)
    for address in addresses:
        if not policy.address_allowed(address):
            raise bad_param(
                f"{field} host {url.host!r} resolves to a non-public address ({address}); "
                "the server refuses loopback, link-local and private addresses unless started "
                "with --allow-private-fetch."
            )
    pinned = url.copy_with(host=str(addresses[0]))
    extensions = {"sni_hostname": url.host} if url.scheme == "https" else {}
    return client.build_request(
        "GET", pinned, headers={"Host": url.netloc.decode("ascii")}, extensions=extensions
    )


async def _resolve(url: httpx.URL, field: str) -> list[IPAddress]:
    """Every address ``url``'s host resolves to (a literal address resolves to itself)."""
    port = url.port or (443 if url.scheme == "https" else 80)
    try:
        infos = await anyio.getaddrinfo(url.host, port, type=socket.SOCK_STREAM)
    except OSError as exc:
        raise bad_param(
            f"Failed to download {field}: cannot resolve {url.host!r}: {exc}."
        ) from None
    addresses = [ipaddress.ip_address(str(info[4][0]).split("%", 1)[0]) for info in infos]
    if not addresses:
        raise bad_param(f"Failed to download {field}: {url.host!r} has no address.")
    return addresses


async def _read_capped(response: httpx.Response, max_bytes: int, field: str) -> bytes:
    """The body, refused as soon as it (or its declared length) passes ``max_bytes``."""
    too_large = f"The {_noun(field)} exceeds the {max_bytes // (1024 * 1024)} MB limit."
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > max_bytes:
        raise bad_param(too_large)
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.aiter_bytes():
        size += len(chunk)
        if size > max_bytes:
            raise bad_param(too_large)
        chunks.append(chunk)
    return b"".join(chunks)


def _noun(field: str) -> str:
    """What an input field's URL points at, for messages."""
    return "document" if field == "doc_url" else "image"


def _read_local(url: str, data_dir: Path, field: str) -> tuple[str, bytes]:
    parts = urlsplit(url)
    if parts.netloc not in ("", "localhost"):
        raise bad_param("file:// URLs must not name a remote host.")
    path = Path(url2pathname(unquote(parts.path))).resolve()
    root = data_dir.resolve()
    if not path.is_relative_to(root):
        raise bad_param(f"file:// URLs are only allowed under the server data directory ({root}).")
    if not path.is_file():
        raise bad_param(f"File not found: {path.name}")
    if path.stat().st_size > MAX_DOC_BYTES:
        raise bad_param(f"The {_noun(field)} exceeds the 10 MB limit.")
    return path.name, path.read_bytes()
