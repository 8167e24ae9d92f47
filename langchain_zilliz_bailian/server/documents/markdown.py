"""Markdown: sections split by ATX headers (``#`` to ``######``), fenced code left alone."""

from __future__ import annotations

import re

from langchain_zilliz_bailian.server.documents.model import Section

_HEADER_RE = re.compile(r"^(#{1,6})[ \t]+(.+?)[ \t#]*$")
_FENCE_RE = re.compile(r"^\s*(```|~~~)")


def markdown_sections(text: str, page: int | None = None) -> list[Section]:
    """Split Markdown into sections by ATX headers (ignoring headers inside fenced code)."""
    sections: list[Section] = []
    stack: list[tuple[int, str]] = []
    body: list[str] = []
    in_fence = False

    def flush() -> None:
        content = "\n".join(body).strip()
        if content:
            sections.append(Section(tuple(h for _, h in stack), content, page))
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
