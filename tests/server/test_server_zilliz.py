"""Raw-HTTP walk through the Zilliz Pipelines contract against the local server."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from langchain_zilliz_bailian.server import LocalServer
from langchain_zilliz_bailian.server.fetch import FetchPolicy
from tests.server.conftest import (
    CLUSTER,
    PROJECT,
    make_doc_pipelines,
    make_text_pipelines,
    ok,
    search,
    set_fetch_policy,
    unique,
)

TEXTS = [
    "Milvus Lite keeps its data in a local folder on disk.",
    "Zilliz Cloud is a fully managed vector database service.",
    "A collection holds entities with a fixed set of fields.",
]

GUIDE_MD = """# Cluster guide

Clusters run on compute units. Pick a size for your workload.

## Collection

A collection collects data in a table with a fixed number of columns and rows.
Each column is a field and each row is an entity.

### Fields

The primary key field holds unique values across the entire collection.
Vector fields store embeddings for similarity search.
"""

NOTES_HTML = """<html><head><title>t</title><style>p{}</style></head><body>
<h1>Release notes</h1><p>Version two adds hybrid search over sparse vectors.</p>
<h2>Upgrade</h2><p>Back up the data folder before upgrading the server binary.</p>
</body></html>"""


@pytest.fixture(scope="module")
def text_pipes(http: httpx.Client) -> dict[str, str]:
    return make_text_pipelines(http, unique("texts"))


@pytest.fixture(scope="module")
def ingested(http: httpx.Client, text_pipes: dict[str, str]) -> dict[str, Any]:
    r = http.post(
        f"/v1/pipelines/{text_pipes['ingestion']}/run",
        json={"data": {"text_list": TEXTS[:2], "year": 2023, "source": "docs"}},
    )
    first = ok(r)
    second = ok(
        http.post(
            f"/v1/pipelines/{text_pipes['ingestion']}/run",
            json={"data": {"text_list": TEXTS[2:], "year": 2024, "source": "wiki"}},
        )
    )
    return {"first": first, "second": second, "raw": r.text}


# -- create / describe / list / drop ------------------------------------------------------------


def test_describe_returns_documented_pipeline_object(
    http: httpx.Client, text_pipes: dict[str, str]
) -> None:
    ing = ok(http.get(f"/v1/pipelines/{text_pipes['ingestion']}"))
    assert ing["pipelineId"].startswith("pipe-") and len(ing["pipelineId"]) == 27
    int(ing["pipelineId"][5:], 16)
    assert ing["type"] == "INGESTION" and ing["status"] == "SERVING"
    assert isinstance(ing["createTimestamp"], int) and ing["createTimestamp"] > 1.7e12
    assert ing["description"] == "texts"
    assert ing["clusterId"] == CLUSTER and ing["collectionName"].startswith("texts_")
    index_fn, *preserve = ing["functions"]
    assert index_fn["action"] == "INDEX_TEXT" and index_fn["inputFields"] == ["text_list"]
    assert index_fn["language"] == "ENGLISH" and index_fn["embedding"] == "zilliz/bge-base-en-v1.5"
    assert {p["inputField"]: p["fieldType"] for p in preserve} == {
        "year": "Int16",
        "source": "VarChar",
    }
    assert all(p["outputField"] == p["inputField"] for p in preserve)
    assert "embedding" in ing["totalUsage"]

    srch = ok(http.get(f"/v1/pipelines/{text_pipes['search']}"))
    assert srch["type"] == "SEARCH" and "clusterId" not in srch
    fn = srch["functions"][0]
    assert fn["action"] == "SEARCH_TEXT" and fn["inputFields"] == ["query_text"]
    assert fn["clusterId"] == CLUSTER and fn["collectionName"] == ing["collectionName"]
    assert set(srch["totalUsage"]) == {"embedding", "rerank"}

    dele = ok(http.get(f"/v1/pipelines/{text_pipes['deletion']}"))
    assert dele["functions"][0]["action"] == "PURGE_BY_EXPRESSION"
    assert dele["collectionName"] == ing["collectionName"]


def test_list_needs_project_id_and_returns_array(
    http: httpx.Client, text_pipes: dict[str, str]
) -> None:
    r = http.get("/v1/pipelines")
    assert r.status_code == 400 and r.json()["code"] == 80000
    listed = ok(http.get("/v1/pipelines", params={"projectId": PROJECT}))
    assert isinstance(listed, list)
    assert set(text_pipes.values()) <= {p["pipelineId"] for p in listed}
    assert ok(http.get("/v1/pipelines", params={"projectId": "proj-other"})) == []


@pytest.mark.parametrize(
    ("mutate", "fragment"),
    [
        (lambda b: b.update(name="ab"), "name"),
        (lambda b: b.update(name="bad-name"), "name"),
        (lambda b: b.pop("projectId"), "projectId"),
        (lambda b: b.pop("clusterId"), "clusterId"),
        (lambda b: b.update(type="OTHER"), "type"),
        (
            lambda b: b["functions"].append(dict(b["functions"][0], name="second_idx")),
            "exactly one",
        ),
        (lambda b: b["functions"].append(_preserve("text_list", "VarChar")), "reserved"),
        (lambda b: b["functions"].append(_preserve("year", "Int128")), "fieldType"),
        (
            lambda b: b["functions"].append(dict(_preserve("year", "Int16"), outputField="yr")),
            "outputField",
        ),
        (
            lambda b: b["functions"][0].update(
                language="CHINESE", embedding="zilliz/bge-base-en-v1.5"
            ),
            "CHINESE",
        ),
        (lambda b: b["functions"][0].update(embedding="acme/unknown"), "embedding"),
        (
            lambda b: b["functions"].extend(_preserve(f"f{i}", "Int8") for i in range(51)),
            "50",
        ),
    ],
)
def test_create_ingestion_validation(http: httpx.Client, mutate: Any, fragment: str) -> None:
    body = {
        "name": unique("bad"),
        "type": "INGESTION",
        "projectId": PROJECT,
        "clusterId": CLUSTER,
        "collectionName": unique("never"),
        "functions": [{"name": "idx_text", "action": "INDEX_TEXT", "language": "ENGLISH"}],
    }
    mutate(body)
    r = http.post("/v1/pipelines", json=body)
    assert r.status_code == 400, r.text
    assert r.json()["code"] == 80000
    assert fragment in r.json()["message"]


def _preserve(field: str, field_type: str) -> dict[str, str]:
    return {
        "name": f"keep_{field}",
        "action": "PRESERVE",
        "inputField": field,
        "outputField": field,
        "fieldType": field_type,
    }


def test_create_search_and_doc_validation(http: httpx.Client, text_pipes: dict[str, str]) -> None:
    collection = ok(http.get(f"/v1/pipelines/{text_pipes['ingestion']}"))["collectionName"]
    # clusterId/collectionName at top level only: rejected (they belong inside the function).
    r = http.post(
        "/v1/pipelines",
        json={
            "name": unique("s"),
            "type": "SEARCH",
            "projectId": PROJECT,
            "clusterId": CLUSTER,
            "collectionName": collection,
            "functions": [{"name": "search_x", "action": "SEARCH_TEXT"}],
        },
    )
    assert r.status_code == 400 and "inside the function" in r.json()["message"]
    # SEARCH_DOC_CHUNK over a text collection, and an unknown collection.
    for action, coll in (("SEARCH_DOC_CHUNK", collection), ("SEARCH_TEXT", unique("missing"))):
        fn = {"name": "search_x", "action": action, "clusterId": CLUSTER, "collectionName": coll}
        r = http.post(
            "/v1/pipelines",
            json={"name": unique("s"), "type": "SEARCH", "projectId": PROJECT, "functions": [fn]},
        )
        assert r.status_code == 400 and r.json()["code"] == 80000
    # chunkSize outside the model's 20-500 range.
    r = http.post(
        "/v1/pipelines",
        json={
            "name": unique("d"),
            "type": "INGESTION",
            "projectId": PROJECT,
            "clusterId": CLUSTER,
            "collectionName": unique("docs"),
            "functions": [{"name": "idx_doc", "action": "INDEX_DOC", "chunkSize": 10}],
        },
    )
    assert r.status_code == 400 and "chunkSize" in r.json()["message"]
    # Reusing a collection with a different preserved schema is refused.
    r = http.post(
        "/v1/pipelines",
        json={
            "name": unique("t"),
            "type": "INGESTION",
            "projectId": PROJECT,
            "clusterId": CLUSTER,
            "collectionName": collection,
            "functions": [{"name": "idx_text", "action": "INDEX_TEXT"}],
        },
    )
    assert r.status_code == 400 and "incompatible" in r.json()["message"]


# -- auth and unknown pipelines -------------------------------------------------------------------


def test_bad_or_missing_token_is_401_80001(server: LocalServer, text_pipes: dict[str, str]) -> None:
    url = f"{server.url}/v1/pipelines/{text_pipes['search']}"
    for headers in ({"Authorization": "Bearer wrong"}, {}, {"Authorization": server.api_key}):
        r = httpx.get(url, headers=headers)
        assert r.status_code == 401
        assert r.json() == {"code": 80001, "message": "The token is illegal."}


def test_unknown_pipeline_is_404_with_code(http: httpx.Client) -> None:
    for r in (
        http.get("/v1/pipelines/pipe-00000000000000000000aa"),
        http.delete("/v1/pipelines/pipe-00000000000000000000aa"),
        http.post("/v1/pipelines/pipe-00000000000000000000aa/run", json={"data": {}}),
    ):
        assert r.status_code == 404
        body = r.json()
        assert body["code"] == 404 and "does not exist" in body["message"] and "data" not in body


# -- text ingestion, search, deletion -------------------------------------------------------------


def test_text_ingestion_returns_int64_ids_above_2_53(ingested: dict[str, Any]) -> None:
    first = ingested["first"]
    assert first["num_entities"] == 2 and len(first["ids"]) == 2
    assert all(isinstance(i, int) and i > 2**53 for i in first["ids"])
    # Bare JSON numbers on the wire (not strings), exactly representable only as int64.
    for i in first["ids"]:
        assert f"{i}," in ingested["raw"] or f"{i}]" in ingested["raw"]
    assert first["usage"]["embedding"] > 0
    assert len(set(first["ids"] + ingested["second"]["ids"])) == 3


def test_search_default_fields_output_fields_and_filter(
    http: httpx.Client, text_pipes: dict[str, str], ingested: dict[str, Any]
) -> None:
    data = ok(search(http, text_pipes["search"], "Where does Milvus Lite keep its data?"))
    hits = data["result"]
    assert hits[0]["text"] == TEXTS[0]
    assert set(hits[0]) == {"id", "distance", "text"}
    assert isinstance(hits[0]["id"], int) and isinstance(hits[0]["distance"], float)
    assert hits[0]["id"] == ingested["first"]["ids"][0]
    assert data["usage"] == {"embedding": data["usage"]["embedding"], "rerank": 0}
    assert data["usage"]["embedding"] > 0

    named = ok(search(http, text_pipes["search"], "vector database", output_fields=["year"]))
    assert all(set(h) == {"id", "distance", "text", "year"} for h in named["result"])

    only_2024 = ok(search(http, text_pipes["search"], "data", filter_expr="year == 2024"))
    assert [h["text"] for h in only_2024["result"]] == [TEXTS[2]]
    by_source = ok(
        search(
            http,
            text_pipes["search"],
            "data",
            filter_expr='source == "docs" and year in [2023, 2025]',
            output_fields=["source", "year"],
        )
    )
    assert {h["source"] for h in by_source["result"]} == {"docs"}
    assert len(by_source["result"]) == 2


def test_search_offset_pages_through_results(
    http: httpx.Client, text_pipes: dict[str, str], ingested: Any
) -> None:
    full = ok(search(http, text_pipes["search"], "collection data database", limit=3))["result"]
    page = ok(search(http, text_pipes["search"], "collection data database", limit=1, offset=1))
    # Hits at equal distance have no defined order: the second hit is one of those tied with it.
    tied = {h["id"] for h in full if h["distance"] == full[1]["distance"]}
    assert len(page["result"]) == 1
    assert page["result"][0]["distance"] == full[1]["distance"]
    assert page["result"][0]["id"] in tied


@pytest.mark.parametrize(
    ("params", "fragment"),
    [
        ({"limit": 0}, "limit"),
        ({"limit": 501}, "limit"),
        ({"limit": 500, "offset": 525}, "1024"),
        ({"limit": 10, "offset": -1}, "offset"),
        ({"outputFields": ["nope"]}, "nope"),
        ({"filter": "year >>> 3"}, "filter"),
        ({"filter": "no_such_field == 1"}, "no_such_field"),
    ],
)
def test_search_parameter_errors_have_clean_envelopes(
    http: httpx.Client, text_pipes: dict[str, str], params: dict[str, Any], fragment: str
) -> None:
    body = {"data": {"query_text": "x"}, "params": {"limit": 5, "offset": 0, **params}}
    r = http.post(f"/v1/pipelines/{text_pipes['search']}/run", json=body)
    assert r.status_code == 400
    err = r.json()
    assert err["code"] == 80000 and fragment in err["message"]
    assert "Traceback" not in err["message"]


@pytest.mark.parametrize(
    ("data", "fragment"),
    [
        ({"text_list": ["a"], "year": "2023", "source": "s"}, "Int16"),
        ({"text_list": ["a"], "year": 70000, "source": "s"}, "Int16"),
        ({"text_list": ["a"], "year": 2023, "source": "x" * 4001}, "4000"),
        ({"text_list": ["a"], "year": 2023}, "missing"),
        ({"text_list": ["a"], "year": 2023, "source": "s", "doc_url": "x"}, "reserved"),
        ({"text_list": ["a"], "year": 2023, "source": "s", "extra": 1}, "Unknown field"),
        ({"text_list": [], "year": 2023, "source": "s"}, "text_list"),
    ],
)
def test_preserved_fields_are_validated_against_field_type(
    http: httpx.Client, text_pipes: dict[str, str], data: dict[str, Any], fragment: str
) -> None:
    r = http.post(f"/v1/pipelines/{text_pipes['ingestion']}/run", json={"data": data})
    assert r.status_code == 400 and r.json()["code"] == 80000
    assert fragment in r.json()["message"]


def test_delete_by_expression_and_singular_run_alias(http: httpx.Client) -> None:
    pipes = make_text_pipelines(http, unique("texts_del"))
    ids = ok(
        http.post(
            f"/v1/pipeline/{pipes['ingestion']}/run",  # singular alias
            json={"data": {"text_list": TEXTS, "year": 2020, "source": "a"}},
        )
    )["ids"]
    r = http.post(
        f"/v1/pipelines/{pipes['deletion']}/run",
        json={"data": {"expression": f"id in [{ids[0]}, {ids[1]}]"}},
    )
    assert ok(r) == {"num_deleted_entities": 2}
    left = ok(search(http, pipes["search"], "Milvus Zilliz collection", limit=10))["result"]
    assert [h["id"] for h in left] == [ids[2]]
    bad = http.post(f"/v1/pipelines/{pipes['deletion']}/run", json={"data": {"expression": "id >"}})
    assert bad.status_code == 400 and bad.json()["code"] == 80000
    assert ok(
        http.post(f"/v1/pipelines/{pipes['deletion']}/run", json={"data": {"expression": "id < 0"}})
    ) == {"num_deleted_entities": 0}


def test_drop_keeps_collection_and_usage_accumulates(http: httpx.Client) -> None:
    pipes = make_text_pipelines(http, unique("texts_drop"))
    ok(
        http.post(
            f"/v1/pipelines/{pipes['ingestion']}/run",
            json={"data": {"text_list": TEXTS, "year": 1, "source": "s"}},
        )
    )
    ok(search(http, pipes["search"], "vector database"))
    usage = ok(http.get(f"/v1/pipelines/{pipes['search']}"))["totalUsage"]
    assert usage["embedding"] > 0
    dropped = ok(http.delete(f"/v1/pipelines/{pipes['ingestion']}"))
    assert dropped["pipelineId"] == pipes["ingestion"]
    assert http.get(f"/v1/pipelines/{pipes['ingestion']}").status_code == 404
    assert len(ok(search(http, pipes["search"], "vector database"))["result"]) == 3


# -- documents ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def doc_pipes(http: httpx.Client) -> dict[str, str]:
    return make_doc_pipelines(http, unique("docs"))


def test_doc_ingestion_from_file_url_under_data_dir(
    http: httpx.Client, server: LocalServer, doc_pipes: dict[str, str], tmp_path: Path
) -> None:
    path = server.data_dir / "uploads" / "cluster guide.md"
    path.parent.mkdir(exist_ok=True)
    path.write_text(GUIDE_MD, encoding="utf-8")
    r = http.post(
        f"/v1/pipelines/{doc_pipes['ingestion']}/run",
        json={"data": {"doc_url": path.as_uri(), "year": 2023}},
    )
    data = ok(r)
    assert data["doc_name"] == "cluster guide.md"
    assert data["num_chunks"] >= 3 and data["usage"]["embedding"] > 0
    hits = ok(search(http, doc_pipes["search"], "primary key unique values", limit=3))["result"]
    top = hits[0]
    assert set(top) == {"id", "distance", "chunk_text", "chunk_id", "doc_name"}
    assert top["doc_name"] == "cluster guide.md" and isinstance(top["chunk_id"], int)
    # Header path prefixed to the chunk text (Z29).
    assert top["chunk_text"].startswith("# Cluster guide\n## Collection\n### Fields\n")
    assert "primary key" in top["chunk_text"]

    outside = tmp_path / "secret.md"
    outside.write_text("# no", encoding="utf-8")
    r = http.post(
        f"/v1/pipelines/{doc_pipes['ingestion']}/run",
        json={"data": {"doc_url": outside.as_uri(), "year": 2023}},
    )
    assert r.status_code == 400 and "data directory" in r.json()["message"]


def test_doc_ingestion_multipart_and_delete_by_doc_name(
    http: httpx.Client, doc_pipes: dict[str, str]
) -> None:
    run = f"/v1/pipelines/{doc_pipes['ingestion']}/run_ingestion_with_file"
    r = http.post(
        run,
        files={"file": ("notes.html", NOTES_HTML.encode(), "text/html")},
        data={"data": json.dumps({"year": 2024})},
    )
    html = ok(r)
    assert html["doc_name"] == "notes.html" and html["num_chunks"] == 2
    txt = ok(
        http.post(
            run,
            files={
                "file": (
                    "plain.txt",
                    b"Backups are nightly.\n\nRestores take an hour.",
                    "text/plain",
                )
            },
            data={"data": '{"year": 2024}'},
        )
    )
    assert txt["doc_name"] == "plain.txt"
    # Some clients send ``data`` as a JSON file part instead of a form field.
    as_file = ok(
        http.post(
            run,
            files={
                "file": ("second.txt", b"Snapshots are hourly.", "text/plain"),
                "data": ("data.json", b'{"year": 2019}', "application/json"),
            },
        )
    )
    assert as_file == {"doc_name": "second.txt", "num_chunks": 1, "usage": as_file["usage"]}
    hits = ok(
        search(
            http,
            doc_pipes["search"],
            "upgrade backup data folder",
            filter_expr="year == 2024",
            output_fields=["year"],
        )
    )["result"]
    assert {h["doc_name"] for h in hits} <= {"notes.html", "plain.txt"}
    assert hits[0]["chunk_text"].startswith("# Release notes\n## Upgrade\n")
    assert all(h["year"] == 2024 for h in hits)

    bad = http.post(
        run, files={"file": ("x.pdf", b"%PDF-1.4", "application/pdf")}, data={"data": '{"year": 1}'}
    )
    assert bad.status_code == 400 and ".pdf" in bad.json()["message"]
    bad = http.post(
        run, files={"file": ("x.txt", b"hello there", "text/plain")}, data={"data": '{"year": "1"}'}
    )
    assert bad.status_code == 400 and "Int16" in bad.json()["message"]

    purge = f"/v1/pipelines/{doc_pipes['deletion']}/run"
    assert ok(http.post(purge, json={"data": {"doc_name": "notes.html"}})) == {
        "num_deleted_chunks": 2
    }
    assert ok(http.post(purge, json={"data": {"doc_name": "never-ingested.md"}})) == {
        "num_deleted_chunks": 0
    }
    hits = ok(
        search(
            http,
            doc_pipes["search"],
            "upgrade server binary",
            filter_expr='doc_name == "notes.html"',
        )
    )
    assert hits["result"] == []


def test_doc_ingestion_downloads_http_doc_url(
    server: LocalServer,
    http: httpx.Client,
    doc_pipes: dict[str, str],
    static_http: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The file server is on loopback: allowed explicitly (the default refuses it).
    set_fetch_policy(server, monkeypatch, FetchPolicy(allow_private=True))
    url = f"{static_http}/faq.md?X-Goog-Signature=abc&X-Goog-Expires=3600"
    data = ok(
        http.post(
            f"/v1/pipelines/{doc_pipes['ingestion']}/run",
            json={"data": {"doc_url": url, "year": 2022}},
        )
    )
    assert data == {"doc_name": "faq.md", "num_chunks": 1, "usage": data["usage"]}
    missing = http.post(
        f"/v1/pipelines/{doc_pipes['ingestion']}/run",
        json={"data": {"doc_url": f"{static_http}/nope.md", "year": 1}},
    )
    assert missing.status_code == 400 and "404" in missing.json()["message"]
