"""Wall-clock timings of the demo's steps, kept in order for the closing summary."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from dataclasses import dataclass, field


@dataclass
class Timing:
    """One measured step: its label, duration and an optional detail."""

    label: str
    seconds: float
    detail: str = ""


@dataclass
class Timings:
    """An ordered list of measured steps."""

    steps: list[Timing] = field(default_factory=list)

    def add(self, label: str, seconds: float, detail: str = "") -> Timing:
        """Record a step measured elsewhere."""
        step = Timing(label, seconds, detail)
        self.steps.append(step)
        return step

    @contextlib.contextmanager
    def measure(self, label: str) -> Iterator[Timing]:
        """Time the ``with`` block; the yielded step may get its ``detail`` set inside."""
        step = Timing(label, 0.0)
        begin = time.perf_counter()
        try:
            yield step
        finally:
            step.seconds = time.perf_counter() - begin
            self.steps.append(step)


def format_seconds(seconds: float) -> str:
    """``12 ms`` below a second, ``1.23 s`` above."""
    if seconds < 1.0:
        return f"{seconds * 1000:.0f} ms"
    return f"{seconds:.2f} s"
