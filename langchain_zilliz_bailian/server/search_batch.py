"""Coalescing of concurrent searches: one Milvus search (``nq`` > 1) for many requests.

Searches that arrive while others with the same collection and parameters are in flight wait,
then go together: one worker-thread hop, one embedding call and one gRPC search for the lot,
instead of one each. A lone request is sent at once (no timer, no added latency); under load
the batches grow by themselves. Each query's hits are the ones a search of its own would give
(Milvus answers every vector of a multi-vector search independently), and a query that fails
(an embedding provider refusing it, say) fails alone (see :meth:`SearchBatcher._outcomes`).
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from anyio import to_thread

K = TypeVar("K", bound=Hashable)
Q = TypeVar("Q")
R = TypeVar("R")

logger = logging.getLogger(__name__)

#: Most queries in one batch (Milvus takes up to 16,384; a few dozen keep each batch short).
MAX_BATCH = 64
#: Batches of one key in flight at once. The next batch gathers while one runs; on 2 cores with
#: 32 clients, 1 gave the highest throughput and the lowest p99 (2 to 8 made smaller batches).
#: More cores can embed and search more batches at once (not measured here).


def _cores() -> int:
    """Cores this process may run on (a container's CPU set, not the host's count)."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not on Linux
        return os.cpu_count() or 2


MAX_IN_FLIGHT = max(1, _cores() // 2)


@dataclass
class _Group(Generic[Q, R]):
    """The waiting queries of one key and how many of its batches are in flight."""

    waiting: list[tuple[Q, asyncio.Future[R]]] = field(default_factory=list)
    in_flight: int = 0


class SearchBatcher(Generic[K, Q, R]):
    """Runs ``run_batch(key, queries)`` in a worker thread for batches of same-key queries.

    ``run_batch`` returns one result per query, in order; when a batch of several fails, each
    query still gets its own outcome (:meth:`_outcomes`). ``max_batch(key)`` caps a key's
    batches (e.g. by how many hits each query asks for).
    """

    def __init__(
        self,
        run_batch: Callable[[K, list[Q]], Sequence[R]],
        *,
        max_batch: int | Callable[[K], int] = MAX_BATCH,
        max_in_flight: int = MAX_IN_FLIGHT,
    ) -> None:
        if (isinstance(max_batch, int) and max_batch < 1) or max_in_flight < 1:
            raise ValueError("max_batch and max_in_flight must be at least 1")
        self._run_batch = run_batch
        self._max_batch = max_batch
        self._max_in_flight = max_in_flight
        self._groups: dict[K, _Group[Q, R]] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    async def submit(self, key: K, query: Q) -> R:
        """The result for ``query``, from the batch it joins."""
        future: asyncio.Future[R] = asyncio.get_running_loop().create_future()
        group = self._groups.setdefault(key, _Group())
        group.waiting.append((query, future))
        if group.in_flight < self._max_in_flight:
            self._dispatch(key, group)
        return await future

    async def aclose(self) -> None:
        """Wait for the batches in flight (their usage is counted before storage closes)."""
        while self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    def _batch_size(self, key: K) -> int:
        size = self._max_batch if isinstance(self._max_batch, int) else self._max_batch(key)
        return max(1, size)

    def _dispatch(self, key: K, group: _Group[Q, R]) -> None:
        size = self._batch_size(key)
        batch = group.waiting[:size]
        del group.waiting[:size]
        group.in_flight += 1
        task = asyncio.get_running_loop().create_task(self._run(key, batch))
        self._tasks.add(task)
        # A callback, not a ``finally``: it runs even for a task cancelled before its first step.
        task.add_done_callback(lambda done: self._finish(key, group, batch, done))

    async def _run(self, key: K, batch: list[tuple[Q, asyncio.Future[R]]]) -> None:
        # Requests cancelled while waiting (a client gone) are not searched for.
        live = [(query, future) for query, future in batch if not future.done()]
        if not live:
            return
        queries = [query for query, _ in live]
        outcomes = await to_thread.run_sync(self._outcomes, key, queries)
        for (_, future), (ok, value) in zip(live, outcomes, strict=True):
            if future.done():
                continue
            if ok:
                future.set_result(value)  # type: ignore[arg-type]
            else:
                assert isinstance(value, Exception)
                future.set_exception(value)

    def _finish(
        self,
        key: K,
        group: _Group[Q, R],
        batch: list[tuple[Q, asyncio.Future[R]]],
        task: asyncio.Task[None],
    ) -> None:
        """Settle a finished batch: no request of it is left waiting, and the next one goes."""
        self._tasks.discard(task)
        group.in_flight -= 1
        cause = None if task.cancelled() else task.exception()
        told = False
        for _, future in batch:
            if not future.done():
                failure = RuntimeError("the search batch ended without an answer")
                failure.__cause__ = cause
                future.set_exception(failure)
                told = True
        if cause is not None and not told:  # every request of the batch had gone: log it
            logger.error("a search batch failed", exc_info=cause)
        if task.cancelled():  # the loop is going away: nothing more will run
            for _, future in group.waiting:
                future.cancel()
            group.waiting.clear()
        if group.waiting:
            self._dispatch(key, group)
        elif group.in_flight == 0 and self._groups.get(key) is group:
            del self._groups[key]

    def _outcomes(self, key: K, queries: list[Q]) -> list[tuple[bool, R | Exception]]:
        """Each query's outcome (a worker thread).

        The batch at once; if it fails, the first query alone. When that fails the same way,
        the others go once more together: failing the same way again, the failure is the
        batch's (Milvus down, a filter they share) and every query gets it (three calls in all);
        otherwise, or when the first query succeeded or failed otherwise, the rest are run one
        by one, so one bad query fails only its own request.
        """
        try:
            return [(True, result) for result in self._checked(key, queries)]
        except Exception as exc:
            if len(queries) == 1:
                return [(False, exc)]
            failure = exc
        first, rest = self._alone(key, queries[0]), queries[1:]
        if not first[0] and _same_failure(first[1], failure):
            try:
                return [first, *[(True, result) for result in self._checked(key, rest)]]
            except Exception as exc:
                if _same_failure(exc, failure):
                    return [first, (False, exc), *[(False, _own_copy(exc)) for _ in rest[1:]]]
        return [first, *[self._alone(key, query) for query in rest]]

    def _alone(self, key: K, query: Q) -> tuple[bool, R | Exception]:
        try:
            return True, self._checked(key, [query])[0]
        except Exception as exc:
            return False, exc

    def _checked(self, key: K, queries: list[Q]) -> Sequence[R]:
        results = self._run_batch(key, queries)
        if len(results) != len(queries):
            raise RuntimeError(f"a batch of {len(queries)} queries gave {len(results)} results")
        return results


def _same_failure(one: object, other: Exception) -> bool:
    """Whether two failures look alike (same type and message)."""
    try:
        return type(one) is type(other) and str(one) == str(other)
    except Exception:  # a message that cannot be rendered: call them different
        return False


def _own_copy(exc: Exception) -> Exception:
    """A copy of ``exc`` (attributes such as a status or code included) for one request:
    raising one object from many requests would pile their tracebacks onto it."""
    try:
        twin = exc.__class__.__new__(exc.__class__)
        twin.__dict__.update(exc.__dict__)
        twin.args = exc.args
    except Exception:  # a type that cannot be copied this way: share it
        return exc
    twin.__cause__, twin.__suppress_context__ = exc.__cause__, exc.__suppress_context__
    return twin
