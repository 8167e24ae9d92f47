"""The connection options every Zilliz framework class takes, declared and checked once.

The retrievers, the loader and the reader take these as keyword arguments (``**connection``) and
hand them to their session unchanged, so a new option, or a new check, is written here only.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, cast

import httpx
from pydantic import SecretStr
from typing_extensions import TypedDict

from langchain_zilliz_bailian._http.checks import check_base_url, check_client_options, check_id
from langchain_zilliz_bailian.errors import InvalidInputError

__all__ = ["ZillizConnection", "checked_connection"]


class ZillizConnection(TypedDict, total=False):
    """How to reach Zilliz Cloud Pipelines (or a compatible server); every key is optional."""

    #: API key; defaults to ``ZILLIZ_CLOUD_API_KEY``. Never shown in a repr, a log or an error.
    api_key: str | SecretStr | None
    #: Region of the default host; defaults to ``ZILLIZ_CLOUD_REGION`` (``gcp-us-west1``).
    cloud_region: str | None
    #: Full base URL (China hosts, the local server); defaults to ``ZILLIZ_PIPELINES_BASE_URL``.
    base_url: str | None
    #: Read timeout in seconds (default 75 s, above the server's 60 s limit).
    timeout: float | httpx.Timeout | None
    #: Retries for connection errors, timeouts, 408, 429 and 5xx, with backoff (default 2).
    max_retries: int
    #: An ``httpx.Client`` to use (proxies, custom TLS); used as is, never closed here.
    http_client: httpx.Client | None
    #: An ``httpx.AsyncClient`` to use, likewise.
    http_async_client: httpx.AsyncClient | None


_KEYS = frozenset(ZillizConnection.__optional_keys__)


def checked_connection(connection: Mapping[str, Any], *, stacklevel: int) -> ZillizConnection:
    """``connection`` checked before any request, the key held as a ``SecretStr``.

    ``stacklevel`` points the insecure-URL warning at the user's line, counted from the caller
    (as ``warnings.warn`` counts it).
    """
    unknown = set(connection) - _KEYS
    if unknown:
        raise InvalidInputError(f"Unknown argument(s) {sorted(unknown)}; use {sorted(_KEYS)}.")
    checked: dict[str, Any] = dict(connection)
    check_client_options(
        **{key: checked[key] for key in checked.keys() - {"cloud_region", "base_url"}}
    )
    if checked.get("cloud_region") is not None:
        check_id("cloud_region", checked["cloud_region"])
    if checked.get("base_url") is not None:
        checked["base_url"] = check_base_url(checked["base_url"], stacklevel=stacklevel + 1)
    if isinstance(checked.get("api_key"), str):
        # Kept as a SecretStr, so vars(), debuggers and span handlers never show the key.
        checked["api_key"] = SecretStr(checked["api_key"])
    return cast(ZillizConnection, checked)
