"""Resolution of ``doc_url`` for INDEX_DOC: http(s) downloads, ``file://`` under the data dir.

The hosted service downloaded presigned object-storage URLs; offline we accept any http(s) URL the
machine can reach (typically loopback) and local files confined to the server's data directory.
"""

from __future__ import annotations

from pathlib import Path, PurePosixPath
from urllib.parse import unquote, urlsplit
from urllib.request import url2pathname

import httpx

from langchain_zilliz_bailian.server.errors import bad_param

MAX_DOC_BYTES = 10 * 1024 * 1024


def doc_name_from_url(url: str) -> str:
    """Last path segment, no query string, percent-decoded (``a/x.md?sig=..`` -> ``x.md``)."""
    name = PurePosixPath(unquote(urlsplit(url).path)).name
    if not name:
        raise bad_param(f"Cannot derive a document name from doc_url {url!r}.")
    return name


async def fetch_document(url: str, data_dir: Path, timeout: float = 60.0) -> tuple[str, bytes]:
    """Return ``(doc_name, bytes)`` for ``url``; a Zilliz 80000 error when it cannot be read."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme == "file":
        return _read_local(url, data_dir)
    if scheme not in ("http", "https"):
        raise bad_param(
            f"Unsupported doc_url scheme {scheme or '(none)'!r}; use http(s):// or file:// "
            "under the "
            "server data directory, or the run_ingestion_with_file endpoint."
        )
    name = doc_name_from_url(url)
    try:
        async with (
            httpx.AsyncClient(timeout=timeout, follow_redirects=True) as client,
            client.stream("GET", url) as resp,
        ):
            if resp.status_code != 200:
                raise bad_param(f"Failed to download doc_url: HTTP {resp.status_code}.")
            chunks: list[bytes] = []
            size = 0
            async for chunk in resp.aiter_bytes():
                size += len(chunk)
                if size > MAX_DOC_BYTES:
                    raise bad_param("The document exceeds the 10 MB limit.")
                chunks.append(chunk)
    except httpx.HTTPError as exc:
        raise bad_param(f"Failed to download doc_url: {type(exc).__name__}: {exc}") from None
    return name, b"".join(chunks)


def _read_local(url: str, data_dir: Path) -> tuple[str, bytes]:
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
        raise bad_param("The document exceeds the 10 MB limit.")
    return path.name, path.read_bytes()
