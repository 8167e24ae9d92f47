"""Bounds on what parsing one uploaded document may cost, whatever its format.

The upload itself is capped at 10 MB (:data:`..fetch.MAX_DOC_BYTES`); these caps stop a small
file from expanding into gigabytes (zip and deflate bombs) or into more text than any ingestion
call may embed (3,500 or 6,000 chunks of at most 500 tokens).
"""

from __future__ import annotations

#: Members an Office or EPUB archive may hold (real documents have tens, big EPUBs hundreds).
MAX_ARCHIVE_MEMBERS = 5_000
#: Total uncompressed size of an archive's members, as declared (zipfile never reads past it).
MAX_ARCHIVE_BYTES = 128 * 1024 * 1024
#: Total decompressed size of a PDF's deflate streams.
MAX_PDF_STREAM_BYTES = 256 * 1024 * 1024
#: Characters of extracted text; far more than the chunk cap lets one document embed.
MAX_TEXT_CHARS = 24 * 1024 * 1024
#: Spreadsheet cells visited (an empty row counts one): a 5 kB XLSX can declare a million
#: empty rows, which openpyxl yields one by one.
MAX_SHEET_CELLS = 4_000_000
