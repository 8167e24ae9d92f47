"""A text pipeline set on the local server holding a few texts, for citation tests end to end."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from langchain_zilliz_bailian.zilliz import ZillizPipelinesClient

#: Texts the local app quotes from (one sentence each, so a cited span lies inside one).
TEXTS = [
    "Milvus Lite keeps its data in a local directory and survives restarts.",
    "Retries back off exponentially, starting at half a second.",
    "Bailian apps answer with citations to the passages they used.",
]


def text_search_pipeline(server: Any, name: str, texts: Sequence[str] = TEXTS) -> str:
    """Store ``texts`` in a new text pipeline set on ``server``; its search pipeline's id."""
    with ZillizPipelinesClient(api_key=server.api_key, base_url=server.url) as client:
        made = client.create_pipeline_set(
            name=name,
            project_id="proj-0123456789abcdef",
            cluster_id="in03-0123456789abcdef",
            collection_name=f"{name}_col",
            kind="text",
        )
        client.ingest_texts(made.ingestion.pipeline_id, texts)
    return made.search.pipeline_id
