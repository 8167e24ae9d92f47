"""No injection through ids, names or filter values (issue 10, item 2).

The probe's payloads and variants (quotes, backslashes, ``]``, ``or``, unicode look-alikes) are
sent to every route that takes an id. Each must get the route's documented 4xx envelope, and a
snapshot of everything stored (pipelines of every project, rows, a session) must not change.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from langchain_zilliz_bailian.server import LocalServer
from langchain_zilliz_bailian.server.ids import is_valid
from tests.server.conftest import (
    PROJECT,
    create,
    make_doc_pipelines,
    make_text_pipelines,
    ok,
    search,
    unique,
)

OTHER_PROJECT = "proj-victim0000000000"
APP = "/api/v1/apps/0123456789abcdef0123456789abcdef/completion"
SECRET = "the door code is 4321"  # look for "is 4321": a random request id may hold "4321"

#: The probe's payloads, then variants. None contains "/" (it would change the route).
PAYLOADS = [
    "x'] or kind in ['pipeline",
    "x'] or (kind == 'session' and body like '%door code%') or key in ['z",
    'x"] or kind in ["pipeline',
    "pipe-0123456789abcdef012345' or 'a' == 'a",
    'pipe-0123456789abcdef012345" or "a" == "a',
    "pipe-0123456789abcdef01234\\",
    "pipe-0123456789abcdef01234\\'",
    "pipe-0123456789abcdef01234]",
    "pipe-0123456789abcdef012345 or true",
    "pipe-0123456789abcdef012345\n",
    "pipe-0123456789ABCDEF012345",
    "pipe-٠١٢٣٤٥٦٧٨٩abcdef012345",
    "ｐｉｐｅ-0123456789abcdef012345",
    "pipe-0123456789abcdef0123456",
    "%",
    "*",
]


def _client(srv: LocalServer) -> httpx.Client:
    headers = {"Authorization": f"Bearer {srv.api_key}"}
    return httpx.Client(base_url=srv.url, headers=headers, timeout=30)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """A fresh server holding two projects' pipelines, texts, a document and a secret session."""
    data_dir: Path = tmp_path_factory.mktemp("zb-injection")
    with (
        LocalServer(
            data_dir=data_dir, stream_interval_ms=0, embedding_fallback=True, any_app_id=True
        ) as srv,
        _client(srv) as http,
    ):
        mine = make_text_pipelines(http, "mine")
        docs = make_doc_pipelines(http, "mine_docs")
        theirs = create(
            http,
            {
                "name": "victim_ingestion",
                "type": "INGESTION",
                "projectId": OTHER_PROJECT,
                "clusterId": "in03-0123456789abcdef",
                "collectionName": "theirs",
                "functions": [{"name": "index_text", "action": "INDEX_TEXT"}],
            },
        )["pipelineId"]
        run = f"/v1/pipelines/{mine['ingestion']}/run"
        ok(
            http.post(
                run, json={"data": {"text_list": ["alpha", "beta"], "year": 1, "source": "a"}}
            )
        )
        ok(http.post(f"/v1/pipelines/{theirs}/run", json={"data": {"text_list": ["gamma"]}}))
        upload = f"/v1/pipelines/{docs['ingestion']}/run_ingestion_with_file"
        ok(
            http.post(
                upload,
                files={"file": ("notes.md", b"# Notes\n\nBackups run nightly.", "text/markdown")},
                data={"data": json.dumps({"year": 2024})},
            )
        )
        first = http.post(APP, json={"input": {"prompt": f"Remember: {SECRET}."}}).json()
        yield {
            "http": http,
            "mine": mine,
            "docs": docs,
            "theirs": theirs,
            "session": first["output"]["session_id"],
        }


def snapshot(world: dict[str, Any]) -> dict[str, Any]:
    """Everything the payloads could touch, read back over HTTP."""
    http: httpx.Client = world["http"]
    listed = {
        project: sorted(
            p["pipelineId"] for p in ok(http.get("/v1/pipelines", params={"projectId": project}))
        )
        for project in (PROJECT, OTHER_PROJECT)
    }
    rows = sorted(
        h["text"]
        for h in ok(search(http, world["mine"]["search"], "alpha beta", limit=50))["result"]
    )
    chunks = len(ok(search(http, world["docs"]["search"], "backups", limit=50))["result"])
    return {"pipelines": listed, "rows": rows, "chunks": chunks}


def _zilliz_400(resp: httpx.Response, fragment: str) -> None:
    assert resp.status_code == 400, resp.text
    body = resp.json()
    assert set(body) == {"code", "message"} and body["code"] == 80000, body
    assert fragment in body["message"], body


def _bailian_400(resp: httpx.Response) -> dict[str, Any]:
    assert resp.status_code == 400, resp.text
    body: dict[str, Any] = resp.json()
    assert set(body) == {"code", "message", "request_id"} and body["code"] == "InvalidParameter"
    assert body["request_id"] == resp.headers["x-request-id"]
    return body


@pytest.mark.parametrize("payload", PAYLOADS)
def test_malformed_pipeline_ids_are_400_on_every_route_and_change_nothing(
    world: dict[str, Any], payload: str
) -> None:
    http: httpx.Client = world["http"]
    before = snapshot(world)
    path = "/v1/pipelines/" + quote(payload, safe="")
    alias = "/v1/pipeline/" + quote(payload, safe="")
    upload = {"file": ("x.md", b"# x\n\nhello", "text/markdown")}
    responses = [
        http.get(path),
        http.delete(path),
        http.post(path + "/run", json={"data": {"text_list": ["x"]}}),
        http.post(alias + "/run", json={"data": {"expression": "id > 0"}}),
        http.post(path + "/run_ingestion_with_file", files=upload),
        http.post(alias + "/run_ingestion_with_file", files=upload),
    ]
    for resp in responses:
        _zilliz_400(resp, "Invalid pipeline id")
    assert snapshot(world) == before


# Surrounding whitespace is stripped from body and query values (Z13), so "…\n" is excluded here.
PROJECT_PAYLOADS = [
    p
    for p in [q.replace("pipe-", "proj-") for q in PAYLOADS] + ["p"]
    if p == p.strip() and not is_valid("project", p)
]


@pytest.mark.parametrize("payload", PROJECT_PAYLOADS)
def test_malformed_project_ids_are_400_on_list_and_create(
    world: dict[str, Any], payload: str
) -> None:
    http: httpx.Client = world["http"]
    before = snapshot(world)
    _zilliz_400(http.get("/v1/pipelines", params={"projectId": payload}), "Invalid project id")
    body = {
        "name": unique("bad_project"),
        "type": "INGESTION",
        "projectId": payload,
        "clusterId": "in03-0123456789abcdef",
        "collectionName": "mine",
        "functions": [{"name": "index_text", "action": "INDEX_TEXT"}],
    }
    _zilliz_400(http.post("/v1/pipelines", json=body), "Invalid project id")
    assert snapshot(world) == before


@pytest.mark.parametrize(
    ("field", "payload", "fragment"),
    [
        ("clusterId", "in03-x'] or kind in ['pipeline", "Invalid cluster id"),
        ("clusterId", 'in03-x"] or true or key in ["', "Invalid cluster id"),
        ("clusterId", "in03-abc\\", "Invalid cluster id"),
        ("collectionName", "zb_meta", "collectionName"),
        ("collectionName", "mine'] or kind in ['pipeline", "collectionName"),
        ("collectionName", "ｍｉｎｅ", "collectionName"),
    ],
)
def test_malformed_cluster_ids_and_collection_names_are_400(
    world: dict[str, Any], field: str, payload: str, fragment: str
) -> None:
    http: httpx.Client = world["http"]
    before = snapshot(world)
    body: dict[str, Any] = {
        "name": unique("bad_field"),
        "type": "SEARCH",
        "projectId": PROJECT,
        "functions": [
            {
                "name": "search_it",
                "action": "SEARCH_TEXT",
                "clusterId": "in03-0123456789abcdef",
                "collectionName": "mine",
            }
        ],
    }
    body["functions"][0][field] = payload
    _zilliz_400(http.post("/v1/pipelines", json=body), fragment)
    deletion = {
        "name": unique("bad_field"),
        "type": "DELETION",
        "projectId": PROJECT,
        "clusterId": "in03-0123456789abcdef",
        "collectionName": "mine",
        "functions": [{"name": "purge", "action": "PURGE_BY_EXPRESSION"}],
        field: payload,
    }
    _zilliz_400(http.post("/v1/pipelines", json=deletion), fragment)
    assert snapshot(world) == before


@pytest.mark.parametrize(
    "doc_name",
    [
        'notes.md" or doc_name != "',
        "notes.md' or doc_name != '",
        'x" or true or doc_name == "',
        "notes.md\\",
        'notes.md\\" or chunk_id >= 0 or doc_name == \\"',
        "notes.md]",
        "ｎｏｔｅｓ.md",
    ],
)
def test_doc_names_are_data_never_expression(world: dict[str, Any], doc_name: str) -> None:
    http: httpx.Client = world["http"]
    before = snapshot(world)
    purge = f"/v1/pipelines/{world['docs']['deletion']}/run"
    assert ok(http.post(purge, json={"data": {"doc_name": doc_name}})) == {"num_deleted_chunks": 0}
    assert snapshot(world) == before


def test_a_doc_named_with_quotes_and_backslashes_is_deleted_exactly(
    world: dict[str, Any],
) -> None:
    http: httpx.Client = world["http"]
    before = snapshot(world)
    # (httpx percent-encodes '"' in multipart file names; the literal unit tests cover it.)
    name = "q'uo'te\\back] or [x]' or doc_name != '.md"
    upload = f"/v1/pipelines/{world['docs']['ingestion']}/run_ingestion_with_file"
    made = ok(
        http.post(
            upload,
            files={"file": (name, b"# Odd\n\nOdd names survive.", "text/markdown")},
            data={"data": json.dumps({"year": 2020})},
        )
    )
    assert made["doc_name"] == name
    hits = ok(search(http, world["docs"]["search"], "odd names", filter_expr="year == 2020"))
    assert {h["doc_name"] for h in hits["result"]} == {name}
    purge = f"/v1/pipelines/{world['docs']['deletion']}/run"
    deleted = ok(http.post(purge, json={"data": {"doc_name": name}}))
    assert deleted == {"num_deleted_chunks": made["num_chunks"]}
    assert snapshot(world) == before


@pytest.mark.parametrize(
    ("expression", "fragment"),
    [
        ("kind in ['pipeline']", "Invalid expression"),
        ("key like 'pipeline:%'", "Invalid expression"),
        ("id > 0) or (true", "unbalanced"),
        ("id > 0 or (true", "unclosed"),
        ("id in [1, 2]]", "unbalanced"),
        ("id > 0 or text == 'unterminated", "unterminated"),
    ],
)
def test_user_expressions_stay_in_their_collection(
    world: dict[str, Any], expression: str, fragment: str
) -> None:
    http: httpx.Client = world["http"]
    before = snapshot(world)
    purge = f"/v1/pipelines/{world['mine']['deletion']}/run"
    _zilliz_400(http.post(purge, json={"data": {"expression": expression}}), fragment)
    _zilliz_400(search(http, world["mine"]["search"], "alpha", filter_expr=expression), "filter")
    assert snapshot(world) == before


def test_text_ids_must_be_int64_values(world: dict[str, Any]) -> None:
    http: httpx.Client = world["http"]
    before = snapshot(world)
    deletion = create(
        http,
        {
            "name": unique("purge_ids"),
            "type": "DELETION",
            "projectId": PROJECT,
            "clusterId": "in03-0123456789abcdef",
            "collectionName": "mine",
            "functions": [{"name": "purge_ids", "action": "PURGE_TEXT_INDEX"}],
        },
    )["pipelineId"]
    before["pipelines"][PROJECT] = sorted([*before["pipelines"][PROJECT], deletion])
    for bad in ["1] or id > [0", "1 or true", 1.5, [1, "2 or true"], 2**63]:
        _zilliz_400(
            http.post(f"/v1/pipelines/{deletion}/run", json={"data": {"id": bad}}), "data.id"
        )
    assert snapshot(world) == before


@pytest.mark.parametrize(
    "session_id",
    [p.replace("pipe-", "") for p in PAYLOADS if not re.fullmatch(r"pipe-[0-9A-Za-z_-]*", p)]
    + ["s" * 129, "sess 1", "sess/1", "sess\n", 7, ["x"]],
)
def test_malformed_session_ids_are_400_and_leak_nothing(
    world: dict[str, Any], session_id: Any
) -> None:
    http: httpx.Client = world["http"]
    before = snapshot(world)
    body = {"input": {"prompt": "What is the door code?", "session_id": session_id}}
    for headers in ({}, {"X-DashScope-SSE": "enable"}):
        resp = http.post(APP, json=body, headers=headers)
        assert resp.status_code == 400 and "is 4321" not in resp.text
        if not headers:
            assert "input.session_id" in _bailian_400(resp)["message"]
    assert snapshot(world) == before


def test_sessions_are_found_only_by_their_exact_id(world: dict[str, Any]) -> None:
    http: httpx.Client = world["http"]
    own = http.post(
        APP, json={"input": {"prompt": "What did I say?", "session_id": world["session"]}}
    )
    assert own.status_code == 200 and "is 4321" in own.text
    stranger = http.post(APP, json={"input": {"prompt": "What did I say?", "session_id": "f" * 32}})
    assert stranger.status_code == 200 and "is 4321" not in stranger.text


@pytest.mark.parametrize("payload", PAYLOADS)
def test_malformed_rag_pipeline_ids_are_400(world: dict[str, Any], payload: str) -> None:
    http: httpx.Client = world["http"]
    before = snapshot(world)
    rag = {"rag_options": {"pipeline_ids": [world["mine"]["search"], payload]}}
    resp = http.post(APP, json={"input": {"prompt": "alpha"}, "parameters": rag})
    assert "rag_options.pipeline_ids" in _bailian_400(resp)["message"]
    assert snapshot(world) == before


@pytest.mark.parametrize("payload", [p for p in PAYLOADS if not is_valid("memory", p)])
def test_malformed_app_ids_and_memory_ids_are_400(world: dict[str, Any], payload: str) -> None:
    http: httpx.Client = world["http"]
    before = snapshot(world)
    resp = http.post(APP, json={"input": {"prompt": "alpha", "memory_id": payload}})
    assert "input.memory_id" in _bailian_400(resp)["message"]
    app_path = "/api/v1/apps/" + quote(payload, safe="") + "/completion"
    resp = http.post(app_path, json={"input": {"prompt": "alpha"}})
    assert "app id" in _bailian_400(resp)["message"]
    assert snapshot(world) == before


@pytest.mark.parametrize(
    "value",
    ['a" or source != "', "a' or source != '", 'a\\" or true or source == \\"', "ａ"],
)
def test_rag_filter_values_are_literals(world: dict[str, Any], value: str) -> None:
    http: httpx.Client = world["http"]

    def retrieved(source: str) -> list[Any]:
        rag = {"pipeline_ids": [world["mine"]["search"]], "metadata_filter": {"source": source}}
        params = {"rag_options": rag, "has_thoughts": True}
        resp = http.post(APP, json={"input": {"prompt": "alpha"}, "parameters": params})
        assert resp.status_code == 200, resp.text
        found: list[Any] = json.loads(resp.json()["output"]["thoughts"][0]["observation"])
        return found

    assert retrieved(value) == []
    assert retrieved("a")
