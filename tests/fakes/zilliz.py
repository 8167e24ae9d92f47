"""Test helpers: an in-memory ``httpx.MockTransport`` with scripted answers and a request log."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import httpx

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
