"""EPUB with the standard library: the OPF package's spine gives the reading order, each
XHTML chapter goes through the HTML renderer (headers split it into sections).

Only ``container.xml`` and the OPF file are parsed as XML, and a document type declaration is
refused in them (no entity expansion at all); chapters go through the HTML parser, which
expands no custom entities either.
"""

from __future__ import annotations

import posixpath
import zipfile
from urllib.parse import unquote, urlsplit
from xml.etree import ElementTree

from langchain_zilliz_bailian.server.documents.archive import open_archive, read_member
from langchain_zilliz_bailian.server.documents.html_text import html_sections
from langchain_zilliz_bailian.server.documents.limits import MAX_TEXT_CHARS
from langchain_zilliz_bailian.server.documents.model import (
    CorruptDocumentError,
    DocumentTooLargeError,
    Section,
)
from langchain_zilliz_bailian.server.documents.plain import decode_text

_CONTAINER = "META-INF/container.xml"
_CHAPTER_TYPES = frozenset({"application/xhtml+xml", "text/html", "application/xml"})


def epub_sections(raw: bytes) -> list[Section]:
    """Sections of every chapter in spine order (non-linear items included, at their place)."""
    with open_archive(raw, "EPUB") as archive:
        sections: list[Section] = []
        total = 0
        for name in spine_documents(archive):
            text = decode_text(read_member(archive, name, "EPUB"))
            total += len(text)
            if total > MAX_TEXT_CHARS:
                raise DocumentTooLargeError(f"the EPUB holds more than {MAX_TEXT_CHARS} characters")
            sections.extend(html_sections(text))
        return sections


def spine_documents(archive: zipfile.ZipFile) -> list[str]:
    """Archive names of the spine's (X)HTML documents, in reading order."""
    container = _parse_xml(read_member(archive, _CONTAINER, "EPUB"), _CONTAINER)
    rootfile = next(
        (e.get("full-path") for e in container.iter() if _local(e.tag) == "rootfile"), None
    )
    if not rootfile:
        raise CorruptDocumentError(f"the EPUB's {_CONTAINER} names no package (rootfile)")
    package = _parse_xml(read_member(archive, rootfile, "EPUB"), rootfile)
    base = posixpath.dirname(rootfile)
    manifest: dict[str, tuple[str, str]] = {}
    spine: list[str] = []
    for element in package.iter():
        tag = _local(element.tag)
        if tag == "item" and element.get("id") and element.get("href"):
            href = unquote(urlsplit(element.get("href", "")).path)
            path = posixpath.normpath(posixpath.join(base, href))
            manifest[element.get("id", "")] = (path, element.get("media-type", ""))
        elif tag == "itemref" and element.get("idref"):
            spine.append(element.get("idref", ""))
    names = []
    for idref in spine:
        path, media_type = manifest.get(idref, ("", ""))
        if path and media_type in _CHAPTER_TYPES and path not in names:
            names.append(path)
    if not names:
        raise CorruptDocumentError("the EPUB's spine lists no readable chapter")
    return names


def _parse_xml(data: bytes, name: str) -> ElementTree.Element:
    if b"<!DOCTYPE" in data or b"<!ENTITY" in data:
        raise CorruptDocumentError(f"the EPUB's {name} declares a document type; refused")
    try:
        return ElementTree.fromstring(data)  # noqa: S314 (no DOCTYPE, so no entities: checked above)
    except ElementTree.ParseError as exc:
        raise CorruptDocumentError(f"the EPUB's {name} is not well-formed XML ({exc})") from None


def _local(tag: str) -> str:
    """``{namespace}item`` -> ``item``."""
    return tag.rsplit("}", 1)[-1]
