"""PDF through pypdf: one section per page, tagged with its 1-based page number.

PDF has no reliable headings (an outline, when present, points at pages, not at text), so
sections carry no header path. Before pypdf sees the file, every deflate stream in it is
inflated once with a running total (:data:`.limits.MAX_PDF_STREAM_BYTES`), because pypdf before
6.x inflates streams without any cap (a deflate bomb would exhaust memory).
"""

from __future__ import annotations

import io
import re
import zlib

from langchain_zilliz_bailian.server.documents.limits import MAX_PDF_STREAM_BYTES, MAX_TEXT_CHARS
from langchain_zilliz_bailian.server.documents.model import (
    CorruptDocumentError,
    DocumentTooLargeError,
    Section,
)

_STREAM_START = re.compile(rb"stream\r?\n")
#: Compressed bytes fed at a time (small: what follows a stream's end is copied once) and
#: inflated bytes produced at a time.
_INPUT_STEP = 16 * 1024
_OUTPUT_STEP = 1 << 20


def pdf_sections(raw: bytes) -> list[Section]:
    """The text of each page, as a section with ``page`` set (pages without text are left out)."""
    from pypdf import PdfReader

    if b"%PDF-" not in raw[:1024]:
        raise CorruptDocumentError("not a PDF file (no %PDF- header)")
    check_stream_budget(raw)
    reader = PdfReader(io.BytesIO(raw))
    if reader.is_encrypted and not reader.decrypt(""):
        raise CorruptDocumentError("the PDF is encrypted with a password; upload it unencrypted")
    sections: list[Section] = []
    total = 0
    for number, page in enumerate(reader.pages, start=1):
        text = (page.extract_text() or "").strip()
        total += len(text)
        if total > MAX_TEXT_CHARS:
            raise DocumentTooLargeError(f"the PDF holds more than {MAX_TEXT_CHARS} characters")
        if text:
            sections.append(Section(body=text, page=number))
    return sections


def check_stream_budget(raw: bytes, budget: int = MAX_PDF_STREAM_BYTES) -> None:
    """Inflate every zlib stream in ``raw`` (output discarded) and refuse past ``budget`` bytes."""
    view = memoryview(raw)
    used = 0
    for match in _STREAM_START.finditer(raw):
        start = match.end()
        if start >= len(raw) or raw[start] & 0x0F != 8 or raw[start] > 0x78:
            continue  # not a zlib header: another filter, or not a stream at all
        inflater = zlib.decompressobj()
        offset = start
        pending: bytes | memoryview = b""
        try:
            while not inflater.eof:
                if not pending:
                    pending = view[offset : offset + _INPUT_STEP]
                    offset += len(pending)
                    if not pending:
                        break
                used += len(inflater.decompress(pending, _OUTPUT_STEP))
                if used > budget:
                    raise DocumentTooLargeError(
                        f"the PDF's compressed streams expand beyond {budget} bytes"
                    )
                pending = inflater.unconsumed_tail
        except zlib.error:
            continue  # not deflate data after all; pypdf reports real damage itself
