"""Coalesced searches (:mod:`langchain_zilliz_bailian.server.search_batch`): the batcher's rules,
then the server's searches through it (concurrent runs answered as if each ran alone)."""

from __future__ import annotations

import asyncio
import gc
import threading
from collections.abc import Callable, Hashable
from typing import Any

import httpx
import pytest

from langchain_zilliz_bailian.server import LocalServer
from langchain_zilliz_bailian.server.errors import ZILLIZ_INTERNAL, ZillizError, bad_param
from langchain_zilliz_bailian.server.pipeline_runs import (
    PipelineService,
    SearchParams,
    TextSearch,
    _batch_size,
)
from langchain_zilliz_bailian.server.search_batch import SearchBatcher
from langchain_zilliz_bailian.server.storage import Storage
from tests.server.conftest import create_search, make_text_pipelines, ok, unique


class Gate:
    """A ``run_batch`` that records its batches and holds each until :meth:`open_` is called;
    it fails any batch holding ``fail_on`` (every batch with ``fail_all``)."""

    def __init__(
        self, fail_on: str | None = None, fail_all: Callable[[], Exception] | None = None
    ) -> None:
        self.batches: list[tuple[Hashable, list[str]]] = []
        self.entered = threading.Semaphore(0)
        self.release = threading.Event()
        self.fail_on = fail_on
        self.fail_all = fail_all

    def __call__(self, key: str, queries: list[str]) -> list[str]:
        self.batches.append((key, list(queries)))
        self.entered.release()
        assert self.release.wait(10)
        if self.fail_all is not None and queries != ["first"]:
            raise self.fail_all()
        if self.fail_on in queries:
            raise ValueError(f"bad query {self.fail_on}")
        return [f"{key}:{query}" for query in queries]

    async def running(self) -> None:
        """Until a batch has entered ``run_batch`` (in its worker thread)."""
        assert await asyncio.to_thread(self.entered.acquire, True, 10)

    def open_(self) -> None:
        self.release.set()


async def _queued_behind_first(
    batcher: SearchBatcher[str, str, str], gate: Gate, key: str, queries: list[str]
) -> list[asyncio.Future[str]]:
    """Submit ``queries[0]``, wait until its batch runs, then queue the rest behind it."""
    first = asyncio.ensure_future(batcher.submit(key, queries[0]))
    await gate.running()
    rest = [asyncio.ensure_future(batcher.submit(key, q)) for q in queries[1:]]
    await asyncio.sleep(0.01)  # they are waiting: the first batch cannot end before open_()
    return [first, *rest]


async def test_a_lone_query_is_sent_at_once() -> None:
    gate = Gate()
    gate.open_()
    batcher: SearchBatcher[str, str, str] = SearchBatcher(gate)
    assert await batcher.submit("k", "a") == "k:a"
    assert gate.batches == [("k", ["a"])]


async def test_queries_arriving_during_a_batch_go_together_in_order() -> None:
    gate = Gate()
    batcher: SearchBatcher[str, str, str] = SearchBatcher(gate, max_in_flight=1)
    futures = await _queued_behind_first(batcher, gate, "k", ["a", "b", "c", "d"])
    assert gate.batches == [("k", ["a"])]  # the others wait for the batch in flight
    gate.open_()
    assert await asyncio.gather(*futures) == ["k:a", "k:b", "k:c", "k:d"]
    assert gate.batches == [("k", ["a"]), ("k", ["b", "c", "d"])]
    assert not batcher._groups  # nothing left behind


async def test_keys_never_share_a_batch_and_do_not_wait_for_each_other() -> None:
    gate = Gate()
    batcher: SearchBatcher[str, str, str] = SearchBatcher(gate, max_in_flight=1)
    one = asyncio.ensure_future(batcher.submit("k1", "a"))
    await gate.running()
    two = asyncio.ensure_future(batcher.submit("k2", "a"))
    await gate.running()  # k2's batch started while k1's was in flight
    gate.open_()
    assert list(await asyncio.gather(one, two)) == ["k1:a", "k2:a"]
    assert sorted(gate.batches) == [("k1", ["a"]), ("k2", ["a"])]


async def test_batches_are_capped_by_max_batch_of_the_key() -> None:
    gate = Gate()
    batcher: SearchBatcher[str, str, str] = SearchBatcher(
        gate, max_batch=lambda key: 2, max_in_flight=1
    )
    futures = await _queued_behind_first(batcher, gate, "k", [f"q{i}" for i in range(6)])
    gate.open_()
    assert await asyncio.gather(*futures) == [f"k:q{i}" for i in range(6)]
    assert [queries for _, queries in gate.batches] == [["q0"], ["q1", "q2"], ["q3", "q4"], ["q5"]]


async def test_one_bad_query_fails_alone_and_its_batch_mates_are_answered() -> None:
    gate = Gate(fail_on="bad")
    batcher: SearchBatcher[str, str, str] = SearchBatcher(gate, max_in_flight=1)
    futures = await _queued_behind_first(batcher, gate, "k", ["a", "b", "bad", "c"])
    gate.open_()
    outcomes = await asyncio.gather(*futures, return_exceptions=True)
    assert outcomes[:2] == ["k:a", "k:b"] and outcomes[3] == "k:c"
    assert isinstance(outcomes[2], ValueError) and str(outcomes[2]) == "bad query bad"
    # the batch, then its first query alone (it succeeded), then the others one by one
    assert [q for _, q in gate.batches] == [["a"], ["b", "bad", "c"], ["b"], ["bad"], ["c"]]


async def test_a_bad_first_query_fails_alone_and_the_rest_go_together() -> None:
    gate = Gate(fail_on="bad")
    batcher: SearchBatcher[str, str, str] = SearchBatcher(gate, max_in_flight=1)
    futures = await _queued_behind_first(batcher, gate, "k", ["a", "bad", "b", "c"])
    gate.open_()
    outcomes = await asyncio.gather(*futures, return_exceptions=True)
    assert outcomes[0] == "k:a" and outcomes[2:] == ["k:b", "k:c"]
    assert isinstance(outcomes[1], ValueError) and str(outcomes[1]) == "bad query bad"
    # bad alone failed as the batch did; b and c together did not: theirs was not the failure
    assert [q for _, q in gate.batches] == [["a"], ["bad", "b", "c"], ["bad"], ["b", "c"]]


async def test_a_failure_of_the_whole_batch_reaches_each_query_in_three_calls() -> None:
    gate = Gate(fail_all=lambda: bad_param("Invalid search request: Milvus is down"))
    batcher: SearchBatcher[str, str, str] = SearchBatcher(gate, max_in_flight=1)
    futures = await _queued_behind_first(batcher, gate, "k", ["first", "b", "c", "d", "e"])
    gate.open_()
    outcomes = await asyncio.gather(*futures, return_exceptions=True)
    assert outcomes[0] == "k:first"
    for failure in outcomes[1:]:
        assert isinstance(failure, ZillizError)
        assert (failure.status, failure.message) == (400, "Invalid search request: Milvus is down")
    assert len({id(o) for o in outcomes[1:]}) == 4  # each request raises its own object
    # b alone and c, d, e together failed alike: the failure is the batch's, no more retries
    assert [q for _, q in gate.batches] == [["first"], ["b", "c", "d", "e"], ["b"], ["c", "d", "e"]]


async def test_a_batch_ending_abnormally_leaves_no_request_waiting() -> None:
    class Abort(BaseException):
        pass

    def aborting(key: str, queries: list[str]) -> list[str]:
        raise Abort

    batcher: SearchBatcher[str, str, str] = SearchBatcher(aborting)
    loop = asyncio.get_running_loop()
    unhandled: list[dict[str, Any]] = []
    loop.set_exception_handler(lambda loop, context: unhandled.append(context))
    with pytest.raises(RuntimeError, match="ended without an answer") as raised:
        await asyncio.wait_for(batcher.submit("k", "a"), 10)
    assert isinstance(raised.value.__cause__, Abort)
    assert not batcher._groups
    del raised
    gc.collect()  # a task whose exception nobody retrieved would be reported now
    assert unhandled == []


async def test_a_batch_failing_after_its_requests_left_is_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    class Abort(BaseException):
        pass

    running, release = threading.Event(), threading.Event()

    def aborting_later(key: str, queries: list[str]) -> list[str]:
        running.set()
        assert release.wait(10)
        raise Abort

    batcher: SearchBatcher[str, str, str] = SearchBatcher(aborting_later)
    gone = asyncio.ensure_future(batcher.submit("k", "a"))
    assert await asyncio.to_thread(running.wait, 10)
    gone.cancel()  # its client left; nobody will hear of the failure
    release.set()
    with caplog.at_level("ERROR", logger="langchain_zilliz_bailian.server.search_batch"):
        await asyncio.wait_for(batcher.aclose(), 10)
    assert [r.message for r in caplog.records] == ["a search batch failed"]
    assert isinstance(caplog.records[0].exc_info and caplog.records[0].exc_info[1], Abort)


async def test_a_batch_cancelled_before_it_started_leaves_no_request_waiting() -> None:
    gate = Gate()
    batcher: SearchBatcher[str, str, str] = SearchBatcher(gate, max_in_flight=1)
    first = asyncio.ensure_future(batcher.submit("k", "a"))
    await asyncio.sleep(0)  # submitted: its batch task is created, not yet started
    (task,) = batcher._tasks
    task.cancel()  # as a closing loop does: the coroutine never runs
    with pytest.raises(RuntimeError, match="ended without an answer"):
        await asyncio.wait_for(first, 10)
    assert gate.batches == [] and not batcher._groups and not batcher._tasks
    # the key is not stuck with a batch "in flight": the next request is searched at once
    second = asyncio.ensure_future(batcher.submit("k", "b"))
    await gate.running()
    gate.open_()
    assert await asyncio.wait_for(second, 10) == "k:b"


async def test_a_waiter_cancelled_before_its_batch_is_not_searched_for() -> None:
    gate = Gate()
    batcher: SearchBatcher[str, str, str] = SearchBatcher(gate, max_in_flight=1)
    first, gone, kept = await _queued_behind_first(batcher, gate, "k", ["a", "gone", "kept"])
    gone.cancel()
    gate.open_()
    assert list(await asyncio.gather(first, kept)) == ["k:a", "k:kept"]
    assert gate.batches == [("k", ["a"]), ("k", ["kept"])]


async def test_a_waiter_cancelled_during_its_batch_leaves_the_others_answered() -> None:
    running, release = threading.Event(), threading.Event()

    def held(key: str, queries: list[str]) -> list[str]:
        running.set()
        assert release.wait(10)
        return [f"{key}:{query}" for query in queries]

    batcher: SearchBatcher[str, str, str] = SearchBatcher(held)
    gone = asyncio.ensure_future(batcher.submit("k", "gone"))
    kept = asyncio.ensure_future(batcher.submit("k", "kept"))
    assert await asyncio.to_thread(running.wait, 10)  # both in one batch, in its thread
    gone.cancel()
    release.set()
    assert await kept == "k:kept"
    assert gone.cancelled() and not batcher._groups


async def test_aclose_waits_for_batches_in_flight() -> None:
    gate = Gate()
    batcher: SearchBatcher[str, str, str] = SearchBatcher(gate)
    request = asyncio.ensure_future(batcher.submit("k", "a"))
    await gate.running()
    request.cancel()  # its client is gone, the search still runs
    closing = asyncio.ensure_future(batcher.aclose())
    await asyncio.sleep(0.05)
    assert not closing.done()
    gate.open_()
    await asyncio.wait_for(closing, 10)
    assert not batcher._tasks


async def test_a_wrong_number_of_results_is_an_error_not_a_misplaced_answer() -> None:
    batcher: SearchBatcher[str, str, str] = SearchBatcher(lambda key, queries: ["only one"] * 2)
    with pytest.raises(RuntimeError, match="a batch of 1 queries gave 2 results"):
        await batcher.submit("k", "a")


def test_limits_are_checked() -> None:
    with pytest.raises(ValueError):
        SearchBatcher(lambda key, queries: queries, max_batch=0)
    with pytest.raises(ValueError):
        SearchBatcher(lambda key, queries: queries, max_in_flight=0)


@pytest.mark.parametrize(
    ("limit", "offset", "size"),
    [(10, 0, 64), (100, 0, 40), (500, 0, 8), (500, 524, 4), (1, 1023, 4)],
)
def test_searches_for_many_hits_make_smaller_batches(limit: int, offset: int, size: int) -> None:
    search = TextSearch("c", "text", SearchParams(limit, offset, (), ""))
    assert _batch_size(search) == size


# -- through the server ------------------------------------------------------------------------

TEXTS = [f"note {i}: {word} and more" for i, word in enumerate(["red", "green", "blue", "amber"])]
INGEST = {"data": {"text_list": TEXTS, "year": 2024, "source": "notes"}}
QUERIES = ["red", "green", "blue", "amber", "red and green", "blue notes"]


class HeldSearches:
    """``Storage.search_many``, recording how many vectors each call carries; the first call
    waits for :attr:`released`, so the runs sent meanwhile gather behind it."""

    def __init__(self) -> None:
        self.armed = False
        self.sizes: list[int] = []
        self.entered = threading.Event()
        self.released = threading.Event()


@pytest.fixture
def held(server: LocalServer, monkeypatch: pytest.MonkeyPatch) -> HeldSearches:
    searches = HeldSearches()
    real = Storage.search_many

    def recording(self: Storage, name: str, vectors: list[list[float]], *args: Any) -> Any:
        if searches.armed:
            searches.sizes.append(len(vectors))
            if len(searches.sizes) == 1:
                searches.entered.set()
                assert searches.released.wait(10)
        return real(self, name, vectors, *args)

    monkeypatch.setattr(Storage, "search_many", recording)
    # one batch in flight per key, as on 2 cores, whatever this machine has
    monkeypatch.setattr(_batcher(server), "_max_in_flight", 1)
    return searches


def _batcher(server: LocalServer) -> Any:
    return server.app.state.context.pipelines.text_searches


def _concurrently(
    server: LocalServer, held: HeldSearches, bodies: list[tuple[str, dict[str, Any]]]
) -> list[httpx.Response]:
    """Run ``(pipeline_id, body)`` searches: the first one, then the rest, in order, while it
    is held; they queue in the batcher in the order given."""
    held.sizes.clear()
    held.entered.clear()
    held.released.clear()
    held.armed = True
    try:
        return asyncio.run(_at_once(server, held, bodies))
    finally:
        held.armed = False


async def _at_once(
    server: LocalServer, held: HeldSearches, bodies: list[tuple[str, dict[str, Any]]]
) -> list[httpx.Response]:
    headers = {"Authorization": f"Bearer {server.api_key}"}
    async with httpx.AsyncClient(base_url=server.url, headers=headers, timeout=30) as client:

        def post(pipeline_id: str, body: dict[str, Any]) -> Any:
            return client.post(f"/v1/pipelines/{pipeline_id}/run", json=body)

        first = asyncio.ensure_future(post(*bodies[0]))
        assert await asyncio.to_thread(held.entered.wait, 10)
        groups = _batcher(server)._groups
        rest: list[asyncio.Future[httpx.Response]] = []
        for body in bodies[1:]:  # in order: each waits in the batcher before the next is sent
            rest.append(asyncio.ensure_future(post(*body)))
            for _ in range(2000):  # 10 s at most
                if sum(len(group.waiting) for group in list(groups.values())) == len(rest):
                    break
                await asyncio.sleep(0.005)
            else:
                raise AssertionError(f"run {len(rest)} never reached the batcher")
        held.released.set()
        return [await first, *await asyncio.gather(*rest)]


def test_concurrent_searches_are_one_milvus_search_with_each_answer_its_own(
    server: LocalServer, http: httpx.Client, held: HeldSearches
) -> None:
    pipes = _text_collection(http, "batched")
    # Each query alone first: the answers the batched runs must give.
    alone = [_run(http, pipes["search"], _search(q))["result"] for q in QUERIES]
    answers = _concurrently(server, held, [(pipes["search"], _search(q)) for q in QUERIES])
    assert [_ranked(ok(a)["result"]) for a in answers] == [_ranked(r) for r in alone]
    # float32 sums in another order: the last bits of a distance may differ, nothing else
    for answer, expected in zip(answers, alone, strict=True):
        got = [hit["distance"] for hit in ok(answer)["result"]]
        assert got == pytest.approx([hit["distance"] for hit in expected], rel=1e-5)
    assert held.sizes == [1, len(QUERIES) - 1]


def test_a_query_the_embedder_refuses_fails_alone(
    server: LocalServer, http: httpx.Client, held: HeldSearches, monkeypatch: pytest.MonkeyPatch
) -> None:
    pipes = _text_collection(http, "batched_poison")
    alone = {q: _run(http, pipes["search"], _search(q))["result"] for q in ("red", "green")}
    real = PipelineService._embed

    def refusing(embedder: Any, texts: list[str]) -> list[list[float]]:
        if "poison" in texts:  # a provider's 400 for one input fails the whole call
            raise ZillizError(ZILLIZ_INTERNAL, "Embedding failed: input too long", status=500)
        return real(embedder, texts)

    monkeypatch.setattr(PipelineService, "_embed", staticmethod(refusing))
    queries = ["red", "green", "poison", "red"]
    answers = _concurrently(server, held, [(pipes["search"], _search(q)) for q in queries])
    assert [a.status_code for a in answers] == [200, 200, 500, 200]
    assert answers[2].json()["message"] == "Embedding failed: input too long"
    for answer, query in zip(answers, queries, strict=True):
        if query != "poison":
            assert _ranked(ok(answer)["result"]) == _ranked(alone[query])
    # the batch [green, poison, red] failed, then each went alone
    assert held.sizes == [1, 1, 1]


def test_a_long_filter_is_checked_off_the_event_loop_with_the_same_answers(
    http: httpx.Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    pipes = _text_collection(http, "batched_long_filter")
    threads: list[str] = []
    real = PipelineService._text_search

    def spying(self: PipelineService, *args: Any) -> Any:
        threads.append(threading.current_thread().name)
        return real(self, *args)

    monkeypatch.setattr(PipelineService, "_text_search", spying)
    years = ", ".join(["2024"] * 1500)  # a list filter of about 9,000 characters
    found = _run(http, pipes["search"], _search("red", filter=f"year in [{years}]"))["result"]
    assert _ranked(found) == _ranked(_run(http, pipes["search"], _search("red"))["result"])
    # the long filter was checked in a worker thread, the short request on the server's loop
    assert threads[1] == "zb-server" != threads[0]
    broken = _search("red", filter=f"year in [{years}")
    resp = http.post(f"/v1/pipelines/{pipes['search']}/run", json=broken)
    assert resp.status_code == 400 and "unclosed '['" in resp.json()["message"]


def test_usage_is_counted_for_each_pipeline_of_a_shared_batch(
    server: LocalServer, http: httpx.Client, held: HeldSearches
) -> None:
    collection = unique("batched_usage")
    pipes = make_text_pipelines(http, collection)
    other = create_search(http, collection)
    ok(http.post(f"/v1/pipelines/{pipes['ingestion']}/run", json=INGEST))
    before = {
        p: ok(http.get(f"/v1/pipelines/{p}"))["totalUsage"]["embedding"]
        for p in (pipes["search"], other)
    }
    bodies = [(pipes["search"], _search("red green blue"))]  # 3 tokens
    bodies += [(other, _search("amber")), (pipes["search"], _search("blue")), (other, _search("x"))]
    answers = _concurrently(server, held, bodies)
    assert [ok(a)["usage"]["embedding"] for a in answers] == [3, 1, 1, 1]
    assert held.sizes == [1, 3]  # both pipelines' runs went in one search
    after = {
        p: ok(http.get(f"/v1/pipelines/{p}"))["totalUsage"]["embedding"]
        for p in (pipes["search"], other)
    }
    assert after[pipes["search"]] - before[pipes["search"]] == 4
    assert after[other] - before[other] == 2


def _text_collection(http: httpx.Client, prefix: str) -> dict[str, str]:
    pipes = make_text_pipelines(http, unique(prefix))
    ok(http.post(f"/v1/pipelines/{pipes['ingestion']}/run", json=INGEST))
    return pipes


def _run(http: httpx.Client, pipeline_id: str, body: dict[str, Any]) -> Any:
    return ok(http.post(f"/v1/pipelines/{pipeline_id}/run", json=body))


def _ranked(hits: list[dict[str, Any]]) -> list[tuple[int, str]]:
    return [(hit["id"], hit["text"]) for hit in hits]


def _search(query: str, **params: Any) -> dict[str, Any]:
    return {
        "data": {"query_text": query},
        "params": {"limit": 3, "outputFields": ["text"], **params},
    }
