"""Values built once per key, where building one key never holds up the others.

Loading a model can take seconds, or minutes when it downloads first; requests for models already
loaded (or for other models) must not wait behind it, and concurrent requests for the same model
must load it once. One gate per key gives both; the shared lock only guards the dictionaries.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Generic, TypeVar

V = TypeVar("V")


class LoadOnce(Generic[V]):
    """``get(key, build)``: the value of ``key``, built by ``build()`` the first time only."""

    def __init__(self) -> None:
        self._lock = threading.Lock()  # guards the dictionaries, never held while building
        self._values: dict[str, V] = {}
        self._gates: dict[str, threading.Lock] = {}

    def get(self, key: str, build: Callable[[], V]) -> V:
        """The value of ``key``; a failed build is not kept, so the next call tries again."""
        with self._lock:
            if key in self._values:
                return self._values[key]
            gate = self._gates.setdefault(key, threading.Lock())
        with gate:
            with self._lock:
                if key in self._values:
                    return self._values[key]
            value = build()
            with self._lock:
                self._values[key] = value
            return value
