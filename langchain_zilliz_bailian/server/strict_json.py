"""Request JSON without non-finite numbers, lone surrogates or deep nesting.

Python's ``json`` accepts ``NaN``, ``Infinity`` and ``-Infinity`` (not JSON) and turns
``1e400`` into ``inf``; stored, such values corrupt rankings and cannot be sent back as JSON.
It also accepts ``"\\ud800"`` (a lone surrogate, which no UTF-8 encoder can write back) and
nests until the interpreter's recursion limit. Every request body and the multipart ``data``
part are parsed here instead, and each of these is a :class:`ValueError` (answered with 400).
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

#: Deepest nesting of arrays and objects a request may use (real requests use fewer than 10).
MAX_DEPTH = 64
_SURROGATE = re.compile("[\ud800-\udfff]")


class NonFiniteNumberError(ValueError):
    """The document holds ``NaN``, ``Infinity`` or a number too large for a double."""


class TooDeepError(ValueError):
    """The document nests arrays and objects deeper than :data:`MAX_DEPTH`."""


class LoneSurrogateError(ValueError):
    """A string holds a lone UTF-16 surrogate (``\\ud800``-``\\udfff``)."""


def _constant(name: str) -> Any:
    raise NonFiniteNumberError(f"{name} is not a valid JSON number")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise NonFiniteNumberError(f"{text} is out of range for a double")
    return value


def _check_strings(text: str) -> None:
    if _SURROGATE.search(text):
        raise LoneSurrogateError("a string holds a lone UTF-16 surrogate (not valid Unicode)")


def _check_tree(document: Any, max_depth: int) -> None:
    """Walk the parsed document without recursion: depth and every string (keys included)."""
    stack: list[tuple[Any, int]] = [(document, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, str):
            _check_strings(value)
        elif isinstance(value, dict | list):
            if depth > max_depth:
                raise TooDeepError(f"the document nests deeper than {max_depth} levels")
            if isinstance(value, dict):
                for key in value:
                    _check_strings(key)
                stack.extend((item, depth + 1) for item in value.values())
            else:
                stack.extend((item, depth + 1) for item in value)


def loads(raw: str | bytes, max_depth: int = MAX_DEPTH) -> Any:
    """``json.loads`` that also refuses non-finite numbers, lone surrogates and deep nesting.

    Other malformed input raises ``json.JSONDecodeError`` or ``UnicodeDecodeError`` as usual.
    """
    try:
        document = json.loads(raw, parse_constant=_constant, parse_float=_finite_float)
    except RecursionError:  # nested beyond the interpreter's limit: certainly too deep
        raise TooDeepError(f"the document nests deeper than {max_depth} levels") from None
    _check_tree(document, max_depth)
    return document
