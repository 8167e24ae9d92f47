"""The format of every id the server accepts, checked before the id reaches Milvus.

Ids end up in Milvus expressions and metadata keys, so one malformed id (``x'] or kind in ['y``)
could otherwise rewrite a query. Every format is a short allow-list of ASCII characters, taken
from the contracts where they give one: pipeline ids are ``pipe-`` + 22 hex characters (minted by
:func:`new_pipeline_id`), project ids ``proj-…``, cluster ids ``in03-…`` (``inxx-xxxx`` in the
describe seed). Bailian session ids are minted here (32 hex characters, :func:`new_session_id`)
or brought by the client as plain tokens.
App ids are plain tokens (real ones are 32 hex characters, as :func:`new_app_id` mints); memory
ids are plain tokens looked up exactly, like client-chosen session ids.
"""

from __future__ import annotations

import re
import secrets
from typing import Literal

IdKind = Literal["pipeline", "project", "cluster", "collection", "session", "app", "memory"]

_FORMATS: dict[IdKind, tuple[re.Pattern[str], str]] = {
    "pipeline": (re.compile(r"pipe-[0-9a-f]{22}"), "'pipe-' followed by 22 hex characters"),
    "project": (re.compile(r"proj-[0-9A-Za-z_-]{1,64}"), "'proj-' followed by 1-64 letters/digits"),
    "cluster": (
        re.compile(r"in[0-9A-Za-z]{2}-[0-9A-Za-z_-]{1,64}"),
        "like 'in03-' followed by 1-64 letters/digits",
    ),
    "collection": (
        re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,254}"),
        "a letter or underscore, then letters, digits and underscores (at most 255)",
    ),
    # The server mints 32 hex characters; a client may bring its own plain-token id (the contract
    # shows "5f0c2a9e"), which is only ever looked up exactly.
    "session": (re.compile(r"[0-9A-Za-z_-]{1,128}"), "1-128 letters, digits, '_' or '-'"),
    "app": (re.compile(r"[0-9A-Za-z_-]{1,64}"), "1-64 letters, digits, '_' or '-'"),
    "memory": (re.compile(r"[0-9A-Za-z_-]{1,128}"), "1-128 letters, digits, '_' or '-'"),
}


class InvalidIdError(ValueError):
    """An id does not have its documented format; ``message`` is safe to show the caller."""

    def __init__(self, kind: IdKind, value: object) -> None:
        self.kind = kind
        shown = repr(value) if len(repr(value)) <= 80 else repr(value)[:77] + "..."
        self.message = f"Invalid {kind} id {shown}: expected {_FORMATS[kind][1]}."
        super().__init__(self.message)


def is_valid(kind: IdKind, value: object) -> bool:
    """Whether ``value`` is a string in the format of ``kind``."""
    return isinstance(value, str) and _FORMATS[kind][0].fullmatch(value) is not None


def check_id(kind: IdKind, value: object) -> str:
    """Return ``value`` if it has the format of ``kind``; raise :class:`InvalidIdError` if not."""
    if not is_valid(kind, value):
        raise InvalidIdError(kind, value)
    assert isinstance(value, str)
    return value


def new_pipeline_id() -> str:
    """A fresh pipeline id (``pipe-`` + 22 hex characters, like the contract's examples)."""
    return "pipe-" + secrets.token_hex(11)


def new_session_id() -> str:
    """A fresh Bailian session id (128 random bits: knowing one is the only key to a session)."""
    return secrets.token_hex(16)


def new_app_id() -> str:
    """A fresh app id: 32 hex characters, the format of real Bailian app ids."""
    return secrets.token_hex(16)
