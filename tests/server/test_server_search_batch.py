"""Coalesced searches (:mod:`langchain_zilliz_bailian.server.search_batch`): the batcher's rules,
then the server's searches through it (concurrent runs answered as if each ran alone)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Hashable
from typing import Any

import httpx
import pytest

from langchain_zilliz_bailian.server import LocalServer
from langchain_zilliz_bailian.server.search_batch import SearchBatcher
from langchain_zilliz_bailian.server.storage import Storage
from tests.server.conftest import create_search, make_text_pipelines, ok, unique


class Gate:
    """A ``run_batch`` that records its batches and holds each until :meth:`open_` is called."""

    def __init__(self, fail_on: str | None = None) -> None:
        self.batches: list[tuple[Hashable, list[str]]] = []
        self.entered = threading.Semaphore(0)
        self.release = threading.Event()
        self.fail_on = fail_on

    def __call__(self, key: Hashable, queries: list[str]) -> list[str]:
        self.batches.append((key, list(queries)))
        self.entered.release()
        assert self.release.wait(10)
        if self.fail_on in queries:
            raise ValueError(f"bad query {self.fail_on}")
        return [f"{key}:{query}" for query in queries]

    async def running(self) -> None:
        """Until a batch has entered ``run_batch`` (in its worker thread)."""
        assert await asyncio.to_thread(self.entered.acquire, True, 10)

    def open_(self) -> None:
        self.release.set()


async def test_a_lone_query_is_sent_at_once() -> None:
    gate = Gate()
    gate.open_()
    batcher: SearchBatcher[str, str] = SearchBatcher(gate)
    assert await batcher.submit("k", "a") == "k:a"
    assert gate.batches == [("k", ["a"])]


async def test_queries_arriving_during_a_batch_go_together_in_order() -> None:
    gate = Gate()
    batcher: SearchBatcher[str, str] = SearchBatcher(gate)
    first = asyncio.ensure_future(batcher.submit("k", "a"))
    await gate.running()
    rest = [asyncio.ensure_future(batcher.submit("k", q)) for q in ("b", "c", "d")]
    await asyncio.sleep(0.01)
    assert gate.batches == [("k", ["a"])]  # the others wait for the batch in flight
    gate.open_()
    assert await asyncio.gather(first, *rest) == ["k:a", "k:b", "k:c", "k:d"]
    assert gate.batches == [("k", ["a"]), ("k", ["b", "c", "d"])]


async def test_keys_never_share_a_batch_and_do_not_wait_for_each_other() -> None:
    gate = Gate()
    batcher: SearchBatcher[str, str] = SearchBatcher(gate)
    one = asyncio.ensure_future(batcher.submit("k1", "a"))
    await gate.running()
    two = asyncio.ensure_future(batcher.submit("k2", "a"))
    await gate.running()  # k2's batch started while k1's was in flight
    gate.open_()
    assert list(await asyncio.gather(one, two)) == ["k1:a", "k2:a"]
    assert sorted(gate.batches) == [("k1", ["a"]), ("k2", ["a"])]


async def test_batches_are_capped_at_max_batch() -> None:
    gate = Gate()
    batcher: SearchBatcher[str, str] = SearchBatcher(gate, max_batch=2)
    first = asyncio.ensure_future(batcher.submit("k", "q0"))
    await gate.running()
    rest = [asyncio.ensure_future(batcher.submit("k", f"q{i}")) for i in range(1, 6)]
    await asyncio.sleep(0.01)
    gate.open_()
    assert await asyncio.gather(first, *rest) == [f"k:q{i}" for i in range(6)]
    assert [queries for _, queries in gate.batches] == [
        ["q0"],
        ["q1", "q2"],
        ["q3", "q4"],
        ["q5"],
    ]


async def test_a_failed_batch_fails_each_of_its_queries_and_not_the_next() -> None:
    gate = Gate(fail_on="bad")
    batcher: SearchBatcher[str, str] = SearchBatcher(gate)
    first = asyncio.ensure_future(batcher.submit("k", "bad"))
    await gate.running()
    later = asyncio.ensure_future(batcher.submit("k", "fine"))
    gate.open_()
    with pytest.raises(ValueError, match="bad query"):
        await first
    assert await later == "k:fine"


async def test_a_cancelled_waiter_is_not_searched_for() -> None:
    gate = Gate()
    batcher: SearchBatcher[str, str] = SearchBatcher(gate)
    first = asyncio.ensure_future(batcher.submit("k", "a"))
    await gate.running()
    gone = asyncio.ensure_future(batcher.submit("k", "gone"))
    kept = asyncio.ensure_future(batcher.submit("k", "kept"))
    await asyncio.sleep(0.01)
    gone.cancel()
    gate.open_()
    assert list(await asyncio.gather(first, kept)) == ["k:a", "k:kept"]
    assert gate.batches == [("k", ["a"]), ("k", ["kept"])]
    assert not batcher._groups  # nothing left behind


async def test_a_wrong_number_of_results_is_an_error_not_a_misplaced_answer() -> None:
    batcher: SearchBatcher[str, str] = SearchBatcher(lambda key, queries: ["only one"] * 2)
    with pytest.raises(RuntimeError, match="a batch of 1 queries gave 2 results"):
        await batcher.submit("k", "a")


def test_limits_are_checked() -> None:
    with pytest.raises(ValueError):
        SearchBatcher(lambda key, queries: queries, max_batch=0)
    with pytest.raises(ValueError):
        SearchBatcher(lambda key, queries: queries, max_in_flight=0)


# -- through the server ------------------------------------------------------------------------

TEXTS = [f"note {i}: {word} and more" for i, word in enumerate(["red", "green", "blue", "amber"])]
INGEST = {"data": {"text_list": TEXTS, "year": 2024, "source": "notes"}}
QUERIES = ["red", "green", "blue", "amber", "red and green", "blue notes"]


@pytest.fixture
def batch_sizes(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Records how many vectors each ``Storage.search_many`` call carries; the first call waits
    a moment so that the concurrent runs behind it gather into one batch."""
    sizes: list[int] = []
    real = Storage.search_many

    def recording(self: Storage, name: str, vectors: list[list[float]], *args: Any) -> Any:
        sizes.append(len(vectors))
        if len(sizes) == 1:
            threading.Event().wait(0.3)
        return real(self, name, vectors, *args)

    monkeypatch.setattr(Storage, "search_many", recording)
    return sizes


def _concurrently(server: LocalServer, bodies: list[tuple[str, dict[str, Any]]]) -> Any:
    """Run ``(pipeline_id, body)`` searches at once, the first one ahead of the rest."""
    return asyncio.run(_at_once(server, bodies))


async def _at_once(server: LocalServer, bodies: list[tuple[str, dict[str, Any]]]) -> Any:
    headers = {"Authorization": f"Bearer {server.api_key}"}
    async with httpx.AsyncClient(base_url=server.url, headers=headers, timeout=30) as client:

        def post(pipeline_id: str, body: dict[str, Any]) -> Any:
            return client.post(f"/v1/pipelines/{pipeline_id}/run", json=body)

        first = asyncio.ensure_future(post(*bodies[0]))
        await asyncio.sleep(0.1)  # the first run is in flight: the rest gather behind it
        rest = await asyncio.gather(*(post(*body) for body in bodies[1:]))
        return [await first, *rest]


def test_concurrent_searches_are_one_milvus_search_with_each_answer_its_own(
    server: LocalServer, http: httpx.Client, batch_sizes: list[int]
) -> None:
    collection = unique("batched")
    pipes = make_text_pipelines(http, collection)
    ok(http.post(f"/v1/pipelines/{pipes['ingestion']}/run", json=INGEST))
    # Each query alone first: the answers the batched runs must give.
    alone = [
        ok(http.post(f"/v1/pipelines/{pipes['search']}/run", json=_search(q)))["result"]
        for q in QUERIES
    ]
    batch_sizes.clear()
    answers = _concurrently(server, [(pipes["search"], _search(q)) for q in QUERIES])
    assert [_ranked(ok(a)["result"]) for a in answers] == [_ranked(r) for r in alone]
    # float32 sums in another order: the last bits of a distance may differ, nothing else
    for answer, expected in zip(answers, alone, strict=True):
        got = [hit["distance"] for hit in ok(answer)["result"]]
        assert got == pytest.approx([hit["distance"] for hit in expected], rel=1e-5)
    assert batch_sizes[0] == 1 and max(batch_sizes) == len(QUERIES) - 1
    assert sum(batch_sizes) == len(QUERIES)


def test_a_bad_filter_fails_only_the_runs_that_carry_it(
    server: LocalServer, http: httpx.Client, batch_sizes: list[int]
) -> None:
    collection = unique("batched_bad")
    pipes = make_text_pipelines(http, collection)
    ok(http.post(f"/v1/pipelines/{pipes['ingestion']}/run", json=INGEST))
    bad = _search("red") | {"params": {"filter": "no_such_field > 1"}}
    bodies = [(pipes["search"], _search("red")), *[(pipes["search"], bad)] * 3]
    bodies += [(pipes["search"], _search("green"))] * 2
    answers = _concurrently(server, bodies)
    assert [a.status_code for a in answers] == [200, 400, 400, 400, 200, 200]
    assert [a.json()["code"] for a in answers[1:4]] == [80000] * 3
    assert all("no_such_field" in a.json()["message"] for a in answers[1:4])
    assert ok(answers[4])["result"] == ok(answers[5])["result"] != []


def test_usage_is_counted_for_each_pipeline_of_a_shared_batch(
    server: LocalServer, http: httpx.Client, batch_sizes: list[int]
) -> None:
    collection = unique("batched_usage")
    pipes = make_text_pipelines(http, collection)
    other = create_search(http, collection)
    ok(http.post(f"/v1/pipelines/{pipes['ingestion']}/run", json=INGEST))
    before = {
        p: ok(http.get(f"/v1/pipelines/{p}"))["totalUsage"]["embedding"]
        for p in (pipes["search"], other)
    }
    batch_sizes.clear()
    bodies = [(pipes["search"], _search("red green blue"))]  # 3 tokens
    bodies += [(other, _search("amber")), (pipes["search"], _search("blue")), (other, _search("x"))]
    answers = _concurrently(server, bodies)
    assert [ok(a)["usage"]["embedding"] for a in answers] == [3, 1, 1, 1]
    assert max(batch_sizes) == 3  # both pipelines' runs went in one search
    after = {
        p: ok(http.get(f"/v1/pipelines/{p}"))["totalUsage"]["embedding"]
        for p in (pipes["search"], other)
    }
    assert after[pipes["search"]] - before[pipes["search"]] == 4
    assert after[other] - before[other] == 2


def _ranked(hits: list[dict[str, Any]]) -> list[tuple[int, str]]:
    return [(hit["id"], hit["text"]) for hit in hits]


def _search(query: str) -> dict[str, Any]:
    return {"data": {"query_text": query}, "params": {"limit": 3, "outputFields": ["text"]}}
