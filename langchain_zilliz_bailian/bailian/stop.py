"""Stop sequences, applied on this side: apps take no ``stop`` parameter.

Text is cut before the first stop sequence. While streaming, only a tail that could be the start
of a stop sequence is held back (until the next delta settles it); everything else is handed on
at once, and the stream ends at the stop sequence.
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["StopSequenceFilter", "truncate_at_stop"]


def _clean(stop: Sequence[str] | None) -> list[str]:
    return [s for s in (stop or ()) if s]


def truncate_at_stop(text: str, stop: Sequence[str] | None) -> tuple[str, bool]:
    """``text`` cut before the earliest stop sequence, and whether one was found."""
    hits = [i for i in (text.find(s) for s in _clean(stop)) if i >= 0]
    return (text[: min(hits)], True) if hits else (text, False)


class StopSequenceFilter:
    """Feed deltas; get back the text that is safe to hand on. :attr:`stopped` once a stop hit."""

    def __init__(self, stop: Sequence[str] | None) -> None:
        self._stops = _clean(stop)
        self._pending = ""
        self.stopped = False

    def feed(self, delta: str) -> str:
        """The part of ``pending + delta`` that cannot belong to a stop sequence."""
        if self.stopped:
            return ""
        if not self._stops:
            return delta
        pending = self._pending + delta
        cut, found = truncate_at_stop(pending, self._stops)
        if found:
            self.stopped = True
            self._pending = ""
            return cut
        hold = self._partial_tail(pending)
        self._pending = pending[len(pending) - hold :] if hold else ""
        return pending[: len(pending) - hold]

    def flush(self) -> str:
        """At the end of the stream: the held-back tail, which turned out to be plain text."""
        rest, self._pending = self._pending, ""
        return "" if self.stopped else rest

    def _partial_tail(self, text: str) -> int:
        """Length of the longest tail of ``text`` that is a proper prefix of a stop sequence."""
        best = 0
        for stop in self._stops:
            for size in range(min(len(stop) - 1, len(text)), best, -1):
                if text.endswith(stop[:size]):
                    best = size
                    break
        return best
