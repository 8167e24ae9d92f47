"""XLSX through openpyxl (read-only, cached values): one section per sheet, headed by its name,
rows as ``a | b | c`` lines and the sheet's first row repeated at the top of every chunk."""

from __future__ import annotations

import datetime as dt
import io
from typing import Any

from langchain_zilliz_bailian.server.documents.archive import check_archive
from langchain_zilliz_bailian.server.documents.limits import MAX_SHEET_CELLS, MAX_TEXT_CHARS
from langchain_zilliz_bailian.server.documents.model import DocumentTooLargeError, Section
from langchain_zilliz_bailian.server.documents.sections import table_text


def xlsx_sections(raw: bytes) -> list[Section]:
    """One section per non-empty worksheet; formulas give their last computed value."""
    from openpyxl import load_workbook  # type: ignore[import-untyped]

    check_archive(raw, "XLSX")
    workbook = load_workbook(io.BytesIO(raw), read_only=True, data_only=True)
    budget = _Budget()
    try:
        sections: list[Section] = []
        for sheet in workbook.worksheets:
            sheet.reset_dimensions()  # rows are not padded to the declared (unchecked) size
            lines: list[str] = []
            for row in sheet.iter_rows(values_only=True):
                budget.spend(max(1, len(row)), 0)
                line = table_text([[cell_text(v) for v in _trimmed(row)]]) if row else ""
                if line:
                    budget.spend(0, len(line) + 1)
                    lines.append(line)
            if lines:
                sections.append(_sheet_section(sheet.title, lines))
        return sections
    finally:
        workbook.close()


def _sheet_section(title: str, lines: list[str]) -> Section:
    """The sheet's rows under its name, its first row repeated atop each chunk."""
    heading = (f"# {' '.join(title.split())}",)
    if len(lines) == 1:
        return Section(heading, lines[0])
    return Section(heading, "\n".join(lines[1:]), repeat=lines[0])


class _Budget:
    """Cells visited and characters kept so far, refused past :mod:`.limits`."""

    def __init__(self) -> None:
        self.cells = 0
        self.chars = 0

    def spend(self, cells: int, chars: int) -> None:
        self.cells += cells
        self.chars += chars
        if self.cells > MAX_SHEET_CELLS:
            raise DocumentTooLargeError(f"the workbook has more than {MAX_SHEET_CELLS} cells")
        if self.chars > MAX_TEXT_CHARS:
            raise DocumentTooLargeError(f"the workbook holds more than {MAX_TEXT_CHARS} characters")


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
