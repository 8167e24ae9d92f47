"""The server on a real Milvus server (``--milvus-uri``; issue 10, item 8), a reduced suite.

``make test-milvus`` runs the whole server suite there; this module runs in every ``make test``:
create, ingest, search with a filter, delete, Bailian sessions, and the background sealer.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from langchain_zilliz_bailian.server import LocalServer
from langchain_zilliz_bailian.server.storage import Storage
from tests.server.conftest import make_text_pipelines, ok, search, unique

APP = "/api/v1/apps/0123456789abcdef0123456789abcdef/completion"


@pytest.fixture(scope="module")
def remote(milvus_uri: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalServer]:
    data_dir = tmp_path_factory.mktemp("zb-on-milvus")
    with LocalServer(
        data_dir=data_dir,
        milvus_uri=milvus_uri,
        stream_interval_ms=1,
        embedding_fallback=True,
        any_app_id=True,
    ) as srv:
        yield srv


@pytest.fixture(scope="module")
def api(remote: LocalServer) -> Iterator[httpx.Client]:
    headers = {"Authorization": f"Bearer {remote.api_key}"}
    with httpx.Client(base_url=remote.url, headers=headers, timeout=60) as client:
        yield client


def test_pipelines_ingest_search_and_delete_on_a_milvus_server(api: httpx.Client) -> None:
    pipes = make_text_pipelines(api, unique("real"))
    texts = ["the harbor gateway opens at dawn", "kernel ledger of the archive", "quiet zone"]
    ingested = ok(
        api.post(
            f"/v1/pipelines/{pipes['ingestion']}/run",
            json={"data": {"text_list": texts, "year": 2024, "source": "docs"}},
        )
    )
    assert ingested["num_entities"] == 3
    assert len(set(ingested["ids"])) == 3
    # Read-your-writes in one server process: the search right after sees the rows.
    hits = ok(search(api, pipes["search"], "harbor gateway", limit=3, output_fields=["year"]))
    assert hits["result"][0]["text"] == texts[0]
    assert hits["result"][0]["year"] == 2024
    filtered = ok(search(api, pipes["search"], "archive", filter_expr="year == 1999"))
    assert filtered["result"] == []
    deleted = ok(
        api.post(
            f"/v1/pipelines/{pipes['deletion']}/run",
            json={"data": {"expression": "source == 'docs'"}},
        )
    )
    assert deleted["num_deleted_entities"] == 3
    assert ok(search(api, pipes["search"], "harbor gateway"))["result"] == []
    # The pipeline registry lives in the Milvus server too.
    listed = ok(api.get("/v1/pipelines", params={"projectId": "proj-0123456789abcdef"}))
    assert pipes["search"] in {p["pipelineId"] for p in listed}
    assert ok(api.delete(f"/v1/pipelines/{pipes['deletion']}"))["pipelineId"] == pipes["deletion"]
    missing = api.get(f"/v1/pipelines/{pipes['deletion']}")
    assert missing.status_code == 404


def test_a_bailian_session_continues_on_a_milvus_server(api: httpx.Client) -> None:
    first = api.post(APP, json={"input": {"prompt": "My name is Ada."}}).json()["output"]
    second = api.post(
        APP, json={"input": {"prompt": "What is my name?", "session_id": first["session_id"]}}
    ).json()["output"]
    assert second["session_id"] == first["session_id"]
    assert 'Earlier in this conversation you said: "My name is Ada."' in second["text"]


def test_ingested_rows_are_sealed_and_indexed_by_the_milvus_server(
    api: httpx.Client, milvus_uri: str, tmp_path: Path
) -> None:
    from pymilvus import MilvusClient

    collection = unique("sealed")
    pipes = make_text_pipelines(api, collection)
    texts = [f"sealed row {i} about the harbor" for i in range(40)]
    ok(
        api.post(
            f"/v1/pipelines/{pipes['ingestion']}/run",
            json={"data": {"text_list": texts, "year": 2020, "source": "s"}},
        )
    )
    client = MilvusClient(uri=milvus_uri)
    try:
        deadline = time.monotonic() + 60
        while True:  # the sealer flushes after 1 s idle; the server then builds the index
            info = client.describe_index(collection, "embedding")
            if int(info.get("indexed_rows", 0)) >= 40:
                break
            assert time.monotonic() < deadline, info
            time.sleep(0.5)
    finally:
        client.close()


def test_processes_sharing_a_milvus_server_lease_distinct_id_nodes(
    milvus_uri: str, tmp_path: Path
) -> None:
    first = Storage(tmp_path / "one", milvus_uri)
    second = Storage(tmp_path / "two", milvus_uri)
    try:
        lease_one, lease_two = first._node_lease, second._node_lease
        assert lease_one is not None
        assert lease_two is not None
        assert lease_one.node != lease_two.node
        # Ids minted in the same millisecond by both differ in their node bits.
        assert not set(first.ids.mint(500)) & set(second.ids.mint(500))
        held = {record["node"] for record in first.list_meta("node")}
        assert {lease_one.node, lease_two.node} <= held
    finally:
        node_two = second._node_lease.node if second._node_lease else -1
        second.close()
    try:
        assert node_two not in {record["node"] for record in first.list_meta("node")}
    finally:
        first.close()
