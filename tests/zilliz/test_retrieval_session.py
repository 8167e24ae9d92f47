"""The framework-free retrieval session both ``ZillizPipelineRetriever`` classes run on (issue 9).

One connection built lazily (once, whatever the threads), one describe per pipeline (whatever
the concurrency), the serving and SEARCH-type checks, per-call overrides, the hit mapping, and
``close``/``aclose``.
"""

from __future__ import annotations

import asyncio
import copy
import threading
from typing import Any

import httpx
import pytest

from langchain_zilliz_bailian.errors import (
    InvalidInputError,
    PipelineNotServingError,
    PipelineTypeError,
)
from langchain_zilliz_bailian.zilliz import retrieval
from langchain_zilliz_bailian.zilliz.client import ZillizPipelinesClient
from langchain_zilliz_bailian.zilliz.retrieval import RetrievalSession, SearchRequest
from tests.fakes.zilliz import EVERY_WAY, Script, close_every_way, ok, record_closes

PIPE = "pipe-6ca5dd1b4672659d3c3487"
BASE_URL = "https://zilliz.example.test"


def describe(action: str = "SEARCH_DOC_CHUNK", *, kind: str = "SEARCH", status: str = "SERVING"):
    function = {"name": "main", "action": action}
    return ok({"pipelineId": PIPE, "type": kind, "status": status, "functions": [function]})


def session(script: Script) -> RetrievalSession:
    return RetrievalSession(
        api_key="zk-1",
        base_url=BASE_URL,
        max_retries=0,
        http_client=script.sync_client(),
        http_async_client=script.async_client(),
    )


HITS = [
    {"id": 7, "distance": 0.9, "chuck_text": "Milvus Lite stores data locally.", "year": 2024},
    {"id": 8, "distance": 0.5, "chunk_text": "Zilliz Cloud runs pipelines.", "year": 2023},
]


def test_hits_become_text_fields_id_and_distance() -> None:
    script = Script([describe(), ok({"result": HITS})])
    hits = session(script).search(SearchRequest(PIPE, "where is data kept?"))
    assert [(h.id, h.text, h.fields, h.distance) for h in hits] == [
        ("7", "Milvus Lite stores data locally.", {"year": 2024}, 0.9),  # the Z4 misspelling too
        ("8", "Zilliz Cloud runs pipelines.", {"year": 2023}, 0.5),
    ]


def test_the_instance_values_are_sent_and_a_call_overrides_only_what_it_gives() -> None:
    script = Script([describe(), ok({"result": []})])
    run = session(script)
    base = SearchRequest(PIPE, "q", limit=4, offset=1, filter="year > 2000", output_fields=["y"])
    run.search(base)
    run.search(base.override(limit=2, filter=None, output_fields=["year"]))
    first, second = (body["data"] | body["params"] for body in script.bodies()[1:])
    assert (first["limit"], first["offset"], first["filter"]) == (4, 1, "year > 2000")
    assert (second["limit"], second["offset"], second["filter"]) == (2, 1, "year > 2000")
    assert second["outputFields"] == ["year"]


def test_an_image_query_goes_out_as_an_image_url() -> None:
    script = Script([ok({"result": []})])
    request = SearchRequest(PIPE, "https://img.test/a.png", query_type="image_url")
    session(script).search(request.override(content_field="image_title"))
    assert script.bodies()[0]["data"] == {"query_image_url": "https://img.test/a.png"}


def test_a_given_content_field_skips_the_describe_call() -> None:
    script = Script([ok({"result": [{"id": 1, "distance": 0.1, "body": "x", "k": 1}]})])
    hits = session(script).search(SearchRequest(PIPE, "q", content_field="body"))
    assert [(h.text, h.fields) for h in hits] == [("x", {"k": 1})]
    assert len(script.requests) == 1  # the search alone


@pytest.mark.parametrize("kind", ["INGESTION", "DELETION"])
def test_a_pipeline_of_another_type_is_refused_before_any_search(kind: str) -> None:
    script = Script([describe("INDEX_TEXT", kind=kind)])
    with pytest.raises(PipelineTypeError):
        session(script).search(SearchRequest(PIPE, "q"))
    assert len(script.requests) == 1  # described, never searched


async def test_a_pipeline_that_is_not_serving_is_refused_and_described_again_next_time() -> None:
    script = Script([describe(status="INDEXING"), describe(), ok({"result": []})])
    run = session(script)
    with pytest.raises(PipelineNotServingError):
        await run.asearch(SearchRequest(PIPE, "q"))
    assert await run.asearch(SearchRequest(PIPE, "q")) == []
    assert len(script.requests) == 3  # two describes, one search


async def test_concurrent_first_searches_make_one_describe_call() -> None:
    script = Script([describe(), ok({"result": HITS})])
    run = session(script)
    results = await asyncio.gather(*(run.asearch(SearchRequest(PIPE, "q")) for _ in range(30)))
    assert all(len(hits) == 2 for hits in results)
    describes = [r for r in script.requests if r.method == "GET"]
    assert len(describes) == 1 and len(script.requests) == 31


def test_the_client_is_built_once_on_first_use_whatever_the_threads(monkeypatch) -> None:
    built: list[ZillizPipelinesClient] = []

    class Counted(ZillizPipelinesClient):
        def __init__(self, **kwargs: Any) -> None:
            super().__init__(**kwargs)
            built.append(self)

    monkeypatch.setattr(retrieval, "ZillizPipelinesClient", Counted)
    run = session(Script([]))
    assert built == []  # nothing is connected at construction
    gate = threading.Barrier(16)
    seen: list[ZillizPipelinesClient] = []

    def first_use() -> None:
        gate.wait()
        seen.append(run.client)

    threads = [threading.Thread(target=first_use) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(built) == 1 and all(client is built[0] for client in seen)


def test_a_copy_keeps_settings_and_described_pipelines_and_builds_its_own_client() -> None:
    script = Script([describe(), ok({"result": HITS})])
    run = session(script)
    run.search(SearchRequest(PIPE, "q"))
    clone = copy.deepcopy(run)
    assert clone.client is not run.client
    assert clone.client.base_url == BASE_URL
    clone.search(SearchRequest(PIPE, "q"))
    assert [r.method for r in script.requests] == ["GET", "POST", "POST"]  # no second describe


@pytest.mark.parametrize(
    "bad",
    [
        {"api_key": 1},
        {"timeout": -1},
        {"max_retries": -1},
        {"cloud_region": "bad region!"},
        {"base_url": "ftp://x"},
        {"http_client": object()},
        {"no_such_option": 1},
    ],
)
def test_bad_connection_options_fail_at_construction(bad: dict[str, Any]) -> None:
    with pytest.raises(InvalidInputError):
        RetrievalSession(**bad)


@pytest.mark.parametrize(
    "bad",
    [
        {"pipeline_id": "nope"},
        {"limit": 0},
        {"limit": 1000, "offset": 100},
        {"offset": -1},
        {"filter": {"year": 2024}},
        {"output_fields": "year"},
        {"query_type": "audio"},
    ],
)
def test_bad_search_settings_fail_before_any_request(bad: dict[str, Any]) -> None:
    with pytest.raises(InvalidInputError):
        SearchRequest(**{"pipeline_id": PIPE, "query": "q", **bad})


async def test_close_and_aclose_close_the_client_once_it_exists(monkeypatch) -> None:
    closed = record_closes(monkeypatch, ZillizPipelinesClient)
    run = session(Script([]))
    with run:
        pass
    assert closed == []  # never connected: nothing to close
    assert isinstance(run.client, ZillizPipelinesClient)
    await close_every_way(run)
    assert closed == [("ZillizPipelinesClient", way) for way in EVERY_WAY]


async def test_a_closed_session_reopens_on_demand() -> None:
    client = httpx.AsyncClient(transport=httpx.MockTransport(Script([ok({"result": HITS})])))
    run = RetrievalSession(api_key="zk-1", base_url=BASE_URL, http_async_client=client)
    request = SearchRequest(PIPE, "q", content_field="chunk_text")
    async with run:
        assert len(await run.asearch(request)) == 2
    assert len(await run.asearch(request)) == 2
