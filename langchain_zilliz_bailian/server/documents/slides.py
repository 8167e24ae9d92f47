"""PPTX through python-pptx: one section per slide, its number as the page, its title as the
heading; text frames, tables (``a | b`` lines), grouped shapes and speaker notes as the body."""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import Any

from langchain_zilliz_bailian.server.documents.archive import check_archive
from langchain_zilliz_bailian.server.documents.model import Section
from langchain_zilliz_bailian.server.documents.sections import table_text

_MAX_GROUP_DEPTH = 16


def pptx_sections(raw: bytes) -> list[Section]:
    """One section per slide with text; ``page`` is the slide's 1-based number."""
    from pptx import Presentation

    check_archive(raw, "PPTX")
    presentation = Presentation(io.BytesIO(raw))
    sections: list[Section] = []
    for number, slide in enumerate(presentation.slides, start=1):
        title_shape = slide.shapes.title
        title = " ".join(title_shape.text_frame.text.split()) if title_shape is not None else ""
        blocks = [
            text
            for shape in slide.shapes
            if title_shape is None or shape.shape_id != title_shape.shape_id
            for text in _shape_texts(shape, 0)
        ]
        if slide.has_notes_slide:
            notes = slide.notes_slide.notes_text_frame
            if notes is not None and notes.text.strip():
                blocks.append("Notes: " + notes.text.strip())
        body = "\n\n".join(blocks)
        if not body and title:
            body, title = title, ""
        if body:
            headers = (f"# {title}",) if title else ()
            sections.append(Section(headers, body, number))
    return sections


def _shape_texts(shape: Any, depth: int) -> Iterator[str]:
    """The text a shape shows: its text frame, its table's rows, or its group's members."""
    if depth < _MAX_GROUP_DEPTH and getattr(shape, "shape_type", None) == _group_type():
        for member in shape.shapes:
            yield from _shape_texts(member, depth + 1)
        return
    if getattr(shape, "has_table", False) and shape.has_table:
        yield table_text([cell.text for cell in row.cells] for row in shape.table.rows)
    elif getattr(shape, "has_text_frame", False) and shape.has_text_frame:
        text = shape.text_frame.text.strip()
        if text:
            yield text


def _group_type() -> Any:
    from pptx.enum.shapes import MSO_SHAPE_TYPE

    return MSO_SHAPE_TYPE.GROUP
