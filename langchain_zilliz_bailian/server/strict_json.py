"""Request JSON without non-finite numbers.

Python's ``json`` accepts ``NaN``, ``Infinity`` and ``-Infinity`` (not JSON) and turns
``1e400`` into ``inf``; stored, such values corrupt rankings and cannot be sent back as JSON.
Every request body and the multipart ``data`` part are parsed here instead.
"""

from __future__ import annotations

import json
import math
from typing import Any


class NonFiniteNumberError(ValueError):
    """The document holds ``NaN``, ``Infinity`` or a number too large for a double."""


def _constant(name: str) -> Any:
    raise NonFiniteNumberError(f"{name} is not a valid JSON number")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise NonFiniteNumberError(f"{text} is out of range for a double")
    return value


def loads(raw: str | bytes) -> Any:
    """``json.loads`` that refuses non-finite numbers (:class:`NonFiniteNumberError`).

    Other malformed input raises ``json.JSONDecodeError`` or ``UnicodeDecodeError`` as usual.
    """
    return json.loads(raw, parse_constant=_constant, parse_float=_finite_float)
