"""Unit tests of the document parsers (headings, pages, tables), their bounds and refusals."""

from __future__ import annotations

import io
import struct
import zipfile
import zlib

import pytest

from langchain_zilliz_bailian.server.chunk_fields import chunk_values, fillable_fields
from langchain_zilliz_bailian.server.chunking import Chunk, chunk_document, chunk_sections
from langchain_zilliz_bailian.server.documents import (
    CorruptDocumentError,
    DocumentTooLargeError,
    LegacyFormatError,
    Section,
    UnsupportedFormatError,
    doc_format,
    parse_document,
)
from langchain_zilliz_bailian.server.documents.limits import MAX_ARCHIVE_MEMBERS
from langchain_zilliz_bailian.server.documents.pdf import check_stream_budget
from langchain_zilliz_bailian.server.text import count_tokens
from tests.server import document_samples as samples


def test_pdf_sections_are_pages() -> None:
    sections = parse_document("report.pdf", samples.pdf_bytes())
    assert [(s.page, s.body) for s in sections] == [
        (1, samples.PDF_PAGES[0]),
        (2, samples.PDF_PAGES[1]),
    ]
    assert all(s.headers == () for s in sections)


def test_pdf_pages_without_text_are_skipped_but_keep_numbering() -> None:
    raw = samples.pdf_bytes(("", "Only the second page has words."))
    assert [(s.page, s.body) for s in parse_document("a.pdf", raw)] == [
        (2, "Only the second page has words.")
    ]


def test_docx_headings_by_style_and_tables_as_lines() -> None:
    sections = parse_document("handbook.docx", samples.docx_bytes())
    assert [(s.headers, s.body) for s in sections] == [
        (
            ("# Employee Handbook", "# Leave"),
            "Staff receive twenty-five days of annual leave each year.",
        ),
        (
            ("# Employee Handbook", "# Leave", "## Carry over"),
            "Up to five unused days may be carried into the next year.",
        ),
        (("# Employee Handbook", "# Equipment"), "Item | Budget\nLaptop | 1500 euros"),
    ]
    assert all(s.page is None for s in sections)


def test_docx_custom_style_based_on_a_heading_is_a_heading() -> None:
    from docx import Document
    from docx.enum.style import WD_STYLE_TYPE

    document = Document()
    custom = document.styles.add_style("Chapter Title", WD_STYLE_TYPE.PARAGRAPH)
    custom.base_style = document.styles["Heading 2"]
    document.add_paragraph("Chapter one", style="Chapter Title")
    document.add_paragraph("It was a quiet morning.")
    (section,) = parse_document("novel.docx", samples.saved(document))
    assert section.headers == ("## Chapter one",) and section.body == "It was a quiet morning."


def test_docx_outline_level_on_a_body_paragraph_makes_it_a_heading() -> None:
    from docx import Document
    from docx.oxml import OxmlElement
    from docx.oxml.ns import qn

    document = Document()
    heading = document.add_paragraph("Appendix")
    level = OxmlElement("w:outlineLvl")
    level.set(qn("w:val"), "2")
    heading._p.get_or_add_pPr().append(level)
    document.add_paragraph("Tables of figures.")
    (section,) = parse_document("report.docx", samples.saved(document))
    assert section.headers == ("### Appendix",) and section.body == "Tables of figures."


def test_docx_merged_cells_are_written_once_even_with_a_forged_span() -> None:
    from docx import Document

    document = Document()
    table = document.add_table(rows=2, cols=3)
    top = table.cell(0, 0).merge(table.cell(0, 1))
    top.text = "Merged header"
    table.cell(0, 2).text = "Side"
    table.cell(1, 0).text = "a"
    last = table.cell(1, 2)
    last.text = "z"
    # A span far beyond the grid (python-docx's row.cells would build 2**31 cell objects).
    last._tc.get_or_add_tcPr().grid_span = 2**31 - 1
    (section,) = parse_document("merged.docx", samples.saved(document))
    assert section.body == "Merged header | Side\na |  | z"


def test_pptx_slides_are_pages_titles_are_headings() -> None:
    sections = parse_document("deck.pptx", samples.pptx_bytes())
    assert [(s.page, s.headers) for s in sections] == [
        (1, ("# Quarterly review",)),
        (2, ("# Warehouse",)),
        (3, ("# Headcount",)),
    ]
    assert sections[1].body == (
        "The new warehouse in Lyon opens in March.\n\nNotes: Mention the forklift training."
    )
    assert sections[2].body == "Team | People\nSupport | 14"


def test_xlsx_sheets_rows_and_repeated_header() -> None:
    (section,) = parse_document("prices.xlsx", samples.xlsx_bytes())
    assert section.headers == ("# Prices",)
    assert section.repeat == "Product | Price | Note"
    assert section.body == (
        "Green tea | 4.5 | Organic leaves from Yunnan province\nBlack coffee | 3"
    )


def test_epub_follows_the_spine_not_the_file_order() -> None:
    sections = parse_document("book.epub", samples.epub_bytes())
    assert [(s.headers, s.body) for s in sections] == [
        (("# The Village",), "Bakers in the village start work at four."),
        (("# The Harbour",), "The lighthouse keeper rowed out at dawn."),
    ]


def test_html_heading_with_inline_markup_keeps_its_spaces() -> None:
    (section,) = parse_document("a.html", b"<h2>Getting <em>started</em> now</h2><p>Body.</p>")
    assert section.headers == ("## Getting started now",)
    # An unclosed heading ends at the next block instead of swallowing the page.
    (section,) = parse_document("b.html", b"<h1>Title<p>First paragraph.</p><p>Second.</p>")
    assert section.headers == ("# Title",) and section.body == "First paragraph.\n\nSecond."
    # A line break inside a heading is a space; an empty heading is no heading.
    (section,) = parse_document("c.html", b"<h2>Two<br>lines</h2><h3> </h3><p>Text.</p>")
    assert section.headers == ("## Two lines",) and section.body == "Text."


def test_csv_header_row_starts_every_chunk() -> None:
    rows = "\n".join(f"{i},item number {i} in the list" for i in range(40))
    text = "id,description\n" + rows
    chunks = chunk_document(text, "csv", 30)
    assert len(chunks) > 1
    assert all(c.startswith("id,description\n") for c in chunks)
    assert all(count_tokens(c) <= 30 for c in chunks)
    body = [line for c in chunks for line in c.splitlines()[1:]]
    assert body == rows.splitlines()
    # A CSV that fits one chunk reads exactly as the file does.
    assert chunk_document("a,b\n1,2", "csv", 100) == ["a,b\n1,2"]


def test_chunks_carry_page_and_headers_and_never_span_sections() -> None:
    sections = [
        Section(("# A",), " ".join(["alpha"] * 30), page=1),
        Section(("# A", "## B"), "beta gamma", page=2),
    ]
    chunks = chunk_sections(sections, 12, ["\n\n", "\n", " ", ""])
    assert {c.page for c in chunks[:-1]} == {1} and chunks[-1].page == 2
    assert all(c.text.startswith("# A\n") and count_tokens(c.text) <= 12 for c in chunks)
    assert chunks[-1] == Chunk("# A\n## B\nbeta gamma", ("# A", "## B"), 2)


def test_chunk_fields_are_filled_only_when_preserved_with_a_fitting_type() -> None:
    assert fillable_fields({"page_number": "Int32", "heading_path": "VarChar"}) == {
        "page_number",
        "heading_path",
    }
    assert fillable_fields(
        {"page_number": "VarChar", "heading_path": "Int64", "year": "Int16"}
    ) == (frozenset())
    chunk = Chunk("# A\n## B\nx", ("# A", "## B"), 7)
    assert chunk_values(chunk, frozenset({"page_number", "heading_path"})) == {
        "page_number": 7,
        "heading_path": "# A\n## B",
    }
    assert chunk_values(Chunk("x"), frozenset({"page_number"})) == {"page_number": 0}


# -- refusals ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("suffix", "target"), [(".doc", ".docx"), (".xls", ".xlsx"), (".ppt", ".pptx")]
)
def test_legacy_binary_formats_are_refused_with_a_conversion_hint(suffix: str, target: str) -> None:
    with pytest.raises(LegacyFormatError, match=rf"convert 'old{suffix}' to \{target}"):
        doc_format(f"old{suffix}")
    with pytest.raises(UnsupportedFormatError, match="supported formats: .csv, .docx"):
        doc_format("archive.rar")


@pytest.mark.parametrize(
    ("name", "label"),
    [
        ("x.pdf", "PDF"),
        ("x.docx", "DOCX"),
        ("x.pptx", "PPTX"),
        ("x.xlsx", "XLSX"),
        ("x.epub", "EPUB"),
    ],
)
def test_corrupt_files_are_refused_naming_the_format(name: str, label: str) -> None:
    for raw in (b"garbage bytes", b"%PDF-1.7\n1 0 obj <<", samples.many_members(3)):
        with pytest.raises(CorruptDocumentError, match=rf"Cannot parse '{name}' as {label}"):
            parse_document(name, raw)


def test_truncated_documents_are_corrupt_not_crashes() -> None:
    for name, raw in (
        ("a.pdf", samples.pdf_bytes()),
        ("a.docx", samples.docx_bytes()),
        ("a.pptx", samples.pptx_bytes()),
        ("a.xlsx", samples.xlsx_bytes()),
        ("a.epub", samples.epub_bytes()),
    ):
        with pytest.raises(CorruptDocumentError, match=name):
            parse_document(name, raw[: len(raw) // 2])


@pytest.mark.parametrize("name", ["bomb.docx", "bomb.pptx", "bomb.xlsx", "bomb.epub"])
def test_zip_bombs_are_refused_before_inflating(name: str) -> None:
    bomb = samples.zip_bomb("word/document.xml", 129 * 1024 * 1024)
    assert len(bomb) < 1024 * 1024
    with pytest.raises(DocumentTooLargeError, match="expands to"):
        parse_document(name, bomb)
    with pytest.raises(DocumentTooLargeError, match="parts"):
        parse_document(name, samples.many_members(MAX_ARCHIVE_MEMBERS + 1))


def test_an_archive_lying_about_member_sizes_cannot_inflate_past_them() -> None:
    """Declared sizes are what the guard checks; zipfile stops there and fails the CRC."""
    raw = bytearray(samples.docx_bytes())
    archive = zipfile.ZipFile(io.BytesIO(bytes(raw)))
    info = archive.getinfo("word/document.xml")
    # Shrink the declared size in the local header and in the central directory entry.
    struct.pack_into("<I", raw, info.header_offset + 22, 10)
    central = bytes(raw).index(b"PK\x01\x02")
    while True:
        name_length = struct.unpack_from("<H", raw, central + 28)[0]
        if bytes(raw[central + 46 : central + 46 + name_length]) == b"word/document.xml":
            struct.pack_into("<I", raw, central + 24, 10)
            break
        extra, comment = struct.unpack_from("<HH", raw, central + 30)
        central += 46 + name_length + extra + comment
    with pytest.raises(CorruptDocumentError, match="lies.docx.*CRC"):
        parse_document("lies.docx", bytes(raw))


def test_a_lying_member_is_refused_before_any_library_reads_it_whole(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A whole-member read inflates a lying member completely (the bomb); the guard streams."""
    payload = io.BytesIO()
    with zipfile.ZipFile(payload, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("word/document.xml", b"\0" * (8 << 20))
    raw = bytearray(payload.getvalue())
    for signature, offset in ((b"PK\x03\x04", 22), (b"PK\x01\x02", 24)):
        at = -1
        while (at := bytes(raw).find(signature, at + 1)) != -1:
            struct.pack_into("<I", raw, at + offset, 100)  # every size now claims 100 bytes
    whole_reads: list[str] = []
    monkeypatch.setattr(
        zipfile.ZipFile, "read", lambda self, name, pwd=None: whole_reads.append(name)
    )
    with pytest.raises(CorruptDocumentError, match="bomb.docx"):
        parse_document("bomb.docx", bytes(raw))
    assert whole_reads == []


def test_pdf_deflate_streams_are_inflated_within_a_budget() -> None:
    stream = zlib.compress(b"0" * (3 << 20))
    pdf = b"%PDF-1.4\n1 0 obj\n<< /Length 1 >>\nstream\n" + stream + b"\nendstream\nendobj\n"
    check_stream_budget(pdf, budget=4 << 20)
    with pytest.raises(DocumentTooLargeError, match="expand beyond"):
        check_stream_budget(pdf, budget=2 << 20)
    with pytest.raises(DocumentTooLargeError):  # the budget is a total across streams
        check_stream_budget(pdf + pdf, budget=5 << 20)


def test_xlsx_with_a_million_empty_rows_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    """openpyxl yields every row up to the last one: the gap is walked, within a cell budget."""
    from openpyxl import Workbook  # type: ignore[import-untyped]

    from langchain_zilliz_bailian.server.documents import sheets

    workbook = Workbook()
    workbook.active["A1"] = "head"
    workbook.active["A1048576"] = "tail"
    raw = samples.saved(workbook)
    assert len(raw) < 10_000
    (section,) = parse_document("gap.xlsx", raw)
    assert (section.repeat, section.body) == ("head", "tail")
    monkeypatch.setattr(sheets, "MAX_SHEET_CELLS", 100_000)
    with pytest.raises(DocumentTooLargeError, match="more than 100000 cells"):
        parse_document("gap.xlsx", raw)


def test_epub_with_a_doctype_in_its_package_is_refused() -> None:
    raw = io.BytesIO()
    with zipfile.ZipFile(raw, "w") as archive:
        archive.writestr(
            "META-INF/container.xml",
            '<!DOCTYPE x [<!ENTITY a "aaaa">]><container><rootfiles>'
            '<rootfile full-path="c.opf"/></rootfiles></container>',
        )
    with pytest.raises(CorruptDocumentError, match="declares a document type"):
        parse_document("x.epub", raw.getvalue())


def test_encrypted_pdf_without_the_empty_password_is_refused() -> None:
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter()
    writer.append(PdfReader(io.BytesIO(samples.pdf_bytes())))
    writer.encrypt(user_password="secret", algorithm="RC4-128")
    buffer = io.BytesIO()
    writer.write(buffer)
    with pytest.raises(CorruptDocumentError, match="encrypted"):
        parse_document("locked.pdf", buffer.getvalue())
