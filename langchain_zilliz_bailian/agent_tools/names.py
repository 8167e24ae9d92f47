"""Tool names that every tool-calling API accepts (``^[a-zA-Z0-9_-]{1,64}$``), unique in a set.

Pipeline names may hold spaces, dots or CJK characters, and two pipelines (or an app and a
pipeline) may end up with the same name; an API answers either with a 400 for the whole request.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Sequence

__all__ = ["MAX_NAME_LENGTH", "tool_name", "unique_names"]

MAX_NAME_LENGTH = 64
_OTHER = re.compile(r"[^a-zA-Z0-9_-]+")
_REPEATED = re.compile(r"_{2,}")


def _clean(text: str) -> str:
    """``text`` with every run of other characters as one ``_``, no ``_``/``-`` at the ends."""
    return _REPEATED.sub("_", _OTHER.sub("_", text)).strip("_-")


def tool_name(text: str, *, prefix: str, fallback: str) -> str:
    """``prefix_text`` made valid; ``fallback`` (an id) when ``text`` keeps no letter or digit."""
    base = _clean(text)
    if not re.search(r"[a-zA-Z0-9]", base):
        base = _clean(fallback)
    return f"{prefix}_{base}"[:MAX_NAME_LENGTH].rstrip("_-") if base else prefix


def unique_names(names: Sequence[str], *, taken: Collection[str] = ()) -> list[str]:
    """``names`` in order, one already ``taken`` or seen suffixed ``_2``, ``_3``, ... (<= 64)."""
    taken = set(taken)
    unique = []
    for name in names:
        candidate, n = name, 1
        while candidate in taken:
            n += 1
            suffix = f"_{n}"
            candidate = name[: MAX_NAME_LENGTH - len(suffix)] + suffix
        taken.add(candidate)
        unique.append(candidate)
    return unique
