"""LlamaIndex ``MetadataFilters`` as a Milvus boolean expression (the search pipeline's ``filter``).

Only what Milvus can express exactly is translated; anything else raises
:class:`UnsupportedFilterError` before a request is sent. Strings are double-quoted with ``\\``,
``"`` and control characters escaped (Milvus reads ``\\uXXXX`` as an error, so other characters
stay literal); numbers are never quoted.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from llama_index.core.vector_stores.types import (
    FilterCondition,
    FilterOperator,
    MetadataFilter,
    MetadataFilters,
)

from langchain_zilliz_bailian.errors import UnsupportedFilterError
from langchain_zilliz_bailian.zilliz.expressions import ExpressionError, literal

__all__ = ["combine_expressions", "to_milvus_expression"]

#: A field name, optionally followed by JSON-path or array-index segments: ``meta["a"][0]``.
_KEY = re.compile(r'^[A-Za-z_][A-Za-z0-9_]*(?:\["[A-Za-z0-9_ .-]+"\]|\[[0-9]+\])*$')
_COMPARISONS = {
    FilterOperator.EQ: "==",
    FilterOperator.NE: "!=",
    FilterOperator.GT: ">",
    FilterOperator.GTE: ">=",
    FilterOperator.LT: "<",
    FilterOperator.LTE: "<=",
}
_LIST_OPERATORS = {
    FilterOperator.IN: "{key} in {values}",
    FilterOperator.NIN: "{key} not in {values}",
    FilterOperator.ANY: "array_contains_any({key}, {values})",
    FilterOperator.ALL: "array_contains_all({key}, {values})",
}
#: ``like`` wildcards, which Milvus cannot escape; a backslash before them is ambiguous too.
_LIKE_SPECIAL = ("%", "_", "\\")


Scalar = int | float | str


def _literal(value: object, where: str) -> str:
    """A Milvus literal: numbers bare, strings double-quoted and escaped (the core's escaping)."""
    if isinstance(value, bool) or value is None:
        raise UnsupportedFilterError(f"{where}: {value!r} has no Milvus literal here.")
    if not isinstance(value, int | float | str):
        raise UnsupportedFilterError(f"{where}: unsupported value type {type(value).__name__}.")
    if isinstance(value, str):
        for char in value:
            if ord(char) < 0x20 and char not in "\n\r\t":
                raise UnsupportedFilterError(f"{where}: control character {char!r} in {value!r}.")
    try:
        return literal(value)
    except ExpressionError as error:
        raise UnsupportedFilterError(f"{where}: {error}.") from None


def _list(value: object, where: str) -> str:
    if not isinstance(value, list):
        raise UnsupportedFilterError(f"{where} needs a list value, got {value!r}.")
    return "[" + ", ".join(_literal(item, where) for item in value) + "]"


def _scalar(value: object, where: str) -> str:
    if isinstance(value, list):
        raise UnsupportedFilterError(f"{where} needs a single value, got the list {value!r}.")
    return _literal(value, where)


def _leaf(item: MetadataFilter) -> str:
    key, operator, value = item.key, FilterOperator(item.operator), item.value
    where = f"Filter {key!r} {operator.value}"
    if not isinstance(key, str) or not _KEY.match(key):
        raise UnsupportedFilterError(
            f"{where}: {key!r} is not a Milvus field name (letters, digits, _; JSON paths as "
            'meta["key"]).'
        )
    if operator in _COMPARISONS:
        return f"{key} {_COMPARISONS[operator]} {_scalar(value, where)}"
    if operator in _LIST_OPERATORS:
        return _LIST_OPERATORS[operator].format(key=key, values=_list(value, where))
    if operator == FilterOperator.CONTAINS:
        return f"array_contains({key}, {_scalar(value, where)})"
    if operator == FilterOperator.TEXT_MATCH:
        if not isinstance(value, str) or not value:
            raise UnsupportedFilterError(f"{where} needs a non-empty string, got {value!r}.")
        if any(char in value for char in _LIKE_SPECIAL):
            raise UnsupportedFilterError(
                f"{where}: {value!r} contains %, _ or \\, which Milvus `like` cannot match "
                "literally; pass a Milvus expression as filter=... instead."
            )
        return f"{key} like {_literal('%' + value + '%', where)}"
    raise UnsupportedFilterError(
        f"{where}: no Milvus equivalent (supported: ==, !=, >, >=, <, <=, in, nin, any, all, "
        "contains, text_match); pass a Milvus expression as filter=... instead."
    )


def _group(filters: MetadataFilters, *, top: bool) -> str | None:
    condition = FilterCondition(filters.condition or FilterCondition.AND).value
    parts: list[str] = []
    for item in filters.filters:
        if isinstance(item, MetadataFilters):
            nested = _group(item, top=False)
            if nested is None:
                raise UnsupportedFilterError("A nested MetadataFilters has no filters.")
            parts.append(f"({nested})" if len(item.filters) > 1 else nested)
        else:
            parts.append(_leaf(item))
    if not parts:
        if top:
            return None
        raise UnsupportedFilterError("A nested MetadataFilters has no filters.")
    if condition == "not":  # by value: FilterCondition.NOT is recent
        # As LlamaIndex's own filters read it: none of the filters matches.
        return f"not ({' or '.join(parts)})"
    return f" {condition} ".join(parts)


def to_milvus_expression(filters: MetadataFilters | None) -> str | None:
    """The Milvus expression for ``filters``; ``None`` when there is nothing to filter on."""
    if filters is None:
        return None
    if not isinstance(filters, MetadataFilters):
        raise UnsupportedFilterError(
            f"filters must be llama_index MetadataFilters, got {type(filters).__name__}; "
            "pass a Milvus expression string as filter=... instead."
        )
    return _group(filters, top=True)


def combine_expressions(expressions: Sequence[str | None]) -> str | None:
    """AND the non-empty expressions, each in parentheses when there is more than one."""
    present = [e.strip() for e in expressions if e and e.strip()]
    if len(present) <= 1:
        return present[0] if present else None
    return " and ".join(f"({e})" for e in present)
