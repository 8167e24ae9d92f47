"""XLSX through openpyxl (read-only, cached values): one section per sheet, headed by its name,
rows as ``a | b | c`` lines and the sheet's first row repeated at the top of every chunk."""

from __future__ import annotations

import datetime as dt
import io
from typing import Any

from langchain_zilliz_bailian.server.documents.archive import check_archive
from langchain_zilliz_bailian.server.documents.limits import MAX_TEXT_CHARS
from langchain_zilliz_bailian.server.documents.model import DocumentTooLargeError, Section
from langchain_zilliz_bailian.server.documents.sections import table_text


def xlsx_sections(raw: bytes) -> list[Section]:
    """One section per non-empty worksheet; formulas give their last computed value."""
    from openpyxl import load_workbook  # type: ignore[import-untyped]

    check_archive(raw, "XLSX")
    workbook = load_workbook(io.BytesIO(raw), read_only=True, data_only=True)
    try:
        sections: list[Section] = []
        total = 0
        for sheet in workbook.worksheets:
            lines: list[str] = []
            for row in sheet.iter_rows(values_only=True):
                line = table_text([[cell_text(v) for v in _trimmed(row)]])
                if not line:
                    continue
                total += len(line) + 1
                if total > MAX_TEXT_CHARS:
                    raise DocumentTooLargeError(
                        f"the workbook holds more than {MAX_TEXT_CHARS} characters"
                    )
                lines.append(line)
            if not lines:
                continue
            header, rows = lines[0], lines[1:]
            title = f"# {' '.join(sheet.title.split())}"
            if rows:
                sections.append(Section((title,), "\n".join(rows), repeat=header))
            else:
                sections.append(Section((title,), header))
        return sections
    finally:
        workbook.close()


def _trimmed(row: tuple[Any, ...]) -> tuple[Any, ...]:
    """The row without its trailing empty cells."""
    end = len(row)
    while end and (row[end - 1] is None or row[end - 1] == ""):
        end -= 1
    return row[:end]


def cell_text(value: Any) -> str:
    """A cell value as text: integers without ``.0``, dates in ISO form, empty for none."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    if isinstance(value, dt.datetime) and value.time() == dt.time(0):
        return value.date().isoformat()
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    return str(value)
