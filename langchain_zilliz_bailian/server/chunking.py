"""Chunking for INDEX_DOC pipelines: parsed sections in, chunks with their metadata out.

Mirrors the documented behaviour: recursive splitting by ``splitBy`` separators (default
``["\\n\\n", "\\n", " ", ""]``) into chunks of at most ``chunkSize`` tokens (token = word, see
:mod:`.text`); sections come from :mod:`.documents` (split by headers for Markdown, HTML, DOCX
and EPUB, by page for PDF and PPTX) and every chunk starts with its header path
(``# A\\n## B\\n``), like the chunks of the Zilliz run-pipeline reference (Z29). A chunk never
spans two sections, so its page number is exact.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from langchain_zilliz_bailian.server.documents import (
    Section,
    UnsupportedFormatError,
    doc_format,
)
from langchain_zilliz_bailian.server.documents.html_text import html_sections, html_to_markdown
from langchain_zilliz_bailian.server.documents.markdown import markdown_sections
from langchain_zilliz_bailian.server.documents.plain import csv_sections, decode_text, text_sections
from langchain_zilliz_bailian.server.text import count_tokens

DEFAULT_SPLIT_BY: tuple[str, ...] = ("\n\n", "\n", " ", "")
DEFAULT_CHUNK_SIZE = 500

__all__ = [
    "DEFAULT_CHUNK_SIZE",
    "DEFAULT_SPLIT_BY",
    "Chunk",
    "Section",
    "UnsupportedFormatError",
    "chunk_document",
    "chunk_sections",
    "decode_document",
    "doc_format",
    "html_to_markdown",
    "markdown_sections",
    "split_text",
]


@dataclass(frozen=True)
class Chunk:
    """One chunk: its text (header path first) and where it came from."""

    text: str
    headers: tuple[str, ...] = ()
    page: int | None = None


def split_text(text: str, chunk_size: int, separators: Sequence[str]) -> list[str]:
    """Recursively split on the first separator present, merging pieces up to ``chunk_size``."""
    text = text.strip()
    if not text:
        return []
    if count_tokens(text) <= chunk_size:
        return [text]
    seps = list(separators)
    idx = next((i for i, s in enumerate(seps) if s == "" or s in text), None)
    if idx is None:
        return _hard_split(text, chunk_size)
    sep, rest = seps[idx], seps[idx + 1 :]
    pieces = list(text) if sep == "" else text.split(sep)
    chunks: list[str] = []
    current: list[str] = []
    current_tokens = 0

    def flush() -> None:
        nonlocal current_tokens
        joined = sep.join(current).strip()
        if joined:
            chunks.append(joined)
        current.clear()
        current_tokens = 0

    for piece in pieces:
        tokens = count_tokens(piece)
        if tokens > chunk_size:
            flush()
            chunks.extend(
                split_text(piece, chunk_size, rest) if rest else _hard_split(piece, chunk_size)
            )
            continue
        if current and current_tokens + tokens > chunk_size:
            flush()
        current.append(piece)
        current_tokens += tokens
    flush()
    return chunks


def _hard_split(text: str, chunk_size: int) -> list[str]:
    """Last resort when no separator applies: cut every ``chunk_size`` tokens."""
    positions = [m.end() for m in re.finditer(r"\S+", text)]
    out: list[str] = []
    start = 0
    for i in range(chunk_size - 1, len(positions), chunk_size):
        out.append(text[start : positions[i]].strip())
        start = positions[i]
    tail = text[start:].strip()
    if tail:
        out.append(tail)
    return [c for c in out if c]


def chunk_sections(
    sections: Sequence[Section],
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    split_by: Sequence[str] = DEFAULT_SPLIT_BY,
) -> list[Chunk]:
    """Cut each section to fit ``chunk_size`` tokens with its header path (and table header row)
    in front; the prefix counts against the budget."""
    chunks: list[Chunk] = []
    for section in sections:
        prefix = "\n".join([*section.headers, *([section.repeat] if section.repeat else [])])
        budget = max(1, chunk_size - count_tokens(prefix)) if prefix else chunk_size
        for piece in split_text(section.body, budget, split_by):
            text = f"{prefix}\n{piece}" if prefix else piece
            chunks.append(Chunk(text, section.headers, section.page))
    return chunks


_TEXT_SECTIONS = {
    "text": text_sections,
    "csv": csv_sections,
    "markdown": markdown_sections,
    "html": html_sections,
}


def chunk_document(
    text: str,
    fmt: str,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    split_by: Sequence[str] = DEFAULT_SPLIT_BY,
) -> list[str]:
    """Chunk decoded text of a text format (``text``, ``csv``, ``markdown`` or ``html``)."""
    return [c.text for c in chunk_sections(_TEXT_SECTIONS[fmt](text), chunk_size, split_by)]


def decode_document(raw: bytes) -> str:
    """Decode bytes as UTF-8 (BOM stripped), replacing undecodable bytes."""
    return decode_text(raw)
