"""Printing helpers: headings and the timing table (citations: ``bailian.cited_answers``)."""

from __future__ import annotations

from typing import TextIO

from langchain_zilliz_bailian.demo.timing import Timings, format_seconds


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
