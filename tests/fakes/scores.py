"""Search hits at known distances and search pipelines naming a metric, for score_threshold tests."""

from __future__ import annotations

import uuid
from typing import Any

from langchain_zilliz_bailian.zilliz.client import ZillizPipelinesClient

PIPE = "pipe-6ca5dd1b4672659d3c3487"
#: Best first, as a similarity (COSINE, IP) ranks them: higher is closer.
SIMILAR_HITS: list[dict[str, Any]] = [
    {"id": 1, "distance": 0.9, "text": "near"},
    {"id": 2, "distance": 0.6, "text": "middle"},
    {"id": 3, "distance": 0.2, "text": "far"},
]
#: The same hits as L2 distances (0.1, 0.4, 0.8): smaller is closer.
L2_HITS = [{**hit, "distance": round(1 - float(hit["distance"]), 3)} for hit in SIMILAR_HITS]
TEXTS = [
    "Milvus Lite keeps its data in one local directory.",
    "Bailian apps answer questions with citations.",
    "The weather in Hangzhou is mild in spring.",
]
QUERY = "Where does Milvus Lite keep its data?"


def search_pipeline(**function: Any) -> dict[str, Any]:
    """A describe answer's data for a serving SEARCH_TEXT pipeline; ``function`` adds keys."""
    return {
        "pipelineId": PIPE,
        "type": "SEARCH",
        "status": "SERVING",
        "functions": [{"name": "search", "action": "SEARCH_TEXT", **function}],
    }


def indexed_texts(local_server: Any) -> str:
    """A fresh text pipeline set on the local server holding :data:`TEXTS`; its search id."""
    name = f"thr_{uuid.uuid4().hex[:8]}"
    with ZillizPipelinesClient(base_url=local_server.url, api_key=local_server.api_key) as zc:
        made = zc.create_pipeline_set(
            name=name,
            project_id="proj-local",
            cluster_id="in01-local",
            collection_name=name,
            kind="text",
        )
        zc.ingest_texts(made.ingestion.pipeline_id, TEXTS)
    return made.search.pipeline_id
