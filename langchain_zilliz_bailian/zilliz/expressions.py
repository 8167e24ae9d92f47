"""Milvus literals and ``field in [...]`` expressions, escaped so a value can only ever be data.

Shared by the clients (deletion by caller-given keys) and the local server (every expression it
builds). Strings are double-quoted with the escapes that both Milvus Lite and Milvus accept
(``\\\\``, ``\\"``, ``\\n``, ``\\r``, ``\\t``); every other character stands for itself.
"""

from __future__ import annotations

import math
import re

__all__ = [
    "FIELD_NAME",
    "INT64_MAX",
    "INT64_MIN",
    "ExpressionError",
    "field_equals",
    "field_in",
    "literal",
    "string_literal",
]

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
FIELD_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,254}")
_ESCAPES = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\r": "\\r", "\t": "\\t"}


class ExpressionError(ValueError):
    """A value cannot be written as a Milvus literal, or (server) a part is not self-contained."""


def string_literal(value: str) -> str:
    """``value`` as a double-quoted Milvus string literal, escaped so it can only be data."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ExpressionError("strings must be valid Unicode (no lone surrogates)") from None
    return '"' + "".join(_ESCAPES.get(ch, ch) for ch in value) + '"'


def literal(value: str | bool | int | float) -> str:
    """A Milvus literal for a scalar: escaped string, ``true``/``false``, int64 or finite float."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        if not INT64_MIN <= value <= INT64_MAX:
            raise ExpressionError(f"integer {value} is outside the int64 range")
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ExpressionError(f"{value} is not a finite number")
        return repr(value)
    if isinstance(value, str):
        return string_literal(value)
    raise ExpressionError(f"no Milvus literal for a {type(value).__name__}")


def field_equals(field: str, value: str | bool | int | float) -> str:
    """``field == <literal>``; ``field`` must be a plain field name."""
    if FIELD_NAME.fullmatch(field) is None:
        raise ExpressionError(f"invalid field name {field!r}")
    return f"{field} == {literal(value)}"


def field_in(field: str, values: list[str] | list[int]) -> str:
    """``field in [<literal>, ...]``; ``field`` must be a plain field name."""
    if FIELD_NAME.fullmatch(field) is None:
        raise ExpressionError(f"invalid field name {field!r}")
    return f"{field} in [{', '.join(literal(v) for v in values)}]"
