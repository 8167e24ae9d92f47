"""Building sections from a stream of headings and text blocks (DOCX, PPTX, EPUB share it)."""

from __future__ import annotations

from collections.abc import Iterable

from langchain_zilliz_bailian.server.documents.model import Section


class SectionBuilder:
    """Collects text under the current heading path; a heading closes the open section.

    Levels follow Markdown (1 = ``#``); level 0 (a document title) is written as ``#`` too but
    stays above level-1 headings in the path.
    """

    def __init__(self, page: int | None = None) -> None:
        self.page = page
        self._done: list[Section] = []
        self._stack: list[tuple[int, str]] = []
        self._blocks: list[str] = []

    def heading(self, level: int, title: str) -> None:
        """Start a section under ``title`` at ``level`` (closing deeper or equal ones)."""
        self._flush()
        while self._stack and self._stack[-1][0] >= level:
            self._stack.pop()
        self._stack.append((level, "#" * max(1, min(level, 6)) + " " + " ".join(title.split())))

    def add_text(self, text: str) -> None:
        """Append a paragraph (or a table's lines) to the open section."""
        if text.strip():
            self._blocks.append(text.strip())

    def _flush(self) -> None:
        if self._blocks:
            headers = tuple(h for _, h in self._stack)
            self._done.append(Section(headers, "\n\n".join(self._blocks), self.page))
            self._blocks = []

    def sections(self) -> list[Section]:
        """Every section so far, the open one included."""
        self._flush()
        return list(self._done)


def table_text(rows: Iterable[Iterable[str]]) -> str:
    """Table rows as ``a | b | c`` lines (cell whitespace collapsed, empty rows left out)."""
    lines = []
    for row in rows:
        cells = [" ".join(cell.split()) for cell in row]
        if any(cells):
            lines.append(" | ".join(cells))
    return "\n".join(lines)
