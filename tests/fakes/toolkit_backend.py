"""Zilliz pipelines and Bailian apps answered from memory, for the toolkit and tool-spec tests,
and the HR pipelines both frameworks' agent tests search on the local server.

One ``httpx`` mock transport serves both services (the toolkits share one client pair): a
``GET`` describes a pipeline by id, a pipeline ``run`` returns :data:`HITS`, an app call answers
with a session id (a new one unless the request continued one). Every request is recorded.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import httpx

ZILLIZ_URL = "https://zilliz.example.test"
DASHSCOPE_URL = "https://dashscope.example.test/api/v1"
HITS = [
    {"id": 7, "distance": 0.91, "text": "Employees get 25 days of paid leave.", "topic": "leave"},
]
#: What :func:`hr_pipelines` stores.
LEAVE_FACT = "Employees get 25 days of paid leave a year."
TRAVEL_FACT = "Trains are booked two weeks ahead."
ANSWER = "Employees get 25 days of paid leave.<ref>[1]</ref>"


def pipe(n: int) -> str:
    """A well-formed pipeline id."""
    return f"pipe-{n:022x}"


class ToolBackend:
    """The two services; ``pipelines`` maps pipeline id to (name, description)."""

    def __init__(self, pipelines: dict[str, tuple[str, str]]) -> None:
        self.pipelines = pipelines
        self.requests: list[httpx.Request] = []
        self.app_inputs: list[dict[str, Any]] = []
        self._sessions = 0

    def _pipeline(self, pipeline_id: str) -> dict[str, Any]:
        name, description = self.pipelines[pipeline_id]
        return {
            "pipelineId": pipeline_id,
            "name": name,
            "description": description,
            "type": "SEARCH",
            "status": "SERVING",
            "functions": [{"action": "SEARCH_TEXT", "inputFields": ["query_text"]}],
        }

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        path = request.url.path
        if "/apps/" in path:
            given = json.loads(request.content)["input"]
            self.app_inputs.append(given)
            if "session_id" not in given:
                self._sessions += 1
            session = given.get("session_id", f"sess-{self._sessions}")
            output = {"text": ANSWER, "session_id": session, "finish_reason": "stop",
                      "doc_references": [{"index_id": "1", "title": "Leave policy",
                                          "doc_name": "hr.md"}]}  # fmt: skip
            return httpx.Response(200, json={"output": output, "usage": {}, "request_id": "r1"})
        pipeline_id = path.split("/")[3]
        data = self._pipeline(pipeline_id) if request.method == "GET" else {"result": HITS}
        return httpx.Response(200, json={"code": 200, "data": data})

    async def ahandle(self, request: httpx.Request) -> httpx.Response:
        await request.aread()
        return self.handle(request)

    def clients(self) -> dict[str, Any]:
        return {
            "http_client": httpx.Client(transport=httpx.MockTransport(self.handle)),
            "http_async_client": httpx.AsyncClient(transport=httpx.MockTransport(self.ahandle)),
        }

    def searches(self) -> list[dict[str, Any]]:
        """The bodies of the pipeline runs so far."""
        return [json.loads(r.content) for r in self.requests if r.url.path.endswith("/run")]


def hr_pipelines(server: Any) -> tuple[str, str]:
    """A text pipeline set on the local ``server`` holding two HR facts (``topic`` preserved):
    the search pipeline's id and the tool name the toolkits give it."""
    from langchain_zilliz_bailian.zilliz import ZillizPipelinesClient

    suffix = uuid.uuid4().hex[:6]
    with ZillizPipelinesClient(api_key=server.api_key, base_url=server.url) as zc:
        made = zc.create_pipeline_set(
            name=f"hr_policies_{suffix}", project_id="proj-local", cluster_id="in01-local",
            collection_name=f"hr_{suffix}", kind="text", preserve={"topic": "VarChar"},
            description="Company HR policies",
        )  # fmt: skip
        ingest = made.ingestion.pipeline_id
        zc.ingest_texts(ingest, [LEAVE_FACT], metadata={"topic": "leave"})
        zc.ingest_texts(ingest, [TRAVEL_FACT], metadata={"topic": "travel"})
    return made.search.pipeline_id, f"search_hr_policies_{suffix}"
