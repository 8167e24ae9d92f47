"""Milvus boolean expressions built by the server: one literal function, one way to combine.

Every value the server puts into an expression goes through :func:`literal` (strings through
:func:`string_literal`), and every expression it assembles from parts goes through
:func:`all_of`, which only accepts self-contained parts (balanced brackets outside string
literals) and parenthesises each one: a user filter can then never reach outside its own
parentheses, and a value can never close its quotes.

String literals use the escapes that both Milvus Lite and Milvus accept (``\\\\``, ``\\"``,
``\\n``, ``\\r``, ``\\t``); every other character stands for itself inside double quotes.
"""

from __future__ import annotations

import math
import re

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
FIELD_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,254}")
_ESCAPES = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\r": "\\r", "\t": "\\t"}
_CLOSERS = {")": "(", "]": "["}


class ExpressionError(ValueError):
    """A value cannot be written as a literal, or an expression part is not self-contained."""


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


def check_self_contained(expression: str) -> str:
    """Return ``expression`` if its brackets balance outside string literals (else raise).

    A part like ``a == 1) or (b == 2`` would otherwise escape the parentheses :func:`all_of`
    puts around it.
    """
    stack: list[str] = []
    i, n = 0, len(expression)
    while i < n:
        ch = expression[i]
        if ch in "\"'":
            end = i + 1
            while end < n and expression[end] != ch:
                end += 2 if expression[end] == "\\" else 1
            if end >= n:
                raise ExpressionError("unterminated string literal")
            i = end + 1
            continue
        if ch in "([":
            stack.append(ch)
        elif ch in _CLOSERS and (not stack or stack.pop() != _CLOSERS[ch]):
            raise ExpressionError(f"unbalanced {ch!r}")
        i += 1
    if stack:
        raise ExpressionError(f"unclosed {stack[-1]!r}")
    return expression


def all_of(*parts: str) -> str:
    """AND of the non-empty ``parts``, each parenthesised; ``""`` (no filter) when none."""
    kept = [check_self_contained(p.strip()) for p in parts if p and p.strip()]
    return " and ".join(f"({p})" for p in kept)
