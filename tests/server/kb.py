"""A small document knowledge base on the session's server, for the app tests that retrieve."""

from __future__ import annotations

import json

import httpx

from tests.server.conftest import make_doc_pipelines, ok, unique
from tests.server.test_server_bailian import KB


def doc_kb(http: httpx.Client, text: str = KB, name: str = "milvus-lite.md") -> dict[str, str]:
    """Doc pipelines holding ``text`` as one Markdown document; their ids by role."""
    pipes = make_doc_pipelines(http, unique("kb"), chunk_size=60)
    ok(
        http.post(
            f"/v1/pipelines/{pipes['ingestion']}/run_ingestion_with_file",
            files={"file": (name, text.encode(), "text/markdown")},
            data={"data": json.dumps({"year": 2025})},
        )
    )
    return pipes
