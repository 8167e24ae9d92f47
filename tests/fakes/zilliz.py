"""Test helpers: an in-memory ``httpx.MockTransport`` with scripted answers and a request log."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import httpx
import pytest

Handler = Callable[[httpx.Request], httpx.Response]


#: The main action of a pipeline of each type, as a describe call reports it.
ACTIONS = {"INGESTION": "INDEX_TEXT", "SEARCH": "SEARCH_TEXT", "DELETION": "PURGE_TEXT_INDEX"}


def described(pipeline_id: str, kind: str, *, status: str = "SERVING") -> httpx.Response:
    """A describe answer for a pipeline of type ``kind`` (``INGESTION``, ``SEARCH``, ...)."""
    function = {"name": "main", "action": ACTIONS.get(kind, kind)}
    return ok({"pipelineId": pipeline_id, "type": kind, "status": status, "functions": [function]})


def describe_path(request: httpx.Request) -> str | None:
    """The pipeline id a request describes (``GET /v1/pipelines/{id}``), else ``None``."""
    parts = request.url.path.strip("/").split("/")
    if request.method == "GET" and len(parts) == 3 and parts[:2] == ["v1", "pipelines"]:
        return parts[2]
    return None


class Script:
    """Answers requests from a list of responses/exceptions in order; records every request.

    ``pipelines`` (id -> type) answers describe calls for those pipelines apart from the script:
    they are listed in ``described``, not in ``requests``.
    """

    def __init__(
        self,
        answers: Iterable[httpx.Response | Exception | Handler],
        *,
        pipelines: Mapping[str, str] | None = None,
    ) -> None:
        self.answers = list(answers)
        self.requests: list[httpx.Request] = []
        self.pipelines = dict(pipelines or {})
        self.described: list[str] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        request.read()
        pipeline_id = describe_path(request)
        if pipeline_id in self.pipelines:
            self.described.append(pipeline_id)
            return described(pipeline_id, self.pipelines[pipeline_id])
        self.requests.append(request)
        if not self.answers:
            raise AssertionError(f"unexpected request {request.method} {request.url}")
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        if isinstance(answer, Exception):
            raise answer
        if callable(answer) and not isinstance(answer, httpx.Response):
            return answer(request)
        if hasattr(answer, "_content"):  # a fresh copy, so one scripted answer can be sent twice
            return httpx.Response(
                answer.status_code, headers=answer.headers, content=answer.content
            )
        return answer

    def bodies(self) -> list[Any]:
        return [json.loads(r.content) if r.content else None for r in self.requests]

    def sync_client(self) -> httpx.Client:
        return httpx.Client(transport=httpx.MockTransport(self))

    def async_client(self) -> httpx.AsyncClient:
        async def handler(request: httpx.Request) -> httpx.Response:
            await request.aread()
            return self(request)

        return httpx.AsyncClient(transport=httpx.MockTransport(handler))


def ok(data: Any, *, code: int = 200, status: int = 200, **headers: str) -> httpx.Response:
    return httpx.Response(status, json={"code": code, "data": data}, headers=headers)


def fail(code: Any, message: str, *, status: int = 200, **headers: str) -> httpx.Response:
    return httpx.Response(status, json={"code": code, "message": message}, headers=headers)


class StoringOnAnswer:
    """An async ingestion pipeline that applies each write as it answers, a little after it
    arrived (ids are 1000 + a text's digits); ``stored`` is what it applied."""

    def __init__(self, pipeline_id: str) -> None:
        self.pipeline_id = pipeline_id
        self.stored: set[str] = set()

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        if describe_path(request):
            return described(self.pipeline_id, "INGESTION")
        texts = json.loads(await request.aread())["data"]["text_list"]
        ids = [str(1000 + int(text[1:])) for text in texts]
        await asyncio.sleep(0.02)  # the write is applied once the server answers
        self.stored.update(ids)
        return ok({"num_entities": len(ids), "ids": [int(i) for i in ids]})


def unyielded_ids(messages: Iterable[str]) -> set[str]:
    """The ids (1000-1999) the "stored but not yielded" warnings name."""
    found: set[str] = set()
    for message in messages:
        if "not yielded" in message:
            found.update(re.findall(r"\b1\d{3}\b", message))
    return found


def record_closes(monkeypatch: pytest.MonkeyPatch, *classes: type) -> list[tuple[str, str]]:
    """Replace ``close``/``aclose`` of the client ``classes``; the list fills with
    ``(class name, "close" | "aclose")`` as they are called."""
    calls: list[tuple[str, str]] = []
    for cls in classes:

        def close(self: Any, name: str = cls.__name__) -> None:
            calls.append((name, "close"))

        async def aclose(self: Any, name: str = cls.__name__) -> None:
            calls.append((name, "aclose"))

        monkeypatch.setattr(cls, "close", close)
        monkeypatch.setattr(cls, "aclose", aclose)
    return calls


async def close_every_way(thing: Any) -> None:
    """``with``, ``async with``, ``close()`` and ``aclose()`` on ``thing``, in that order."""
    with thing as entered:
        assert entered is thing
    async with thing as entered:
        assert entered is thing
    thing.close()
    await thing.aclose()


#: What :func:`close_every_way` closes, in order.
EVERY_WAY = ("close", "aclose", "close", "aclose")


async def closes_of(
    monkeypatch: pytest.MonkeyPatch, thing: Any, *, connect: bool = True
) -> list[tuple[str, str]]:
    """What :func:`close_every_way` closes on a framework object (connected first, unless
    ``connect`` is false), as ``(client class name, "close" | "aclose")``."""
    from langchain_zilliz_bailian.bailian import BailianAppClient
    from langchain_zilliz_bailian.zilliz import ZillizPipelinesClient

    closed = record_closes(monkeypatch, ZillizPipelinesClient, BailianAppClient)
    if connect:
        assert thing.client is not None
    await close_every_way(thing)
    return closed


async def assert_closes_its_client(
    monkeypatch: pytest.MonkeyPatch, make: Callable[[], Any], *, lazy: bool
) -> None:
    """Closing every way closes the client once it exists; a ``lazy`` object that never
    connected builds nothing just to close it."""
    if lazy:
        assert await closes_of(monkeypatch, make(), connect=False) == []
    thing = make()
    connected = type(thing.client).__name__
    assert await closes_of(monkeypatch, thing) == [(connected, way) for way in EVERY_WAY]
