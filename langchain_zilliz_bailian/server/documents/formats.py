"""Which parser reads which file: the extension decides (as on the hosted service).

The hosted service documents ``.txt .pdf .md .html .epub .csv .doc .docx .xls .xlsx .ppt .pptx``;
all but the legacy binary Office formats are parsed here, and those three are refused with a
message saying what to convert them to (no maintained pure-Python parser for them is installed).
"""

from __future__ import annotations

from pathlib import PurePosixPath

from langchain_zilliz_bailian.server.documents.model import (
    LegacyFormatError,
    UnsupportedFormatError,
)

#: Extension -> format family (the key :func:`.dispatch.parse_document` dispatches on).
FORMATS: dict[str, str] = {
    ".txt": "text",
    ".text": "text",
    ".log": "text",
    ".csv": "csv",
    ".md": "markdown",
    ".markdown": "markdown",
    ".html": "html",
    ".htm": "html",
    ".xhtml": "html",
    ".pdf": "pdf",
    ".docx": "docx",
    ".pptx": "pptx",
    ".xlsx": "xlsx",
    ".epub": "epub",
}
#: Legacy binary formats -> the format to convert them to.
LEGACY_FORMATS: dict[str, str] = {".doc": ".docx", ".xls": ".xlsx", ".ppt": ".pptx"}
#: How a family is named in messages.
LABELS: dict[str, str] = {
    "text": "text",
    "csv": "CSV",
    "markdown": "Markdown",
    "html": "HTML",
    "pdf": "PDF",
    "docx": "DOCX",
    "pptx": "PPTX",
    "xlsx": "XLSX",
    "epub": "EPUB",
}


def doc_format(doc_name: str) -> str:
    """The format family of a file name; UnsupportedFormatError (or LegacyFormatError) else."""
    suffix = PurePosixPath(doc_name).suffix.lower()
    if suffix in FORMATS:
        return FORMATS[suffix]
    if suffix in LEGACY_FORMATS:
        target = LEGACY_FORMATS[suffix]
        raise LegacyFormatError(
            f"Legacy binary {suffix} documents cannot be parsed by the local server; convert "
            f"{doc_name!r} to {target} (for example: soffice --headless --convert-to "
            f"{target[1:]} {doc_name!r}) and upload the {target} file."
        )
    supported = ", ".join(sorted(FORMATS))
    raise UnsupportedFormatError(
        f"Unsupported document format {suffix or '(no extension)'!r}; "
        f"supported formats: {supported}."
    )
