"""Describe each pipeline once, before its first run, and check it can do the job it is given.

Shared by the retrievers (a SEARCH pipeline, whose function also picks a hit's text field), the
loader and the reader (an INGESTION pipeline, and a DELETION one for deletes). A pipeline of the
wrong type fails here with :class:`~langchain_zilliz_bailian.errors.PipelineTypeError`, naming
both types, instead of with the server's misleading answer to the run (``data.doc_url is
required`` for an ingestion id given to a retriever); one that is not ``SERVING`` fails with
:class:`~langchain_zilliz_bailian.zilliz.actions.PipelineNotServingError`.
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any, Literal

from langchain_zilliz_bailian.errors import PipelineTypeError
from langchain_zilliz_bailian.zilliz.actions import check_serving
from langchain_zilliz_bailian.zilliz.client import ZillizPipelinesClient
from langchain_zilliz_bailian.zilliz.models import Pipeline

__all__ = ["DescribedPipelines", "PipelineType", "check_type", "pipeline_type"]

PipelineType = Literal["INGESTION", "SEARCH", "DELETION"]

#: The type a function's action implies, for a server whose describe leaves ``type`` out.
_TYPE_OF_ACTION = (("INDEX_", "INGESTION"), ("SEARCH_", "SEARCH"), ("PURGE_", "DELETION"))


def pipeline_type(pipeline: Pipeline) -> str | None:
    """The pipeline's declared type, else the one its action implies (``None``: unknown)."""
    if pipeline.type:
        return pipeline.type
    action = pipeline.action or ""
    for prefix, kind in _TYPE_OF_ACTION:
        if action.startswith(prefix):
            return kind
    return None


def check_type(pipeline: Pipeline, expected: PipelineType) -> Pipeline:
    """``pipeline`` itself, or :class:`PipelineTypeError` when its type is known and differs."""
    actual = pipeline_type(pipeline)
    if actual is not None and actual != expected:
        raise PipelineTypeError(pipeline.pipeline_id, expected, actual)
    return pipeline


class DescribedPipelines:
    """The pipelines one retriever, loader or reader uses, each described once, on first use.

    Single-flight: concurrent first uses make one describe call. Sync callers queue on a lock per
    pipeline id; async ones share one in-flight describe per pipeline and event loop (a waiter
    that is cancelled does not cancel it for the others). A pipeline is remembered only once it
    passed its checks, so a failed describe, or a pipeline that was not ``SERVING`` yet, is
    described again next time.
    """

    def __init__(self) -> None:
        self._known: dict[str, Pipeline] = {}
        self._guard = threading.Lock()
        self._locks: dict[str, threading.Lock] = {}
        # (id of the event loop, pipeline id) -> the describe in flight there
        self._inflight: dict[tuple[int, str], asyncio.Task[Pipeline]] = {}

    def __deepcopy__(self, memo: dict[int, Any]) -> DescribedPipelines:
        """A copy that knows the same pipelines (locks and in-flight calls are not copied)."""
        copy = DescribedPipelines()
        copy._known = dict(self._known)
        return copy

    def get(self, pipeline_id: str) -> Pipeline | None:
        """The pipeline as described, or ``None`` before its first use."""
        return self._known.get(pipeline_id)

    def require(
        self, client: ZillizPipelinesClient, pipeline_id: str, expected: PipelineType
    ) -> Pipeline:
        """The pipeline (described on first use), if it is an ``expected`` one that serves."""
        known = self._known.get(pipeline_id)
        if known is not None:
            return check_type(known, expected)
        with self._guard:
            lock = self._locks.setdefault(pipeline_id, threading.Lock())
        with lock:  # the first caller describes; the others find it known
            known = self._known.get(pipeline_id)
            if known is not None:
                return check_type(known, expected)
            return self._remember(pipeline_id, client.describe(pipeline_id), expected)

    async def arequire(
        self, client: ZillizPipelinesClient, pipeline_id: str, expected: PipelineType
    ) -> Pipeline:
        """Async twin of :meth:`require`."""
        known = self._known.get(pipeline_id)
        if known is not None:
            return check_type(known, expected)
        loop = asyncio.get_running_loop()
        key = (id(loop), pipeline_id)
        task = self._inflight.get(key)
        if task is None or task.get_loop() is not loop:
            task = loop.create_task(client.adescribe(pipeline_id))
            self._inflight[key] = task
            task.add_done_callback(lambda done: self._landed(key, done))
        pipeline = await asyncio.shield(task)
        known = self._known.get(pipeline_id)
        if known is not None:
            return check_type(known, expected)
        return self._remember(pipeline_id, pipeline, expected)

    def _landed(self, key: tuple[int, str], task: asyncio.Task[Pipeline]) -> None:
        """Forget a finished describe (a failed one is tried again) and mark its error seen."""
        if self._inflight.get(key) is task:
            del self._inflight[key]
        if not task.cancelled():
            task.exception()  # every waiter got it; no "exception never retrieved" warning

    def _remember(self, pipeline_id: str, pipeline: Pipeline, expected: PipelineType) -> Pipeline:
        check_serving(check_type(pipeline, expected))
        self._known[pipeline_id] = pipeline
        return pipeline
