"""What a parser hands the chunker: sections of text with their heading path and page.

A parser never chunks; it keeps the structure the format has (headings, pages, table header
rows) so the chunker can prefix each chunk with its heading path (Z29) and tag it with its page.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Section:
    """A run of body text under one heading path, on one page when the format has pages.

    ``headers`` are Markdown-style lines (``"# Guide"``, ``"## Install"``); ``page`` is 1-based
    (PDF page, PPTX slide); ``repeat`` is a line every chunk of the section starts with after its
    headers (a table's header row), so a chunk cut from the middle of a table stays readable.
    """

    headers: tuple[str, ...] = ()
    body: str = ""
    page: int | None = None
    repeat: str = ""


class DocumentError(ValueError):
    """A document the server cannot turn into text; the message is safe to show the caller."""


class UnsupportedFormatError(DocumentError):
    """The document's extension is not one the local server can parse."""


class LegacyFormatError(UnsupportedFormatError):
    """A legacy binary Office format (.doc/.xls/.ppt): the caller should convert it first."""


class CorruptDocumentError(DocumentError):
    """The bytes are not a readable document of the format its name claims."""


class DocumentTooLargeError(DocumentError):
    """The document expands beyond the parsing bounds (zip bomb, too many parts, too much text)."""
