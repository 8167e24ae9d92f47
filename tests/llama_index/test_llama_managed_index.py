"""ZillizPipelineIndex and ZillizCloudPipelineIndex end to end against the local server."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any, Literal

import pytest
from llama_index.core import Settings
from llama_index.core.llms import MockLLM
from llama_index.core.schema import Document, QueryBundle
from llama_index.core.vector_stores import FilterOperator, MetadataFilter, MetadataFilters
from typing_extensions import TypedDict

from langchain_zilliz_bailian.errors import BadRequestError, InvalidInputError
from langchain_zilliz_bailian.zilliz import ZillizPipelinesClient
from llama_index_ext import BailianAppLLM
from llama_index_ext.managed import ZillizPipelineIndex

pytestmark = pytest.mark.server

PROJECT = "proj-0123456789abcdef"
CLUSTER = "in03-0123456789abcdef"
MILVUS = "Milvus Lite keeps its data in one local directory."
BAILIAN = "Bailian apps answer with citations to the passages they used."
PIPES = "A search pipeline embeds the query and returns the nearest chunks."
GUIDE = "# Storage guide\n\nMilvus Lite keeps its data in one directory on the local disk.\n"


def unique(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:8]}"


class Connection(TypedDict):
    api_key: str
    base_url: str


def connection(server: Any) -> Connection:
    return {"api_key": server.api_key, "base_url": server.url}


def stored(index: ZillizPipelineIndex, **retriever: Any) -> list[tuple[str | None, str]]:
    """Everything the search pipeline returns, as sorted ``(ref_doc_id, text)`` pairs."""
    nodes = index.as_retriever(similarity_top_k=20, **retriever).retrieve("milvus data")
    return sorted((n.node.ref_doc_id, n.node.get_content()) for n in nodes)


def make_pipelines(server: Any, data_type: Literal["text", "doc"], **schema: str) -> dict[str, str]:
    """A new pipeline set preserving ``schema`` (field name -> type)."""
    return ZillizPipelineIndex.create_pipelines(
        PROJECT,
        CLUSTER,
        collection_name=unique(f"managed_{data_type}"),
        data_type=data_type,
        metadata_schema=schema,
        **connection(server),
    )


@pytest.fixture
def text_index(local_server: Any) -> ZillizPipelineIndex:
    ids = make_pipelines(local_server, "text", topic="VarChar")
    return ZillizPipelineIndex(ids, **connection(local_server))


@pytest.fixture
def doc_url(local_server: Any) -> str:
    """A ``file://`` URL under the server's data directory (its fetch policy refuses loopback
    HTTP, and the tests never reach the internet)."""
    path = Path(local_server.data_dir) / "uploads" / f"{unique('guide')}.md"
    path.parent.mkdir(exist_ok=True)
    path.write_text(GUIDE, encoding="utf-8")
    return path.as_uri()


def test_create_pipelines_preserves_the_ref_doc_field(local_server: Any) -> None:
    ids = make_pipelines(local_server, "text", year="Int16")
    assert set(ids) == {"INGESTION", "SEARCH", "DELETION"}
    with ZillizPipelinesClient(**connection(local_server)) as client:
        ingestion = client.describe(ids["INGESTION"])
        kinds = {p: client.describe(i).type for p, i in ids.items()}
    preserved = {
        f.output_field: f.field_type for f in ingestion.functions if f.action == "PRESERVE"
    }
    assert preserved == {"year": "INT16", "doc_id": "VARCHAR"}  # types read upper-cased
    assert ingestion.action == "INDEX_TEXT"
    assert kinds == {"INGESTION": "INGESTION", "SEARCH": "SEARCH", "DELETION": "DELETION"}


def test_insert_delete_and_update_change_exactly_what_is_retrieved(
    text_index: ZillizPipelineIndex, local_server: Any
) -> None:
    index = ZillizPipelineIndex.from_documents(
        [
            Document(text=MILVUS, id_="doc-a", metadata={"topic": "storage", "file_path": "/a"}),
            Document(text=BAILIAN, id_="doc-b", metadata={"topic": "apps"}),
        ],
        pipeline_ids=text_index.pipeline_ids,
        **connection(local_server),
    )
    assert stored(index) == [("doc-a", MILVUS), ("doc-b", BAILIAN)]
    node = index.as_retriever(similarity_top_k=1).retrieve("milvus local directory")[0].node
    # Only what the pipeline preserves is stored; the ref-doc field stays out of the prompt.
    assert node.metadata == {"doc_id": "doc-a", "topic": "storage"}
    assert "doc-a" not in node.get_content(metadata_mode="llm")  # type: ignore[arg-type]

    index.insert(Document(text=PIPES, id_="doc-c", metadata={"topic": "storage"}))
    assert stored(index) == [("doc-a", MILVUS), ("doc-b", BAILIAN), ("doc-c", PIPES)]

    index.delete_ref_doc("doc-a")
    assert stored(index) == [("doc-b", BAILIAN), ("doc-c", PIPES)]
    index.delete_ref_doc("doc-a")  # already gone: silent, as LlamaIndex's indexes are

    with pytest.raises(InvalidInputError, match=r"lacks the preserved field\(s\) \['topic'\]"):
        index.insert(Document(text="no topic", id_="doc-d"))
    assert stored(index) == [("doc-b", BAILIAN), ("doc-c", PIPES)]  # nothing was sent

    update = Document(text="Bailian apps stream deltas.", id_="doc-b", metadata={"topic": "apps"})
    index.update_ref_doc(update)
    assert stored(index) == [("doc-b", "Bailian apps stream deltas."), ("doc-c", PIPES)]


def test_refresh_replaces_changed_documents_and_never_duplicates(
    text_index: ZillizPipelineIndex, local_server: Any
) -> None:
    one = Document(text=MILVUS, id_="one", metadata={"topic": "t"})
    two = Document(text=BAILIAN, id_="two", metadata={"topic": "t"})
    assert text_index.refresh_ref_docs([one, two]) == [True, True]
    assert text_index.refresh_ref_docs([one, two]) == [False, False]
    changed = Document(text=PIPES, id_="two", metadata={"topic": "t"})
    assert text_index.refresh_ref_docs([one, changed]) == [False, True]
    assert stored(text_index) == [("one", MILVUS), ("two", PIPES)]
    # Another instance (another process) knows no hashes: it replaces, never adds a copy.
    again = ZillizPipelineIndex(text_index.pipeline_ids, **connection(local_server))
    assert again.refresh_ref_docs([one]) == [True]
    assert stored(again) == [("one", MILVUS), ("two", PIPES)]


def test_metadata_filters_restrict_the_results(text_index: ZillizPipelineIndex) -> None:
    text_index.insert_documents(
        [
            Document(text=MILVUS, id_="s1", metadata={"topic": "storage"}),
            Document(text=BAILIAN, id_="a1", metadata={"topic": "apps"}),
            Document(text=PIPES, id_="s2", metadata={"topic": "storage"}),
        ]
    )
    storage = MetadataFilters(filters=[MetadataFilter(key="topic", value="storage")])
    assert [ref for ref, _ in stored(text_index, filters=storage)] == ["s1", "s2"]
    not_storage = MetadataFilters(
        filters=[MetadataFilter(key="topic", value="storage", operator=FilterOperator.NE)]
    )
    assert stored(text_index, filters=not_storage) == [("a1", BAILIAN)]
    top = text_index.as_retriever(similarity_top_k=1, filters=storage).retrieve("milvus")
    assert len(top) == 1 and top[0].node.ref_doc_id in {"s1", "s2"}


def test_query_and_chat_engines_answer_from_the_index(
    text_index: ZillizPipelineIndex, clean_settings: Any
) -> None:
    text_index.insert_documents(
        [Document(text=MILVUS, id_="m"), Document(text=BAILIAN, id_="b")],
        metadata={"topic": "all"},
    )
    response = text_index.as_query_engine(llm=MockLLM(), similarity_top_k=1).query(
        "Where does Milvus Lite keep its data?"
    )
    assert [n.node.ref_doc_id for n in response.source_nodes] == ["m"]
    assert MILVUS in str(response)  # MockLLM echoes its prompt: the retrieved context is in it

    Settings.llm = MockLLM()  # the default, as LlamaIndex resolves it
    chat = text_index.as_chat_engine(similarity_top_k=1)
    answer = chat.chat("Which apps cite passages?")
    assert [n.node.ref_doc_id for n in answer.source_nodes] == ["b"]
    assert BAILIAN in str(answer)


def test_code_written_for_0_3_0_runs_with_only_the_import_changed(
    local_server: Any, doc_url: str, monkeypatch: pytest.MonkeyPatch, clean_settings: Any
) -> None:
    # 0.3.0 read the endpoint from cloud_region; here the local server comes from the environment.
    monkeypatch.setenv("ZILLIZ_PIPELINES_BASE_URL", local_server.url)
    api_key = local_server.api_key
    # -- what 0.3.0 users wrote, with `from llama_index.indices.managed.zilliz import ...` --
    from llama_index_ext.managed_compat import ZillizCloudPipelineIndex

    pipeline_ids = ZillizCloudPipelineIndex.create_pipelines(
        project_id=PROJECT,
        cluster_id=CLUSTER,
        api_key=api_key,
        data_type="doc",
        collection_name=unique("zcp_llamalection"),
    )
    index = ZillizCloudPipelineIndex.from_document_url(
        url=doc_url, pipeline_ids=pipeline_ids, api_key=api_key
    )
    Settings.llm = MockLLM()
    query_engine = index.as_query_engine(search_top_k=1)
    response = query_engine.query("Where does Milvus Lite keep its data?")
    # -- end of 0.3.0 code --
    doc_name = Path(doc_url).name
    assert [n.node.ref_doc_id for n in response.source_nodes] == [doc_name]
    assert "one directory on the local disk" in str(response)

    # The local Bailian app answers from the same search pipeline (its knowledge base).
    app = BailianAppLLM(
        app_id="managed-index",
        api_key=api_key,
        base_url=local_server.bailian_base_url,
        rag_options={"pipeline_ids": [pipeline_ids["SEARCH"]]},
    )
    answer = index.as_query_engine(llm=app).query("Where does Milvus Lite keep its data?")
    assert "directory" in str(answer) and answer.source_nodes

    index.delete_ref_doc(doc_name)
    assert index.as_retriever().retrieve("Milvus Lite data") == []


def test_a_failed_build_raises_where_0_3_0_only_logged(local_server: Any, tmp_path: Path) -> None:
    from llama_index_ext.managed_compat import ZillizCloudPipelineIndex

    ids = make_pipelines(local_server, "doc")
    outside = tmp_path / "outside.md"  # not under the server's data directory: refused
    outside.write_text(GUIDE, encoding="utf-8")
    with pytest.raises(BadRequestError, match="data directory"):
        ZillizCloudPipelineIndex.from_document_url(
            url=outside.as_uri(), pipeline_ids=ids, **connection(local_server)
        )


def test_doc_sets_take_urls_and_delete_by_doc_name(local_server: Any, doc_url: str) -> None:
    ids = make_pipelines(local_server, "doc", year="Int16")
    index = ZillizPipelineIndex(ids, **connection(local_server))
    made = index.insert_doc_url(doc_url, metadata={"year": 2024})
    doc_name = Path(doc_url).name
    assert made["doc_name"] == doc_name and made["num_chunks"] >= 1
    hits = index.as_retriever(similarity_top_k=5).retrieve("local disk")
    assert {n.node.ref_doc_id for n in hits} == {doc_name}
    assert all(n.node.metadata["year"] == 2024 for n in hits)
    with pytest.raises(InvalidInputError, match="text pipeline set"):
        index.insert(Document(text=MILVUS))
    assert index.delete_by_doc_name(doc_name).num_deleted == made["num_chunks"]
    assert index.as_retriever().retrieve("local disk") == []


def test_pipelines_without_the_ref_doc_field_still_insert_and_delete_by_expression(
    local_server: Any,
) -> None:
    """Pipelines made by 0.3.0 (no ``doc_id``, a PURGE_BY_EXPRESSION deletion) keep working;
    only ``delete_ref_doc`` cannot tell Documents apart there and says so."""
    collection = unique("legacy")
    with ZillizPipelinesClient(**connection(local_server)) as client:
        base = {"projectId": PROJECT}
        ingestion = client.create(
            {
                **base,
                "name": f"{collection}_ingestion",
                "type": "INGESTION",
                "clusterId": CLUSTER,
                "collectionName": collection,
                "functions": [
                    {"name": "index", "action": "INDEX_TEXT", "language": "ENGLISH"},
                    {
                        "name": "keep_user",
                        "action": "PRESERVE",
                        "inputField": "user_id",
                        "outputField": "user_id",
                        "fieldType": "VarChar",
                    },
                ],
            }
        )
        search = client.create(
            {
                **base,
                "name": f"{collection}_search",
                "type": "SEARCH",
                "functions": [
                    {
                        "name": "search",
                        "action": "SEARCH_TEXT",
                        "clusterId": CLUSTER,
                        "collectionName": collection,
                    }
                ],
            }
        )
        deletion = client.create(
            {
                **base,
                "name": f"{collection}_deletion",
                "type": "DELETION",
                "clusterId": CLUSTER,
                "collectionName": collection,
                "functions": [{"name": "purge", "action": "PURGE_BY_EXPRESSION"}],
            }
        )
    ids = {
        "INGESTION": ingestion.pipeline_id,
        "SEARCH": search.pipeline_id,
        "DELETION": deletion.pipeline_id,
    }
    index = ZillizPipelineIndex.from_documents(
        [Document(text=MILVUS), Document(text=BAILIAN)],
        pipeline_ids=ids,
        metadata={"user_id": "u1"},
        **connection(local_server),
    )
    assert [text for _, text in stored(index)] == sorted([BAILIAN, MILVUS])
    with pytest.raises(InvalidInputError, match="does not preserve 'doc_id'"):
        index.delete_ref_doc("anything")
    assert index.delete_by_expression('user_id == "u1"').num_deleted == 2
    assert stored(index) == []


async def test_async_insert_delete_update_and_retrieve(text_index: ZillizPipelineIndex) -> None:
    await text_index.ainsert(Document(text=MILVUS, id_="x", metadata={"topic": "storage"}))
    await text_index.ainsert_documents([Document(text=BAILIAN, id_="y")], metadata={"topic": "t"})
    retriever = text_index.as_retriever(similarity_top_k=10)
    nodes = await retriever.aretrieve(QueryBundle("milvus"))
    assert sorted(n.node.ref_doc_id or "" for n in nodes) == ["x", "y"]

    await text_index.adelete_ref_doc("x")
    await text_index.aupdate_ref_doc(Document(text=PIPES, id_="y", metadata={"topic": "t"}))
    nodes = await retriever.aretrieve(QueryBundle("milvus"))
    assert [(n.node.ref_doc_id, n.node.get_content()) for n in nodes] == [("y", PIPES)]
    fresh = [
        Document(text=PIPES, id_="y", metadata={"topic": "t"}),
        Document(text=MILVUS, id_="z", metadata={"topic": "t"}),
    ]
    assert await text_index.arefresh_ref_docs(fresh) == [False, True]
    nodes = await retriever.aretrieve(QueryBundle("milvus"))
    assert sorted((n.node.ref_doc_id or "", n.node.get_content()) for n in nodes) == [
        ("y", PIPES),
        ("z", MILVUS),
    ]
    await text_index.aclose()
