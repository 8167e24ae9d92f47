"""HTML (and EPUB's XHTML): rendered as Markdown-like text, then split like Markdown.

The standard library's streaming :class:`~html.parser.HTMLParser` is used rather than
beautifulsoup4: it keeps no tree (memory stays proportional to the text), tolerates the same
broken markup, and renders headers as ``#`` lines so HTML shares the header-aware splitter.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

from langchain_zilliz_bailian.server.documents.markdown import markdown_sections
from langchain_zilliz_bailian.server.documents.model import Section

_HEADING_TAG = re.compile(r"h[1-6]")


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
        self._heading: list[str] | None = None  # text of the open heading
        self._level = 0
        self._pre = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self._SKIP:
            self._skip += 1
        elif _HEADING_TAG.fullmatch(tag):
            self._end_heading()
            self._heading, self._level = [], int(tag[1])
        elif self._heading is not None and tag in ("br", "td", "th"):
            self._heading.append(" ")
        elif tag == "br":
            self.out.append("\n")
        elif tag in self._BLOCKS:
            self._end_heading()  # a block inside a heading (or after an unclosed one) ends it
            self.out.append("\n\n" if tag != "li" else "\n- ")
            if tag == "pre":
                self._pre += 1
        elif tag in ("td", "th"):
            self.out.append(" | ")

    def handle_endtag(self, tag: str) -> None:
        if tag in self._SKIP:
            self._skip = max(0, self._skip - 1)
        elif _HEADING_TAG.fullmatch(tag):
            self._end_heading()
        elif tag in self._BLOCKS:
            if tag == "pre":
                self._pre = max(0, self._pre - 1)
            self.out.append("\n\n")

    def _end_heading(self) -> None:
        """Emit the open heading as one ``#`` line (inline tags inside it keep their spaces)."""
        if self._heading is None:
            return
        text = " ".join("".join(self._heading).split())
        self._heading = None
        if text:
            self.out.append("\n\n" + "#" * self._level + " " + text + "\n\n")

    def handle_data(self, data: str) -> None:
        if self._skip:
            return
        if self._heading is not None:
            self._heading.append(data)
        elif self._pre:
            self.out.append(data)
        else:
            self.out.append(re.sub(r"\s+", " ", data))

    def close(self) -> None:
        super().close()
        self._end_heading()


def html_to_markdown(html: str) -> str:
    """Render HTML as Markdown-like text so it can share the header-aware splitter."""
    parser = _HTMLToMarkdown()
    parser.feed(html)
    parser.close()
    text = "".join(parser.out)
    text = re.sub(r"[ \t]+\n", "\n", text)
    return re.sub(r"\n{3,}", "\n\n", text).strip()


def html_sections(html: str) -> list[Section]:
    """Sections of an HTML page, split by its ``<h1>``..``<h6>`` headers."""
    return markdown_sections(html_to_markdown(html))
