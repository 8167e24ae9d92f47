"""Opening the ZIP container of DOCX, PPTX, XLSX and EPUB files within :mod:`.limits`.

The member count and the declared uncompressed sizes are checked before any member is read.
That suffices against zip bombs: :mod:`zipfile` stops decompressing a member at its declared
size (and fails its CRC check when the data does not match), so what is read never exceeds what
was checked, even when the archive lies.
"""

from __future__ import annotations

import io
import zipfile

from langchain_zilliz_bailian.server.documents.limits import (
    MAX_ARCHIVE_BYTES,
    MAX_ARCHIVE_MEMBERS,
)
from langchain_zilliz_bailian.server.documents.model import (
    CorruptDocumentError,
    DocumentTooLargeError,
)


def open_archive(raw: bytes, label: str) -> zipfile.ZipFile:
    """The archive in ``raw``, checked against the caps; ``label`` names the format in errors."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(raw))
    except (zipfile.BadZipFile, ValueError, OSError) as exc:
        raise CorruptDocumentError(f"not a valid {label} file (not a ZIP archive: {exc})") from None
    members = archive.infolist()
    if len(members) > MAX_ARCHIVE_MEMBERS:
        raise DocumentTooLargeError(
            f"the {label} archive holds {len(members)} parts; at most "
            f"{MAX_ARCHIVE_MEMBERS} are accepted"
        )
    total = sum(info.file_size for info in members)
    if total > MAX_ARCHIVE_BYTES:
        raise DocumentTooLargeError(
            f"the {label} archive expands to {total} bytes; at most {MAX_ARCHIVE_BYTES} "
            "(uncompressed) are accepted"
        )
    return archive


def check_archive(raw: bytes, label: str) -> None:
    """Refuse ``raw`` unless it is a ZIP archive within the caps (before a library opens it)."""
    open_archive(raw, label).close()


def read_member(archive: zipfile.ZipFile, name: str, label: str) -> bytes:
    """One member's bytes; a missing member is a corrupt document (so is a damaged one, through
    the dispatcher's catch-all)."""
    try:
        return archive.read(name)
    except KeyError:
        raise CorruptDocumentError(f"the {label} archive has no {name!r}") from None
