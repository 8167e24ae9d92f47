"""Milvus boolean expressions built by the server: one literal function, one way to combine.

Every value the server puts into an expression goes through
:func:`~langchain_zilliz_bailian.zilliz.expressions.literal`, and every expression it assembles
from parts goes through :func:`all_of`, which only accepts self-contained parts (balanced
brackets outside string literals) and parenthesises each one: a user filter can then never
reach outside its own parentheses, and a value can never close its quotes.
"""

from __future__ import annotations

from langchain_zilliz_bailian.zilliz.expressions import (
    FIELD_NAME,
    INT64_MAX,
    INT64_MIN,
    ExpressionError,
    field_equals,
    field_in,
    literal,
    string_literal,
)

__all__ = [
    "FIELD_NAME",
    "INT64_MAX",
    "INT64_MIN",
    "ExpressionError",
    "all_of",
    "check_self_contained",
    "field_equals",
    "field_in",
    "literal",
    "string_literal",
]

_CLOSERS = {")": "(", "]": "["}


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
