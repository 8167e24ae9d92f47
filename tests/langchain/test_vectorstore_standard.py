"""langchain-tests' standard vector store suite for ``ZillizPipelineVectorStore``.

Runs live against the session's local compatible server: each test gets an empty store over a
pipeline set of its own (made by ``ZillizPipelineVectorStore.create``, whose JSON metadata field
keeps keys such as ``id`` that a collection cannot preserve as fields of their own). The suite's
``get_embeddings`` is not used: the pipelines embed on the server, so the fixture passes none.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from langchain_tests.integration_tests import VectorStoreIntegrationTests

from langchain_zilliz_bailian.vectorstores import ZillizPipelineVectorStore

pytestmark = pytest.mark.server


class TestZillizPipelineVectorStore(VectorStoreIntegrationTests):
    @pytest.fixture
    def vectorstore(self, local_server: Any) -> Iterator[ZillizPipelineVectorStore]:
        store = ZillizPipelineVectorStore.create(
            name=f"std_{uuid.uuid4().hex[:10]}",
            project_id="proj-local",
            cluster_id="in01-local",
            base_url=local_server.url,
            api_key=local_server.api_key,
        )
        with store:
            yield store
