"""Three scripted TEXT pipelines for the keyed-records and vector store tests (MockTransport)."""

from __future__ import annotations

import json
from typing import Any

import httpx

from langchain_zilliz_bailian.zilliz.keyed import KeyedRecords, keyed_preserve
from tests.fakes.zilliz import describe_path, described, fail, ok

INGEST = "pipe-00000000000000000000in"
SEARCH = "pipe-00000000000000000000se"
DELETE = "pipe-00000000000000000000de"


def ingestion_functions(fields: dict[str, str]) -> list[dict[str, Any]]:
    """The functions a describe call shows for a TEXT ingestion pipeline preserving ``fields``."""
    keep = [
        {"action": "PRESERVE", "inputField": name, "outputField": name, "fieldType": kind}
        for name, kind in fields.items()
    ]
    return [{"name": "index", "action": "INDEX_TEXT"}, *keep]


class Pipelines:
    """Three scripted TEXT pipelines; ``runs`` logs ``(pipeline id, data, params)`` of each run.

    The ingestion pipeline preserves ``lc_id`` and ``lc_metadata`` (VarChar) and ``year``
    (Int16) unless ``fields`` says otherwise; ``fail_at`` makes that ingestion (0-based) fail.
    """

    def __init__(
        self,
        *,
        fields: dict[str, str] | None = None,
        hits: list[dict[str, Any]] | None = None,
        fail_at: int | None = None,
    ) -> None:
        self.fields = fields if fields is not None else {**keyed_preserve(), "year": "Int16"}
        self.hits = hits or []
        self.fail_at = fail_at
        self.runs: list[tuple[str, dict[str, Any], dict[str, Any] | None]] = []
        self.ingested = 0
        #: How each request came: "sync" or "async" (describe calls included).
        self.via: list[str] = []

    def __call__(self, request: httpx.Request, via: str = "sync") -> httpx.Response:
        self.via.append(via)
        pipeline_id = describe_path(request)
        if pipeline_id == INGEST:
            functions = ingestion_functions(self.fields)
            body = {"pipelineId": INGEST, "type": "INGESTION", "status": "SERVING"}
            return ok({**body, "functions": functions})
        if pipeline_id is not None:
            return described(pipeline_id, "SEARCH" if pipeline_id == SEARCH else "DELETION")
        body = json.loads(request.content)
        target = request.url.path.split("/")[3]
        self.runs.append((target, body["data"], body.get("params")))
        if target == INGEST:
            self.ingested += 1
            if self.ingested - 1 == self.fail_at:
                return fail(65536, "internal error", status=500)
            return ok({"num_entities": 1, "ids": [450000000000000000 + self.ingested]})
        if target == DELETE:
            return ok({"num_deleted_entities": 2})
        return ok({"result": self.hits, "usage": {"embedding": 1}})

    def of(self, pipeline_id: str) -> list[tuple[dict[str, Any], dict[str, Any]]]:
        """``(data, params)`` of each run of ``pipeline_id`` (``params`` ``{}`` when absent)."""
        return [(data, params or {}) for target, data, params in self.runs if target == pipeline_id]


def connection(pipelines: Pipelines) -> dict[str, Any]:
    """Connection settings that send every request to ``pipelines`` (sync or async)."""

    async def handler(request: httpx.Request) -> httpx.Response:
        await request.aread()
        return pipelines(request, via="async")

    return {
        "api_key": "zk-1",
        "base_url": "https://zilliz.example.test",
        "http_client": httpx.Client(transport=httpx.MockTransport(pipelines)),
        "http_async_client": httpx.AsyncClient(transport=httpx.MockTransport(handler)),
        "max_retries": 0,
    }


def records(pipelines: Pipelines, **options: Any) -> KeyedRecords:
    """KeyedRecords over ``pipelines`` (metadata field ``lc_metadata`` unless ``options`` say)."""
    return KeyedRecords(
        INGEST,
        SEARCH,
        DELETE,
        **{"metadata_field": "lc_metadata", **options},
        **connection(pipelines),
    )
