"""Printing helpers: streamed text with readable citations, headings and the timing table."""

from __future__ import annotations

import re
from typing import TextIO

from langchain_zilliz_bailian.demo.timing import Timings, format_seconds

_MARKER = re.compile(r"<ref>\[(\d+)\]</ref>")


def _prefixes(text: str) -> str:
    """An alternation of the non-empty prefixes of ``text``, longest first."""
    return "|".join(re.escape(text[:end]) for end in range(len(text), 0, -1))


#: A tail that may still grow into a full marker: ``<re``, ``<ref>[12``, ``<ref>[1]</r``...
_PARTIAL = re.compile(rf"(?:<ref>\[\d+(?:{_prefixes(']</ref')})?|{_prefixes('<ref>[')})$")


class CitationStream:
    """Turns streamed ``<ref>[n]</ref>`` markers into ``[n]``, holding back only a partial one.

    The app's deltas may cut a marker anywhere; a display buffers the cut part until it settles.
    """

    def __init__(self) -> None:
        self._pending = ""

    def feed(self, delta: str) -> str:
        """The part of the text seen so far that can be shown now."""
        text = _MARKER.sub(r"[\1]", self._pending + delta)
        tail = _PARTIAL.search(text)
        if tail is None:
            self._pending = ""
            return text
        self._pending = text[tail.start() :]
        return text[: tail.start()]

    def flush(self) -> str:
        """Whatever is still held back (the stream ended)."""
        rest, self._pending = self._pending, ""
        return rest


class Printer:
    """Writes to one text stream, flushing after every write so deltas show as they arrive."""

    def __init__(self, out: TextIO) -> None:
        self.out = out

    def write(self, text: str) -> None:
        """Write and flush."""
        self.out.write(text)
        self.out.flush()

    def line(self, text: str = "") -> None:
        """Write one line."""
        self.write(text + "\n")

    def heading(self, text: str) -> None:
        """A section heading."""
        self.line()
        self.line(f"== {text} ==")

    def timings(self, timings: Timings) -> None:
        """The closing table: one line per measured step."""
        self.heading("Timings")
        width = max((len(step.label) for step in timings.steps), default=0)
        for step in timings.steps:
            detail = f"  ({step.detail})" if step.detail else ""
            self.line(f"  {step.label:<{width}}  {format_seconds(step.seconds):>8}{detail}")
