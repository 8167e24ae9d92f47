"""LangChain's indexing API over ``ZillizPipelineVectorStore``, against the local server.

What issue 13 asks of it: a second run over unchanged documents adds 0 and skips all, and
changing one document adds 1 and deletes 1, in ``incremental`` and ``full`` cleanup modes,
through ``index()`` and ``aindex()`` alike; the store ends up holding exactly the documents.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from langchain_core.documents import Document
from langchain_core.indexing import InMemoryRecordManager, aindex, index

from langchain_zilliz_bailian.vectorstores import ZillizPipelineVectorStore

pytestmark = pytest.mark.server

DOCS = [
    Document(page_content=f"Note {n}: the {word} service runs nightly.", metadata={"source": src})
    for n, (word, src) in enumerate(
        [("backup", "a.md"), ("billing", "a.md"), ("search", "b.md"), ("mail", "c.md")]
    )
]


def fresh_store(server: Any) -> ZillizPipelineVectorStore:
    """A store over a new pipeline set (its own collection), made with ``create``."""
    return ZillizPipelineVectorStore.create(
        name=f"idx_{uuid.uuid4().hex[:10]}",
        project_id="proj-local",
        cluster_id="in01-local",
        base_url=server.url,
        api_key=server.api_key,
    )


def stored_texts(store: ZillizPipelineVectorStore) -> list[str]:
    return sorted(doc.page_content for doc in store.similarity_search("service", k=50))


def changed(docs: list[Document], at: int) -> list[Document]:
    edited = Document(page_content=docs[at].page_content + " (edited)", metadata=docs[at].metadata)
    return [*docs[:at], edited, *docs[at + 1 :]]


@pytest.mark.parametrize("cleanup", ["incremental", "full"])
def test_index_skips_unchanged_and_replaces_one_changed_document(local_server, cleanup):
    store = fresh_store(local_server)
    manager = InMemoryRecordManager(namespace=f"zilliz/{cleanup}")
    manager.create_schema()
    run = {"record_manager": manager, "vector_store": store, "cleanup": cleanup}
    run.update(source_id_key="source", key_encoder="sha256")

    first = index(DOCS, **run)
    assert first == {"num_added": 4, "num_updated": 0, "num_skipped": 0, "num_deleted": 0}

    again = index(DOCS, **run)
    assert again == {"num_added": 0, "num_updated": 0, "num_skipped": 4, "num_deleted": 0}
    assert len(stored_texts(store)) == 4  # nothing stored twice

    edited = changed(DOCS, 2)
    after = index(edited, **run)
    assert after == {"num_added": 1, "num_updated": 0, "num_skipped": 3, "num_deleted": 1}
    assert stored_texts(store) == sorted(doc.page_content for doc in edited)


@pytest.mark.parametrize("cleanup", ["incremental", "full"])
async def test_aindex_skips_unchanged_and_replaces_one_changed_document(local_server, cleanup):
    store = fresh_store(local_server)
    manager = InMemoryRecordManager(namespace=f"zilliz/a{cleanup}")
    await manager.acreate_schema()
    run = {"record_manager": manager, "vector_store": store, "cleanup": cleanup}
    run.update(source_id_key="source", key_encoder="sha256")

    first = await aindex(DOCS, **run)
    assert first == {"num_added": 4, "num_updated": 0, "num_skipped": 0, "num_deleted": 0}
    again = await aindex(DOCS, **run)
    assert again == {"num_added": 0, "num_updated": 0, "num_skipped": 4, "num_deleted": 0}

    edited = changed(DOCS, 0)
    after = await aindex(edited, **run)
    assert after == {"num_added": 1, "num_updated": 0, "num_skipped": 3, "num_deleted": 1}
    hits = await store.asimilarity_search("service", k=50)
    assert sorted(doc.page_content for doc in hits) == sorted(doc.page_content for doc in edited)
    # Every stored record carries the id the record manager knows it by.
    assert {doc.id for doc in hits} == set(manager.list_keys())


def test_full_cleanup_deletes_documents_gone_from_the_source(local_server):
    store = fresh_store(local_server)
    manager = InMemoryRecordManager(namespace="zilliz/gone")
    manager.create_schema()
    index(DOCS, manager, store, cleanup="full", source_id_key="source", key_encoder="sha256")
    result = index(
        DOCS[:3], manager, store, cleanup="full", source_id_key="source", key_encoder="sha256"
    )
    assert result == {"num_added": 0, "num_updated": 0, "num_skipped": 3, "num_deleted": 1}
    assert stored_texts(store) == sorted(doc.page_content for doc in DOCS[:3])
