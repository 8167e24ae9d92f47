"""Fixtures for the local compatible server: one server per test session, reached over real HTTP."""

from __future__ import annotations

import json
import os
import threading
import uuid
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from langchain_zilliz_bailian.server import LocalServer
from tests.fakes.openai_stub import KEY_VARIABLE, SECRET, StubModel
from tests.server.milvus_server import EXECUTABLE_VARIABLE, MilvusServer, find_executable

PROJECT = "proj-0123456789abcdef"
CLUSTER = "in03-0123456789abcdef"
#: Set to 1 by ``make test-milvus``: the ``server`` fixture then stores in a real Milvus server.
REAL_MILVUS_VARIABLE = "ZB_TEST_REAL_MILVUS"
#: Modules about the Milvus Lite data dir (crash, restart, durability): skipped on a real Milvus.
LITE_ONLY_MODULES = frozenset(
    {
        "test_server_crash.py",
        "test_server_durability.py",
        "test_server_restart.py",
        "test_server_sealing.py",
    }
)
#: Tests timed for Milvus Lite: on a Milvus server a session write starts with a Strong read,
#: which waits for the server's time tick (about 0.4 s on Milvus 2.3).
LITE_TIMED_TESTS = frozenset({"test_server_faults.py::test_latency"})


@pytest.fixture(scope="session")
def server_data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("zb-server")


@pytest.fixture(scope="session")
def milvus_uri(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real standalone Milvus server, started once per session (about a minute) and stopped."""
    executable = find_executable()
    if executable is None:
        pytest.skip(
            "milvus-server not found: install the test extra (milvus, Linux x86_64) or set "
            f"{EXECUTABLE_VARIABLE}"
        )
    with MilvusServer(executable, tmp_path_factory.mktemp("milvus-server")) as milvus:
        yield milvus.uri


def on_real_milvus() -> bool:
    """``make test-milvus``: the whole server suite runs on the real Milvus server."""
    return os.environ.get(REAL_MILVUS_VARIABLE) == "1"


@pytest.fixture(scope="session")
def server(server_data_dir: Path, request: pytest.FixtureRequest) -> Iterator[LocalServer]:
    uri = request.getfixturevalue("milvus_uri") if on_real_milvus() else None
    with LocalServer(
        data_dir=server_data_dir,
        stream_interval_ms=1,
        milvus_uri=uri,
        embedding_fallback=True,
        any_app_id=True,  # made-up app ids throughout the tests
    ) as srv:
        yield srv


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """On the real Milvus, skip what only concerns Milvus Lite's data dir."""
    if not on_real_milvus():
        return
    for item in items:
        module = Path(str(item.fspath)).name
        if module in LITE_ONLY_MODULES:
            item.add_marker(pytest.mark.skip(reason="about Milvus Lite's data dir"))
        elif f"{module}::{item.name}" in LITE_TIMED_TESTS:
            item.add_marker(pytest.mark.skip(reason="timed for Milvus Lite (Strong reads)"))


@pytest.fixture(scope="session")
def http(server: LocalServer) -> Iterator[httpx.Client]:
    with httpx.Client(
        base_url=server.url,
        headers={"Authorization": f"Bearer {server.api_key}"},
        timeout=30,
    ) as client:
        yield client


@pytest.fixture(autouse=True)
def _no_faults(server: LocalServer) -> Iterator[None]:
    """Every test starts and ends without injected faults."""
    server.faults.reset()
    yield
    server.faults.reset()


def unique(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:8]}"


def ok(resp: httpx.Response) -> Any:
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["code"] == 200, body
    return body["data"]


def create(http: httpx.Client, body: dict[str, Any]) -> dict[str, Any]:
    data: dict[str, Any] = ok(http.post("/v1/pipelines", json=body))
    return data


def make_text_pipelines(http: httpx.Client, collection: str) -> dict[str, str]:
    """INGESTION (year Int16, source VarChar), SEARCH and DELETION pipelines for a text collection."""
    ing = create(
        http,
        {
            "name": unique("text_ing"),
            "description": "texts",
            "type": "INGESTION",
            "projectId": PROJECT,
            "clusterId": CLUSTER,
            "collectionName": collection,
            "functions": [
                {
                    "name": "index_my_text",
                    "action": "INDEX_TEXT",
                    "language": "ENGLISH",
                    "embedding": "zilliz/bge-base-en-v1.5",
                },
                {
                    "name": "keep_year",
                    "action": "PRESERVE",
                    "inputField": "year",
                    "outputField": "year",
                    "fieldType": "Int16",
                },
                {
                    "name": "keep_source",
                    "action": "PRESERVE",
                    "inputField": "source",
                    "outputField": "source",
                    "fieldType": "VarChar",
                },
            ],
        },
    )
    search = create(
        http,
        {
            "name": unique("text_search"),
            "type": "SEARCH",
            "projectId": PROJECT,
            "functions": [
                {
                    "name": "search_my_text",
                    "action": "SEARCH_TEXT",
                    "clusterId": CLUSTER,
                    "collectionName": collection,
                    "embedding": "zilliz/bge-base-en-v1.5",
                }
            ],
        },
    )
    return {
        "ingestion": ing["pipelineId"],
        "search": search["pipelineId"],
        "deletion": create_deletion(http, collection, "PURGE_BY_EXPRESSION"),
    }


def make_doc_pipelines(http: httpx.Client, collection: str, chunk_size: int = 40) -> dict[str, str]:
    """INGESTION (INDEX_DOC + year Int16), SEARCH_DOC_CHUNK and PURGE_DOC_INDEX pipelines."""
    ing = create(
        http,
        {
            "name": unique("doc_ing"),
            "description": "docs",
            "type": "INGESTION",
            "projectId": PROJECT,
            "clusterId": CLUSTER,
            "collectionName": collection,
            "functions": [
                {
                    "name": "index_my_doc",
                    "action": "INDEX_DOC",
                    "language": "ENGLISH",
                    "embedding": "zilliz/bge-base-en-v1.5",
                    "chunkSize": chunk_size,
                },
                {
                    "name": "keep_year",
                    "action": "PRESERVE",
                    "inputField": "year",
                    "outputField": "year",
                    "fieldType": "Int16",
                },
            ],
        },
    )
    search = create(
        http,
        {
            "name": unique("doc_search"),
            "type": "SEARCH",
            "projectId": PROJECT,
            "functions": [
                {
                    "name": "search_my_doc",
                    "action": "SEARCH_DOC_CHUNK",
                    "clusterId": CLUSTER,
                    "collectionName": collection,
                    "embedding": "zilliz/bge-base-en-v1.5",
                }
            ],
        },
    )
    return {
        "ingestion": ing["pipelineId"],
        "search": search["pipelineId"],
        "deletion": create_deletion(http, collection, "PURGE_DOC_INDEX"),
    }


def search(
    http: httpx.Client,
    pipeline_id: str,
    query: str,
    limit: int = 5,
    offset: int = 0,
    output_fields: list[str] | None = None,
    filter_expr: str = "",
) -> httpx.Response:
    return http.post(
        f"/v1/pipelines/{pipeline_id}/run",
        json={
            "data": {"query_text": query},
            "params": {
                "limit": limit,
                "offset": offset,
                "outputFields": output_fields or [],
                "filter": filter_expr,
            },
        },
    )


def parse_sse(raw: bytes) -> list[dict[str, Any]]:
    """Split a DashScope stream into events, keeping every line verbatim (comments included)."""
    text = raw.decode("utf-8")
    assert text.endswith("\n\n") or not text, repr(text[-40:])
    events = []
    for block in text.split("\n\n"):
        if not block:
            continue
        lines = block.split("\n")
        event: dict[str, Any] = {"lines": lines}
        for line in lines:
            if line.startswith("id:"):
                event["id"] = line[3:]
            elif line.startswith("event:"):
                event["event"] = line[6:]
            elif line.startswith(":HTTP_STATUS/"):
                event["status"] = int(line.split("/", 1)[1])
            elif line.startswith("data:"):
                event["data"] = json.loads(line[5:])
        events.append(event)
    return events


def create_search(
    http: httpx.Client, collection: str, action: str = "SEARCH_TEXT", **options: Any
) -> str:
    """A SEARCH pipeline over ``collection`` (``options`` go into its function); its id."""
    function = {
        "name": "search_fn",
        "action": action,
        "clusterId": CLUSTER,
        "collectionName": collection,
        **options,
    }
    body = {
        "name": unique("search"),
        "type": "SEARCH",
        "projectId": PROJECT,
        "functions": [function],
    }
    return str(create(http, body)["pipelineId"])


def create_deletion(http: httpx.Client, collection: str, action: str) -> str:
    """A DELETION pipeline with one ``action`` function over ``collection``; its id."""
    body = {
        "name": unique("deletion"),
        "description": "purge",
        "type": "DELETION",
        "projectId": PROJECT,
        "clusterId": CLUSTER,
        "collectionName": collection,
        "functions": [{"name": "purge_fn", "action": action}],
    }
    return str(create(http, body)["pipelineId"])


def create_text_ingestion(http: httpx.Client, collection: str, **preserve: str) -> str:
    """An INDEX_TEXT ingestion pipeline preserving ``field=fieldType`` pairs; its id."""
    functions: list[dict[str, Any]] = [{"name": "index_text", "action": "INDEX_TEXT"}]
    functions += [
        {
            "name": f"keep_{name}",
            "action": "PRESERVE",
            "inputField": name,
            "outputField": name,
            "fieldType": kind,
        }
        for name, kind in preserve.items()
    ]
    body = {
        "name": unique("text_ing"),
        "type": "INGESTION",
        "projectId": PROJECT,
        "clusterId": CLUSTER,
        "collectionName": collection,
        "functions": functions,
    }
    return str(create(http, body)["pipelineId"])


def set_fetch_policy(server: LocalServer, monkeypatch: pytest.MonkeyPatch, policy: Any) -> None:
    """Give the running server another ``doc_url`` policy for one test (e.g. one that allows
    the loopback file server the test starts: ``FetchPolicy(allow_private=True)``)."""
    monkeypatch.setattr(server.app.state.context.pipelines, "fetch_policy", policy)


@pytest.fixture
def static_http(tmp_path: Path) -> Iterator[str]:
    """A loopback HTTP server for ``tmp_path`` (holding ``faq.md``); its base URL."""
    (tmp_path / "faq.md").write_text("# FAQ\n\n## Limits\n\nSearch limit is at most 500 results.\n")

    class Handler(SimpleHTTPRequestHandler):
        def __init__(self, *a: Any, **k: Any) -> None:
            super().__init__(*a, directory=str(tmp_path), **k)

        def log_message(self, *args: Any) -> None:
            pass

    srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    yield f"http://127.0.0.1:{srv.server_address[1]}"
    srv.shutdown()
    srv.server_close()


@pytest.fixture(scope="session")
def stub_server() -> Iterator[StubModel]:
    """The scripted OpenAI-compatible endpoint (tests/fakes/openai_stub.py), once per session."""
    with StubModel() as model:
        yield model


@pytest.fixture
def stub(stub_server: StubModel, monkeypatch: pytest.MonkeyPatch) -> StubModel:
    """The stub with its default script and nothing received; its key in ``KEY_VARIABLE``."""
    stub_server.reset()
    monkeypatch.setenv(KEY_VARIABLE, SECRET)
    return stub_server
