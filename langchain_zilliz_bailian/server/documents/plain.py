"""Plain text and CSV: decoded as UTF-8; a CSV's header row starts every chunk of it."""

from __future__ import annotations

import csv
from collections.abc import Iterator

from langchain_zilliz_bailian.server.documents.model import Section


def decode_text(raw: bytes) -> str:
    """Decode bytes as UTF-8 (BOM stripped), replacing undecodable bytes."""
    return raw.decode("utf-8-sig", errors="replace")


def text_sections(text: str) -> list[Section]:
    """The whole text as one section (the splitter cuts it by ``splitBy``)."""
    return [Section(body=text.strip())] if text.strip() else []


def csv_sections(text: str) -> list[Section]:
    """One section whose lines are the CSV's records, verbatim, with the header row repeated.

    Records are found with :mod:`csv` (a quoted field may span lines) but kept as written, so a
    CSV that fits one chunk reads exactly as the file does.
    """
    records = [r for r in _raw_records(text) if r.strip()]
    if not records:
        return []
    header, rows = records[0], records[1:]
    if not rows:
        return [Section(body=header)]
    return [Section(body="\n".join(rows), repeat=header)]


def _raw_records(text: str) -> Iterator[str]:
    """The source text of each CSV record (a record may cover several physical lines)."""
    lines = text.splitlines(keepends=True)
    position = 0  # lines handed to the reader so far

    def feed() -> Iterator[str]:
        nonlocal position
        while position < len(lines):
            position += 1
            yield lines[position - 1]

    start = 0
    reader = csv.reader(feed())
    try:
        for _ in reader:
            yield "".join(lines[start:position]).rstrip("\r\n")
            start = position
    except csv.Error:  # e.g. a NUL byte: the rest is kept line by line, as written
        yield from (line.rstrip("\r\n") for line in lines[start:])
