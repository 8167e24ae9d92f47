"""Opening the ZIP container of DOCX, PPTX, XLSX and EPUB files within :mod:`.limits`.

The member count and the declared uncompressed sizes are checked first, then every member is
decompressed once in small pieces, which :mod:`zipfile` stops at the member's declared size and
CRC-checks. That pass is needed because a library's whole-member read (``ZipFile.read``) inflates
a member that lies about its size completely before the CRC check fails (400 MB from a 400 kB
file, measured); streamed, the same member costs nothing and is refused.
"""

from __future__ import annotations

import io
import zipfile
import zlib

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
    for info in members:
        _verify_member(archive, info, label)
    return archive


def _verify_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo, label: str) -> None:
    """Decompress one member in 64 KiB pieces (at most its declared size); a damaged or lying
    member is a corrupt document."""
    if info.is_dir():
        return
    try:
        with archive.open(info) as member:
            while member.read(_PIECE):
                pass
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, NotImplementedError) as exc:
        raise CorruptDocumentError(
            f"the {label} archive's part {info.filename!r} is damaged ({exc})"
        ) from None


_PIECE = 64 * 1024


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
