"""DOCX through python-docx: headings (by paragraph style) become the section titles, tables
become ``a | b | c`` lines in reading order.

A paragraph is a heading when its style is ``Title`` (level 0) or ``Heading N``, or when it or
its style chain sets an outline level (custom heading styles). Pages are not known: page breaks
belong to the rendering, not to the file.
"""

from __future__ import annotations

import io
import re
from typing import Any

from langchain_zilliz_bailian.server.documents.archive import check_archive
from langchain_zilliz_bailian.server.documents.model import Section
from langchain_zilliz_bailian.server.documents.sections import SectionBuilder, table_text

_HEADING_STYLE = re.compile(r"heading\s*([1-9])", re.IGNORECASE)
_MAX_STYLE_DEPTH = 10


def docx_sections(raw: bytes) -> list[Section]:
    """Sections of a DOCX body, split at its headings."""
    from docx import Document
    from docx.table import Table

    check_archive(raw, "DOCX")
    document = Document(io.BytesIO(raw))
    levels = HeadingLevels(document)
    builder = SectionBuilder()
    for block in document.iter_inner_content():
        if isinstance(block, Table):
            builder.add_text(_table_text(block))
            continue
        text = block.text.strip()
        if not text:
            continue
        level = levels.of(block)
        if level is None:
            builder.add_text(text)
        else:
            builder.heading(level, text)
    return builder.sections()


class HeadingLevels:
    """Heading level of a paragraph: 0 for ``Title``, N for ``Heading N`` or outline level
    N-1 (on the paragraph or along its style chain), None for body text.

    Levels are cached per style id: python-docx looks a paragraph's style up by scanning every
    style, which made a 500-paragraph document take most of a second.
    """

    def __init__(self, document: Any) -> None:
        from docx.enum.style import WD_STYLE_TYPE

        self._styles = {
            style.style_id: style
            for style in document.styles
            if style.type == WD_STYLE_TYPE.PARAGRAPH
        }
        self._default = document.styles.default(WD_STYLE_TYPE.PARAGRAPH)
        self._cache: dict[str | None, int | None] = {}

    def of(self, paragraph: Any) -> int | None:
        """The level of one paragraph (its own outline level first, then its style's)."""
        own = _outline_level(paragraph._p)
        if own is not None:
            return own
        style_id = paragraph._p.style
        if style_id not in self._cache:
            style = self._styles.get(style_id) if style_id else self._default
            self._cache[style_id] = _style_level(style)
        return self._cache[style_id]


def _style_level(style: Any) -> int | None:
    for _ in range(_MAX_STYLE_DEPTH):
        if style is None:
            return None
        name = (style.name or "").strip()
        if name.lower() == "title":
            return 0
        match = _HEADING_STYLE.fullmatch(name)
        if match:
            return int(match.group(1))
        level = _outline_level(style.element)
        if level is not None:
            return level
        style = style.base_style
    return None


def _outline_level(element: Any) -> int | None:
    """``w:outlineLvl`` of a paragraph or style (0-based in the file, 9 means body text)."""
    from docx.oxml.ns import qn

    properties = element.find(qn("w:pPr"))
    found = properties.find(qn("w:outlineLvl")) if properties is not None else None
    value = found.get(qn("w:val")) if found is not None else None
    if value is not None and value.isdigit() and int(value) < 9:
        return int(value) + 1
    return None


def _table_text(table: Any) -> str:
    """Rows as ``a | b`` lines, read from the table's XML: a merged cell is written once, where
    it starts. (python-docx's ``row.cells`` repeats a cell once per column it spans, so a forged
    span of 2**31 columns in a 5 kB file would exhaust memory.)"""
    from docx.text.paragraph import Paragraph

    return table_text(
        [
            "" if tc.vMerge == "continue" else "\n".join(Paragraph(p, table).text for p in tc.p_lst)
            for tc in tr.tc_lst
        ]
        for tr in table._tbl.tr_lst
    )
