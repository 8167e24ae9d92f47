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
    builder = SectionBuilder()
    for block in document.iter_inner_content():
        if isinstance(block, Table):
            builder.add_text(_table_text(block))
            continue
        text = block.text.strip()
        if not text:
            continue
        level = heading_level(block)
        if level is None:
            builder.add_text(text)
        else:
            builder.heading(level, text)
    return builder.sections()


def heading_level(paragraph: Any) -> int | None:
    """0 for ``Title``, N for ``Heading N`` or outline level N-1, None for body text."""
    style = paragraph.style
    level = _outline_level(paragraph._p)
    for _ in range(_MAX_STYLE_DEPTH):
        if level is not None or style is None:
            break
        name = style.name or ""
        if name.lower() == "title":
            return 0
        match = _HEADING_STYLE.fullmatch(name.strip())
        if match:
            return int(match.group(1))
        level = _outline_level(style.element)
        style = style.base_style
    return level


def _outline_level(element: Any) -> int | None:
    """``w:outlineLvl`` of a paragraph or style (0-based in the file, 9 means body text)."""
    values = element.xpath("./w:pPr/w:outlineLvl/@w:val")
    if values and str(values[0]).isdigit() and int(values[0]) < 9:
        return int(values[0]) + 1
    return None


def _table_text(table: Any) -> str:
    """Rows as ``a | b`` lines; a merged cell is written once per row."""
    return table_text(_distinct_cells(row.cells) for row in table.rows)


def _distinct_cells(cells: list[Any]) -> list[str]:
    """python-docx repeats a horizontally merged cell once per grid column: keep the first."""
    texts: list[str] = []
    previous = None
    for cell in cells:
        if cell._tc is not previous:
            texts.append(cell.text)
        previous = cell._tc
    return texts
