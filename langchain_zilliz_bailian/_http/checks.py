"""Checks on user input that run before any request, so no argument can redirect a request.

Ids end up in URL paths and regions in host names; each is matched against a strict pattern so a
value such as ``"../admin"`` or ``"evil.com/"`` cannot move a request (and the API key) elsewhere.
"""

from __future__ import annotations

import ipaddress
import math
import re
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar

import httpx
from pydantic import SecretStr, ValidationError

from langchain_zilliz_bailian.errors import InsecureBaseURLWarning, InvalidInputError

__all__ = [
    "check_base_url",
    "check_client_options",
    "check_id",
    "check_positive_int",
    "check_search_window",
    "insecure_url_reported",
    "invalid_arguments",
    "typed_construction",
]

PATTERNS: dict[str, re.Pattern[str]] = {
    "cloud_region": re.compile(r"^[a-z0-9-]+$"),
    "pipeline_id": re.compile(r"^pipe-[0-9A-Za-z]+$"),
    "project_id": re.compile(r"^proj-[0-9A-Za-z]+$"),
    "cluster_id": re.compile(r"^in[0-9A-Za-z]*-[0-9A-Za-z]+$"),
    "app_id": re.compile(r"^[0-9A-Za-z_-]+$"),
    "workspace": re.compile(r"^[0-9A-Za-z_-]+$"),
}


def check_id(kind: str, value: object) -> str:
    """Return ``value`` if it matches the pattern for ``kind``; raise :class:`InvalidInputError`."""
    pattern = PATTERNS[kind]
    if not isinstance(value, str) or not pattern.fullmatch(value):
        raise InvalidInputError(f"Invalid {kind} {value!r}: it must match {pattern.pattern}.")
    return value


#: Set while a framework class builds its client from a base URL it has already checked.
_REPORTED: ContextVar[bool] = ContextVar("insecure_url_reported", default=False)


@contextmanager
def insecure_url_reported() -> Iterator[None]:
    """Within it, :func:`check_base_url` does not warn again (the caller already warned).

    A framework class warns once, where the user constructs it; the client it builds later
    checks the same URL. A context variable, unlike a warnings filter, is thread- and task-safe.
    """
    token = _REPORTED.set(True)
    try:
        yield
    finally:
        _REPORTED.reset(token)


def check_base_url(base_url: str, *, stacklevel: int = 3) -> str:
    """Validate a base URL (http or https, a host, no query) and warn on plain http off loopback.

    ``stacklevel`` points the warning at the user's line (the default: the caller's caller).
    """
    try:
        url = httpx.URL(base_url)
    except (httpx.InvalidURL, TypeError) as exc:
        raise InvalidInputError(f"Invalid base_url {base_url!r}: {exc}") from None
    if url.scheme not in ("http", "https") or not url.host:
        raise InvalidInputError(
            f"Invalid base_url {base_url!r}: expected http(s)://host[:port][/path]."
        )
    if url.query or url.fragment:
        raise InvalidInputError(f"Invalid base_url {base_url!r}: no query or fragment allowed.")
    if url.scheme == "http" and not _is_loopback(url.host) and not _REPORTED.get():
        warnings.warn(
            f"base_url {base_url!r} uses plain http to a non-loopback host; the API key would "
            "travel unencrypted. Use https.",
            InsecureBaseURLWarning,
            stacklevel=stacklevel,
        )
    return base_url.rstrip("/")


def _is_loopback(host: str) -> bool:
    """``localhost``, ``127.0.0.0/8`` or ``::1``; a name under ``.localhost`` is not trusted to be.

    (RFC 6761 lets resolvers send ``*.localhost`` to loopback, but a proxy, a hosts file or a DNS
    server may not, and the warning is about where the key could go.)
    """
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_search_window(
    limit: int, offset: int, *, max_limit: int = 500, max_window: int = 1024
) -> None:
    """Zilliz search bounds: ``1 <= limit <= max_limit``, ``offset >= 0``, sum ``<= 1024``."""
    for name, value in (("limit", limit), ("offset", offset)):
        if isinstance(value, bool) or not isinstance(value, int):
            raise InvalidInputError(f"Search {name} must be an int, got {value!r}.")
    if not 1 <= limit <= max_limit:
        raise InvalidInputError(f"Search limit must be between 1 and {max_limit}, got {limit}.")
    if offset < 0:
        raise InvalidInputError(f"Search offset must be >= 0, got {offset}.")
    if limit + offset > max_window:
        raise InvalidInputError(
            f"Search limit + offset must be <= {max_window}, got {limit} + {offset} = "
            f"{limit + offset}."
        )


def _positive_seconds(value: object) -> bool:
    """A finite int or float > 0 (not a bool)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    return math.isfinite(value) and value > 0


def check_client_options(
    *,
    api_key: object = None,
    timeout: object = None,
    max_retries: object = 2,
    http_client: object = None,
    http_async_client: object = None,
) -> None:
    """The connection options every client and framework class takes, checked once, here.

    Framework classes call it when they are constructed (they build their client later, on first
    use), the clients when they are built, so a bad option is an :class:`InvalidInputError`
    before any request, whichever class received it. Messages never show the key.
    """
    if api_key is not None and not isinstance(api_key, (str, SecretStr)):
        raise InvalidInputError(f"api_key must be a string, got a {type(api_key).__name__}.")
    if not (timeout is None or isinstance(timeout, httpx.Timeout) or _positive_seconds(timeout)):
        raise InvalidInputError(
            f"timeout must be seconds > 0, an httpx.Timeout or None, got {timeout!r}."
        )
    if isinstance(max_retries, bool) or not isinstance(max_retries, int) or max_retries < 0:
        raise InvalidInputError(f"max_retries must be an int >= 0, got {max_retries!r}.")
    if http_client is not None and not isinstance(http_client, httpx.Client):
        raise InvalidInputError(
            f"http_client must be an httpx.Client, got a {type(http_client).__name__}."
        )
    if http_async_client is not None and not isinstance(http_async_client, httpx.AsyncClient):
        raise InvalidInputError(
            "http_async_client must be an httpx.AsyncClient, got a "
            f"{type(http_async_client).__name__}."
        )


def check_positive_int(name: str, value: object) -> int:
    """``value`` if it is an int >= 1 (not a bool); else :class:`InvalidInputError`."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InvalidInputError(f"{name} must be a positive int, got {value!r}.")
    return value


def check_str_list(name: str, values: Sequence[object]) -> list[str]:
    """A list of non-empty strings (``texts``, ``output_fields``, ...)."""
    if isinstance(values, str) or not all(isinstance(v, str) for v in values):
        raise InvalidInputError(f"{name} must be a list of strings.")
    return [str(v) for v in values]


def invalid_arguments(owner: str, error: ValidationError) -> InvalidInputError:
    """The :class:`InvalidInputError` behind a pydantic ``ValidationError`` raised by ``owner``.

    pydantic wraps the ``InvalidInputError`` a validator raises (it is a ``ValueError``) in a
    ``ValidationError``; a lone one is returned as it was raised, anything else (a wrong type, a
    failed constraint) becomes one ``InvalidInputError`` naming each field and what is wrong. The
    input values are left out, so a mistyped key never reaches a message.
    """
    problems = error.errors(include_input=False, include_url=False)
    raised = [p.get("ctx", {}).get("error") for p in problems]
    if len(problems) == 1 and isinstance(raised[0], InvalidInputError):
        return raised[0]
    details = []
    for problem, cause in zip(problems, raised, strict=True):
        where = ".".join(str(part) for part in problem["loc"])
        what = str(cause) if isinstance(cause, Exception) else problem["msg"]
        details.append(f"{where}: {what}" if where else what)
    return InvalidInputError(f"Invalid {owner} argument(s): {'; '.join(details)}")


@contextmanager
def typed_construction(owner: str) -> Iterator[None]:
    """Around a pydantic model's ``__init__``: bad arguments raise :class:`InvalidInputError`.

    Used by the framework classes that are pydantic models, so a bad argument raises the same
    class in LangChain and LlamaIndex as in the plain-Python classes (``from None``: the wrapping
    ``ValidationError`` adds nothing and would print the inputs, keys included).
    """
    try:
        yield
    except ValidationError as exc:
        raise invalid_arguments(owner, exc) from None
