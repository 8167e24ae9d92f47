"""``parse_document``: bytes and a file name in, sections out, or a :class:`DocumentError`.

Every failure of a parsing library becomes a :class:`CorruptDocumentError` naming the format,
so a damaged upload is a 400 for the caller and never a 500.
"""

from __future__ import annotations

from collections.abc import Callable

from langchain_zilliz_bailian.server.documents.epub import epub_sections
from langchain_zilliz_bailian.server.documents.formats import LABELS, doc_format
from langchain_zilliz_bailian.server.documents.html_text import html_sections
from langchain_zilliz_bailian.server.documents.markdown import markdown_sections
from langchain_zilliz_bailian.server.documents.model import (
    CorruptDocumentError,
    DocumentError,
    Section,
)
from langchain_zilliz_bailian.server.documents.pdf import pdf_sections
from langchain_zilliz_bailian.server.documents.plain import csv_sections, decode_text, text_sections
from langchain_zilliz_bailian.server.documents.sheets import xlsx_sections
from langchain_zilliz_bailian.server.documents.slides import pptx_sections
from langchain_zilliz_bailian.server.documents.word import docx_sections

_MAX_DETAIL = 200

PARSERS: dict[str, Callable[[bytes], list[Section]]] = {
    "text": lambda raw: text_sections(decode_text(raw)),
    "csv": lambda raw: csv_sections(decode_text(raw)),
    "markdown": lambda raw: markdown_sections(decode_text(raw)),
    "html": lambda raw: html_sections(decode_text(raw)),
    "pdf": pdf_sections,
    "docx": docx_sections,
    "pptx": pptx_sections,
    "xlsx": xlsx_sections,
    "epub": epub_sections,
}


def parse_document(doc_name: str, raw: bytes) -> list[Section]:
    """The sections of ``raw``, parsed as the format ``doc_name``'s extension names."""
    fmt = doc_format(doc_name)
    label = LABELS[fmt]
    try:
        return PARSERS[fmt](raw)
    except DocumentError as exc:
        raise type(exc)(f"Cannot parse {doc_name!r} as {label}: {exc}") from None
    except MemoryError:
        raise
    except Exception as exc:  # any failure inside a parsing library: the file is damaged
        detail = f"{type(exc).__name__}: {exc}"[:_MAX_DETAIL]
        raise CorruptDocumentError(
            f"Cannot parse {doc_name!r} as {label}; the file looks damaged ({detail})."
        ) from None
