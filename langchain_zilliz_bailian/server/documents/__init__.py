"""Parsing uploaded documents into sections, one small module per format family.

:func:`parse_document` dispatches on the file extension (:mod:`.formats`); each parser returns
:class:`Section` objects (heading path, body, page) that :mod:`..chunking` cuts into chunks.
Parsing is bounded (:mod:`.limits`) and blocking: callers run it in a worker thread.
"""

from __future__ import annotations

from langchain_zilliz_bailian.server.documents.dispatch import parse_document
from langchain_zilliz_bailian.server.documents.formats import doc_format
from langchain_zilliz_bailian.server.documents.model import (
    CorruptDocumentError,
    DocumentError,
    DocumentTooLargeError,
    LegacyFormatError,
    Section,
    UnsupportedFormatError,
)

__all__ = [
    "CorruptDocumentError",
    "DocumentError",
    "DocumentTooLargeError",
    "LegacyFormatError",
    "Section",
    "UnsupportedFormatError",
    "doc_format",
    "parse_document",
]
