"""The retriever and loader against the live local server: langchain-tests' standard suite and
the write side end to end (the server is started by the test session, on loopback)."""

from __future__ import annotations

from typing import Any

import pytest
from langchain_core.documents import Document
from langchain_tests.integration_tests import RetrieversIntegrationTests

from langchain_zilliz_bailian import ZillizPipelineLoader, ZillizPipelineRetriever
from langchain_zilliz_bailian.errors import InternalServerError
from langchain_zilliz_bailian.zilliz import ZillizPipelinesClient

DOCS = [
    Document(
        page_content="Milvus Lite stores collections in a local directory.",
        metadata={"topic": "storage"},
    ),
    Document(
        page_content="Milvus Lite reopens its directory after a restart.",
        metadata={"topic": "storage"},
    ),
    Document(
        page_content="Milvus Lite needs no separate server process.", metadata={"topic": "storage"}
    ),
    Document(
        page_content="Bailian apps answer with references to their sources.",
        metadata={"topic": "apps"},
    ),
    Document(
        page_content="Pipelines embed text before storing it in Milvus.",
        metadata={"topic": "pipelines"},
    ),
]


@pytest.fixture(scope="module")
def corpus(local_server):
    with ZillizPipelinesClient(api_key=local_server.api_key, base_url=local_server.url) as client:
        made = client.create_pipeline_set(
            name="live_suite",
            project_id="proj-0123456789abcdef",
            cluster_id="in03-0123456789abcdef",
            collection_name="live_suite_col",
            kind="text",
            preserve={"topic": "VarChar"},
        )
    stored = ZillizPipelineLoader(
        made.ingestion.pipeline_id,
        documents=DOCS,
        api_key=local_server.api_key,
        base_url=local_server.url,
    ).load()
    assert len(stored) == len(DOCS)
    return made, local_server


class TestZillizPipelineRetrieverStandard(RetrieversIntegrationTests):
    @pytest.fixture(autouse=True)
    def _server(self, corpus):
        made, server = corpus
        self._params = {
            "pipeline_id": made.search.pipeline_id,
            "api_key": server.api_key,
            "base_url": server.url,
            "output_fields": ["topic"],
        }

    @property
    def retriever_constructor(self) -> type[ZillizPipelineRetriever]:
        return ZillizPipelineRetriever

    @property
    def retriever_constructor_params(self) -> dict[str, Any]:
        return self._params

    @property
    def retriever_query_example(self) -> str:
        return "Where does Milvus Lite store its data?"


def test_filter_and_metadata_live(corpus):
    made, server = corpus
    retriever = ZillizPipelineRetriever(
        pipeline_id=made.search.pipeline_id,
        api_key=server.api_key,
        base_url=server.url,
        output_fields=["topic"],
    )
    docs = retriever.invoke("Milvus", k=10, filter='topic == "storage"')
    assert len(docs) == 3
    assert {d.metadata["topic"] for d in docs} == {"storage"}
    assert all(
        isinstance(d.metadata["id"], str) and isinstance(d.metadata["distance"], float)
        for d in docs
    )
    assert [
        d.metadata["id"]
        for d in retriever.invoke("Milvus", k=2, offset=1, filter='topic == "storage"')
    ] == [d.metadata["id"] for d in docs[1:3]]


def test_ingestion_is_not_repeated_after_a_server_500(local_server):
    """The fault injector answers one 500 to the next run; the loader must not send it again."""
    with ZillizPipelinesClient(api_key=local_server.api_key, base_url=local_server.url) as client:
        made = client.create_pipeline_set(
            name="fault_once",
            project_id="proj-0123456789abcdef",
            cluster_id="in03-0123456789abcdef",
            collection_name="fault_once_col",
            kind="text",
        )
    # The loader's first request describes the pipeline: a no-op fault lets it through, the 500
    # hits the ingestion run.
    no_op = {"kind": "latency", "ms": 0, "count": 1, "scope": "zilliz"}
    fault = {"kind": "500", "count": 1, "scope": "zilliz"}
    local_server.faults.update({"fail_next": [no_op, fault]})
    try:
        with pytest.raises(InternalServerError) as info:  # nothing stored: the cause itself
            ZillizPipelineLoader(
                made.ingestion.pipeline_id,
                texts=["only once"],
                api_key=local_server.api_key,
                base_url=local_server.url,
                max_retries=3,
            ).load()
    finally:
        local_server.faults.reset()
    assert info.value.unknown_outcome == ["only once"]
    with ZillizPipelinesClient(api_key=local_server.api_key, base_url=local_server.url) as client:
        assert client.search(made.search.pipeline_id, "only once").hits == []
