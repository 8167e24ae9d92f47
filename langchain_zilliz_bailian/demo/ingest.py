"""Pipelines for the demo corpus: find or create the set, then (re)ingest every document.

Rerunning against kept state is idempotent: an existing set is reused and each document is purged
by name before it is uploaded again, so the collection never holds duplicate chunks.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import httpx

from langchain_zilliz_bailian.demo.corpus import CorpusFile
from langchain_zilliz_bailian.demo.endpoints import Endpoints
from langchain_zilliz_bailian.zilliz import ZillizPipelinesClient
from langchain_zilliz_bailian.zilliz.client import PipelineSet
from langchain_zilliz_bailian.zilliz.models import Pipeline

SET_NAME = "zb_demo"
COLLECTION = "zb_demo_corpus"
#: The one preserved field: which corpus document a chunk came from, by subject.
PRESERVE = {"topic": "VarChar"}


@dataclass
class IngestReport:
    """What ingestion stored: chunks per document and the embedding tokens spent."""

    chunks: dict[str, int] = field(default_factory=dict)
    tokens: int = 0
    purged_chunks: int = 0

    @property
    def total_chunks(self) -> int:
        """Chunks stored over all documents."""
        return sum(self.chunks.values())


def zilliz_client(endpoints: Endpoints) -> ZillizPipelinesClient:
    """A Pipelines client for ``endpoints``; its pool (``client.http.client``) is shared."""
    return ZillizPipelinesClient(
        api_key=endpoints.zilliz_api_key, base_url=endpoints.zilliz_base_url
    )


def _existing_set(client: ZillizPipelinesClient, project_id: str) -> PipelineSet | None:
    """The demo's three pipelines if a previous run left them (all serving) in the project."""
    by_name: dict[str, Pipeline] = {}
    for pipeline in client.list(project_id):
        if pipeline.is_serving:
            by_name.setdefault(pipeline.name, pipeline)
    ingestion = by_name.get(f"{SET_NAME}_ingestion")
    search = by_name.get(f"{SET_NAME}_search")
    deletion = by_name.get(f"{SET_NAME}_deletion")
    if ingestion is None or search is None or deletion is None:
        return None
    return PipelineSet(ingestion, search, deletion, extra={"reused": True})


def ensure_pipelines(client: ZillizPipelinesClient, endpoints: Endpoints) -> PipelineSet:
    """Reuse the demo's pipeline set or create it (doc kind, one preserved ``topic`` field)."""
    found = _existing_set(client, endpoints.project_id)
    if found is not None:
        return found
    return client.create_pipeline_set(
        name=SET_NAME,
        project_id=endpoints.project_id,
        cluster_id=endpoints.cluster_id,
        collection_name=COLLECTION,
        kind="doc",
        preserve=PRESERVE,
        description="langchain-zilliz-bailian demo corpus",
    )


def ingest_corpus(
    pipelines: PipelineSet,
    files: Sequence[CorpusFile],
    endpoints: Endpoints,
    zilliz_http: httpx.Client,
) -> IngestReport:
    """Upload each document with its topic through ``ZillizPipelineLoader`` (multipart files).

    Preserved values apply to a whole request, so each topic gets its own loader; all of them
    share one connection pool.
    """
    from langchain_zilliz_bailian.document_loaders import ZillizPipelineLoader

    report = IngestReport()
    for corpus_file in files:
        loader = ZillizPipelineLoader(
            pipelines.ingestion.pipeline_id,
            file_paths=[corpus_file.path],
            metadata={"topic": corpus_file.topic},
            deletion_pipeline_id=pipelines.deletion.pipeline_id,
            api_key=endpoints.zilliz_api_key,
            base_url=endpoints.zilliz_base_url,
            http_client=zilliz_http,
        )
        if pipelines.extra.get("reused"):
            report.purged_chunks += loader.delete(doc_name=corpus_file.name).num_deleted
        for stored in loader.lazy_load():
            report.chunks[stored.metadata["doc_name"]] = int(stored.metadata["num_chunks"])
        report.tokens += loader.total_tokens
    return report
