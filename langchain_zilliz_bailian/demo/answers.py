"""What both halves report about one streamed answer, and how it is printed."""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from langchain_zilliz_bailian.bailian.cited_answers import (
    NumberedStream,
    parse_citations,
    source_lines,
)
from langchain_zilliz_bailian.demo.render import Printer

#: Heading of the numbered list of the app's cited sources.
SOURCES_HEADING = "Sources cited by the app:"


@dataclass
class AnswerReport:
    """One streamed answer: its text, sources, usage and timings."""

    text: str = ""
    deltas: int = 0
    sources: list[dict[str, Any]] = field(default_factory=list)
    usage: dict[str, int] = field(default_factory=dict)
    retrieved: list[str] = field(default_factory=list)
    retrieval_seconds: float = 0.0
    first_token_seconds: float = 0.0
    total_seconds: float = 0.0

    def set_usage(self, input_tokens: int, output_tokens: int, total_tokens: int) -> None:
        """Record the app's token counts."""
        self.usage = {"input": input_tokens, "output": output_tokens, "total": total_tokens}


def stream_to(printer: Printer, deltas: Iterable[str], report: AnswerReport, begin: float) -> None:
    """Print each delta as it arrives (markers shown as the numbers ``render_with_sources``
    gives), timing first and last token."""
    citations = NumberedStream()
    printer.write("A: ")
    for delta in deltas:
        if not delta:
            continue
        if report.deltas == 0:
            report.first_token_seconds = time.perf_counter() - begin
        report.deltas += 1
        report.text += delta
        printer.write(citations.feed(delta))
    report.total_seconds = time.perf_counter() - begin
    printer.line(citations.flush())


def print_citations(printer: Printer, report: AnswerReport) -> None:
    """The sources the app cited (``doc_references``), numbered as in the streamed answer: with
    it, what :func:`~langchain_zilliz_bailian.bailian.cited_answers.render_with_sources` gives."""
    printer.line(SOURCES_HEADING)
    lines = source_lines(parse_citations(report.text, report.sources))
    for line in lines or ["(none)"]:
        printer.line(f"  {line}")


def chunk_title(chunk_text: str) -> str:
    """The deepest header of a chunk's header path (its first lines)."""
    headers = [line.lstrip("# ") for line in chunk_text.splitlines() if line.startswith("#")]
    return headers[-1] if headers else ""


def print_hit(printer: Printer, score: float, metadata: dict[str, Any], text: str) -> str:
    """One retrieved chunk: score, document, section and topic; returns the document name."""
    name = str(metadata.get("doc_name", "?"))
    printer.line(
        f"  {score:.3f}  {name} - {chunk_title(text)}  (topic {metadata.get('topic', '?')})"
    )
    return name


def print_usage(printer: Printer, report: AnswerReport) -> None:
    """The app's token usage, when it reported any."""
    if not report.usage:
        printer.line("Token usage: not reported by the app")
        return
    usage = report.usage
    printer.line(
        f"Token usage: input {usage['input']}, output {usage['output']}, total {usage['total']}"
    )
