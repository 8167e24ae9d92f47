"""Every parsed upload format through the local server: upload or ``file://`` ``doc_url``, then
search finds a sentence of it; pages and header paths come back through ``outputFields``."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from langchain_zilliz_bailian.server import LocalServer
from tests.server import document_samples as samples
from tests.server.conftest import CLUSTER, PROJECT, create, create_search, ok, search, unique

MD = "# Garden\n\n## Roses\n\nPrune the climbing roses after the first frost.\n"
HTML = "<h1>Kitchen</h1><h2>Ovens</h2><p>Clean the convection oven every Friday evening.</p>"
CSV = "city,fact\nOslo,The ferry to Nesodden leaves every half hour\nBergen,It rains often\n"
TXT = "The observatory dome opens only on clear nights.\n"

#: name -> (bytes builder, query, text the top chunk holds, its page, its header path)
CASES: dict[str, tuple[Callable[[], bytes], str, str, int, str]] = {
    "report.pdf": (
        samples.pdf_bytes,
        "receipt travel expenses twenty euros",
        samples.PDF_PAGES[1],
        2,
        "",
    ),
    "handbook.docx": (
        samples.docx_bytes,
        "unused days carried next year",
        "Up to five unused days may be carried into the next year.",
        0,
        "# Employee Handbook\n# Leave\n## Carry over",
    ),
    "review.pptx": (
        samples.pptx_bytes,
        "warehouse Lyon opens March",
        "The new warehouse in Lyon opens in March.",
        2,
        "# Warehouse",
    ),
    "prices.xlsx": (
        samples.xlsx_bytes,
        "organic green tea leaves Yunnan",
        "Green tea | 4.5 | Organic leaves from Yunnan province",
        0,
        "# Prices",
    ),
    "stories.epub": (
        samples.epub_bytes,
        "lighthouse keeper rowed dawn",
        "The lighthouse keeper rowed out at dawn.",
        0,
        "# The Harbour",
    ),
    "garden.md": (
        MD.encode,
        "prune climbing roses frost",
        "Prune the climbing roses",
        0,
        "# Garden\n## Roses",
    ),
    "kitchen.html": (
        HTML.encode,
        "clean convection oven Friday",
        "Clean the convection oven every Friday evening.",
        0,
        "# Kitchen\n## Ovens",
    ),
    "cities.csv": (CSV.encode, "ferry Nesodden half hour", "Oslo,The ferry to Nesodden", 0, ""),
    "sky.txt": (TXT.encode, "observatory dome clear nights", TXT.strip(), 0, ""),
}


@pytest.fixture(scope="module")
def pipes(http: httpx.Client) -> dict[str, str]:
    """Doc ingestion preserving the server-filled ``page_number`` and ``heading_path``, a search
    and an ingestion pipeline over the same collection without them."""
    collection = unique("formats")
    keep = [
        {
            "name": f"keep_{field}",
            "action": "PRESERVE",
            "inputField": field,
            "outputField": field,
            "fieldType": kind,
        }
        for field, kind in (("page_number", "Int32"), ("heading_path", "VarChar"))
    ]
    ingestion = create(
        http,
        {
            "name": unique("formats_ing"),
            "type": "INGESTION",
            "projectId": PROJECT,
            "clusterId": CLUSTER,
            "collectionName": collection,
            "functions": [
                {"name": "index_doc", "action": "INDEX_DOC", "chunkSize": 60},
                *keep,
            ],
        },
    )
    return {
        "ingestion": ingestion["pipelineId"],
        "search": create_search(http, collection, "SEARCH_DOC_CHUNK"),
    }


def _upload(http: httpx.Client, pipeline_id: str, name: str, raw: bytes, data: Any) -> Any:
    return http.post(
        f"/v1/pipelines/{pipeline_id}/run_ingestion_with_file",
        files={"file": (name, raw, "application/octet-stream")},
        data={"data": json.dumps(data)},
    )


@pytest.mark.parametrize("transport", ["upload", "doc_url"])
@pytest.mark.parametrize("name", list(CASES))
def test_each_format_is_ingested_and_found(
    http: httpx.Client, server: LocalServer, pipes: dict[str, str], name: str, transport: str
) -> None:
    build, query, sentence, page, headings = CASES[name]
    doc_name = f"{transport}-{name}"
    if transport == "upload":
        answer = _upload(http, pipes["ingestion"], doc_name, build(), {})
    else:
        path = server.data_dir / "formats" / doc_name
        path.parent.mkdir(exist_ok=True)
        path.write_bytes(build())
        answer = http.post(
            f"/v1/pipelines/{pipes['ingestion']}/run", json={"data": {"doc_url": path.as_uri()}}
        )
    data = ok(answer)
    assert data["doc_name"] == doc_name and data["num_chunks"] >= 1
    hits = ok(
        search(
            http,
            pipes["search"],
            query,
            limit=1,
            output_fields=["page_number", "heading_path"],
            filter_expr=f'doc_name == "{doc_name}"',
        )
    )["result"]
    (top,) = hits
    assert sentence in top["chunk_text"]
    assert top["chunk_text"].startswith(headings + "\n" if headings else "")
    assert (top["page_number"], top["heading_path"]) == (page, headings)


def test_preserved_chunk_fields_given_in_data_win(
    http: httpx.Client, pipes: dict[str, str]
) -> None:
    data = {"page_number": 99, "heading_path": "chosen by the caller"}
    ok(_upload(http, pipes["ingestion"], "given.pdf", samples.pdf_bytes(), data))
    hits = ok(
        search(
            http,
            pipes["search"],
            "invoices finance",
            limit=5,
            output_fields=["page_number", "heading_path"],
            filter_expr='doc_name == "given.pdf"',
        )
    )["result"]
    assert len(hits) == 2
    assert {(h["page_number"], h["heading_path"]) for h in hits} == {(99, "chosen by the caller")}


#: (file name, its bytes or a builder of them, what the 400 message says)
REFUSED: list[tuple[str, bytes | Callable[[], bytes], str]] = [
    (
        "minutes.doc",
        b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 64,
        "convert 'minutes.doc' to .docx",
    ),
    ("budget.xls", b"\xd0\xcf\x11\xe0", "convert 'budget.xls' to .xlsx"),
    ("talk.ppt", b"\xd0\xcf\x11\xe0", "convert 'talk.ppt' to .pptx"),
    ("broken.docx", b"PK\x03\x04 not really", "Cannot parse 'broken.docx' as DOCX"),
    ("broken.pdf", b"%PDF-1.4\n%%EOF", "Cannot parse 'broken.pdf' as PDF"),
    ("broken.epub", samples.many_members(2), "Cannot parse 'broken.epub' as EPUB"),
    ("bomb.xlsx", lambda: samples.zip_bomb("xl/workbook.xml", 129 << 20), "expands to"),
]


@pytest.mark.parametrize(("name", "raw", "message"), REFUSED, ids=[case[0] for case in REFUSED])
def test_refused_documents_get_the_400_envelope(
    http: httpx.Client,
    pipes: dict[str, str],
    name: str,
    raw: bytes | Callable[[], bytes],
    message: str,
) -> None:
    answer = _upload(http, pipes["ingestion"], name, raw() if callable(raw) else raw, {})
    assert answer.status_code == 400, answer.text
    body = answer.json()
    assert body["code"] == 80000 and message in body["message"], body


def test_a_legacy_doc_url_is_refused_before_any_download(
    http: httpx.Client, pipes: dict[str, str]
) -> None:
    """The address is never contacted (the test blocks the network): the name decides."""
    answer = http.post(
        f"/v1/pipelines/{pipes['ingestion']}/run",
        json={"data": {"doc_url": "https://bucket.invalid/minutes.ppt?sig=1"}},
    )
    assert answer.status_code == 400
    assert "convert 'minutes.ppt' to .pptx" in answer.json()["message"]
