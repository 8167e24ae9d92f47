"""Document parsing and chunking for INDEX_DOC pipelines.

Mirrors the documented behaviour: recursive splitting by ``splitBy`` separators (default
``["\\n\\n", "\\n", " ", ""]``) into chunks of at most ``chunkSize`` tokens (token = word, see
:mod:`.text`); Markdown and HTML are first split by headers and every chunk starts with its
header path (``# A\\n## B\\n``), like the chunks of the Zilliz run-pipeline reference (Z29).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import PurePosixPath

from langchain_zilliz_bailian.server.text import count_tokens

DEFAULT_SPLIT_BY: tuple[str, ...] = ("\n\n", "\n", " ", "")
DEFAULT_CHUNK_SIZE = 500

TEXT_FORMATS = {".txt": "text", ".text": "text", ".csv": "text", ".log": "text"}
MARKDOWN_FORMATS = {".md": "markdown", ".markdown": "markdown"}
HTML_FORMATS = {".html": "html", ".htm": "html"}
SUPPORTED_FORMATS = {**TEXT_FORMATS, **MARKDOWN_FORMATS, **HTML_FORMATS}
# Formats the hosted service accepted but this offline server cannot parse.
UNSUPPORTED_FORMATS = (".pdf", ".epub", ".doc", ".docx", ".xls", ".xlsx", ".ppt", ".pptx")

_HEADER_RE = re.compile(r"^(#{1,6})[ \t]+(.+?)[ \t#]*$")
_FENCE_RE = re.compile(r"^\s*(```|~~~)")


class UnsupportedFormatError(ValueError):
    """The document's extension is not one the local server can parse."""


@dataclass
class Section:
    """A run of body text under a header path such as ``["# Guide", "## Install"]``."""

    headers: list[str] = field(default_factory=list)
    body: str = ""


def doc_format(doc_name: str) -> str:
    """Return ``text``, ``markdown`` or ``html`` for a file name (UnsupportedFormatError else)."""
    suffix = PurePosixPath(doc_name).suffix.lower()
    if suffix in SUPPORTED_FORMATS:
        return SUPPORTED_FORMATS[suffix]
    supported = ", ".join(sorted(SUPPORTED_FORMATS))
    if suffix in UNSUPPORTED_FORMATS:
        raise UnsupportedFormatError(
            f"The local server cannot parse {suffix} documents; supported formats: {supported}."
        )
    raise UnsupportedFormatError(
        f"Unsupported document format {suffix or '(no extension)'!r}; "
        f"supported formats: {supported}."
    )


def markdown_sections(text: str) -> list[Section]:
    """Split Markdown into sections by ATX headers (ignoring headers inside fenced code)."""
    sections: list[Section] = []
    stack: list[tuple[int, str]] = []
    body: list[str] = []
    in_fence = False

    def flush() -> None:
        content = "\n".join(body).strip()
        if content:
            sections.append(Section([h for _, h in stack], content))
        body.clear()

    for line in text.splitlines():
        if _FENCE_RE.match(line):
            in_fence = not in_fence
            body.append(line)
            continue
        match = None if in_fence else _HEADER_RE.match(line)
        if match is None:
            body.append(line)
            continue
        flush()
        level = len(match.group(1))
        while stack and stack[-1][0] >= level:
            stack.pop()
        stack.append((level, f"{match.group(1)} {match.group(2).strip()}"))
    flush()
    return sections


class _HTMLToMarkdown(HTMLParser):
    """Turns HTML into Markdown-ish text: headers become ``#`` lines, blocks become paragraphs."""

    _BLOCKS = frozenset(
        [
            "p",
            "div",
            "section",
            "article",
            "main",
            "aside",
            "header",
            "footer",
            "nav",
            "ul",
            "ol",
            "li",
            "table",
            "tr",
            "pre",
            "blockquote",
            "dl",
            "dt",
            "dd",
            "figure",
            "figcaption",
            "form",
            "hr",
        ]
    )
    _SKIP = frozenset(["script", "style", "head", "noscript", "template", "svg"])

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.out: list[str] = []
        self._skip = 0
        self._header: int | None = None
        self._pre = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self._SKIP:
            self._skip += 1
        elif re.fullmatch(r"h[1-6]", tag):
            self._header = int(tag[1])
            self.out.append("\n\n" + "#" * self._header + " ")
        elif tag == "br":
            self.out.append("\n")
        elif tag in self._BLOCKS:
            self.out.append("\n\n" if tag != "li" else "\n- ")
            if tag == "pre":
                self._pre += 1
        elif tag in ("td", "th"):
            self.out.append(" | ")

    def handle_endtag(self, tag: str) -> None:
        if tag in self._SKIP:
            self._skip = max(0, self._skip - 1)
        elif re.fullmatch(r"h[1-6]", tag):
            self._header = None
            self.out.append("\n\n")
        elif tag in self._BLOCKS:
            if tag == "pre":
                self._pre = max(0, self._pre - 1)
            self.out.append("\n\n")

    def handle_data(self, data: str) -> None:
        if self._skip:
            return
        if self._header is not None:
            self.out.append(" ".join(data.split()))
        elif self._pre:
            self.out.append(data)
        else:
            self.out.append(re.sub(r"\s+", " ", data))


def html_to_markdown(html: str) -> str:
    """Render HTML as Markdown-like text so it can share the header-aware splitter."""
    parser = _HTMLToMarkdown()
    parser.feed(html)
    parser.close()
    text = "".join(parser.out)
    text = re.sub(r"[ \t]+\n", "\n", text)
    return re.sub(r"\n{3,}", "\n\n", text).strip()


def split_text(text: str, chunk_size: int, separators: tuple[str, ...] | list[str]) -> list[str]:
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


def chunk_document(
    text: str,
    fmt: str,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    split_by: list[str] | tuple[str, ...] = DEFAULT_SPLIT_BY,
) -> list[str]:
    """Chunk a decoded document; Markdown/HTML chunks are prefixed with their header path."""
    if fmt == "html":
        text, fmt = html_to_markdown(text), "markdown"
    if fmt != "markdown":
        return split_text(text, chunk_size, split_by)
    chunks: list[str] = []
    for section in markdown_sections(text):
        prefix = "\n".join(section.headers)
        budget = max(1, chunk_size - count_tokens(prefix)) if prefix else chunk_size
        for piece in split_text(section.body, budget, split_by):
            chunks.append(f"{prefix}\n{piece}" if prefix else piece)
    return chunks


def decode_document(raw: bytes) -> str:
    """Decode bytes as UTF-8 (BOM stripped), replacing undecodable bytes."""
    return raw.decode("utf-8-sig", errors="replace")
