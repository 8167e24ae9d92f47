"""Every Zilliz Pipelines call, replayed from cassettes recorded against the local server.

``make cassettes`` re-records them (the test session starts the server); in ``make test`` they
replay with ``record_mode=none``, so an unrecorded request fails instead of reaching a network.
"""

from __future__ import annotations

import pytest

from langchain_zilliz_bailian import ZillizPipelineLoader, ZillizPipelineRetriever
from langchain_zilliz_bailian.errors import AuthenticationError, BadRequestError, NotFoundError
from langchain_zilliz_bailian.zilliz import ZillizPipelinesClient

pytestmark = pytest.mark.vcr

PROJECT = "proj-0123456789abcdef"
CLUSTER = "in03-0123456789abcdef"
CORPUS = [
    ("Milvus Lite keeps its data in a local directory and survives restarts.", 2024),
    ("Zilliz Cloud Pipelines turn text into vectors and store them in a collection.", 2023),
    ("A search pipeline embeds the query and returns the nearest chunks.", 2024),
    ("Deletion pipelines remove entities by id, by document name or by expression.", 2022),
]


@pytest.fixture
def client(recorded_base):
    base_url, key = recorded_base
    with ZillizPipelinesClient(api_key=key, base_url=base_url, max_retries=0) as c:
        yield c


def make_set(client, name, kind="text"):
    return client.create_pipeline_set(
        name=name,
        project_id=PROJECT,
        cluster_id=CLUSTER,
        collection_name=f"{name}_col",
        kind=kind,
        preserve={"year": "Int16"},
    )


def test_create_describe_list_and_drop(client):
    made = make_set(client, "lifecycle")
    assert made.ingestion.type == "INGESTION" and made.search.type == "SEARCH"
    described = client.describe(made.search.pipeline_id)
    assert described.action == "SEARCH_TEXT"
    assert described.status == "SERVING"
    assert described.functions[0].collection_name == "lifecycle_col"
    listed = {p.pipeline_id for p in client.list(PROJECT)}
    assert {
        made.ingestion.pipeline_id,
        made.search.pipeline_id,
        made.deletion.pipeline_id,
    } <= listed
    dropped = client.drop(made.deletion.pipeline_id)
    assert dropped.pipeline_id == made.deletion.pipeline_id
    with pytest.raises(NotFoundError):
        client.describe(made.deletion.pipeline_id)


def test_ingest_texts_search_with_filter_and_output_fields_then_delete(client):
    made = make_set(client, "texts")
    ids = []
    for text, year in CORPUS:
        ids += client.ingest_texts(made.ingestion.pipeline_id, [text], metadata={"year": year}).ids
    assert len(ids) == 4 and all(i.isdigit() and int(i) > 2**53 for i in ids)

    hits = client.search(made.search.pipeline_id, "where is data kept locally?", limit=2).hits
    assert hits[0].fields["text"] == CORPUS[0][0]
    assert "year" not in hits[0].fields  # preserved fields only when named

    filtered = client.search(
        made.search.pipeline_id,
        "pipelines",
        limit=10,
        filter="year >= 2024",
        output_fields=["year"],
    ).hits
    assert {h.fields["year"] for h in filtered} == {2024}
    assert len(filtered) == 2

    deleted = client.delete(made.deletion.pipeline_id, ids=ids[:1])
    assert deleted.num_deleted == 1
    remaining = client.search(made.search.pipeline_id, "local directory", limit=10).hits
    assert ids[0] not in {h.id for h in remaining}
    assert client.delete(made.deletion.pipeline_id, expression="year < 2023").num_deleted == 1


def test_doc_pipeline_file_upload_search_and_delete_by_name(client, tmp_path):
    made = make_set(client, "docs", kind="doc")
    path = tmp_path / "guide.md"
    path.write_text(
        "# Guide\n\n## Storage\n\nMilvus Lite stores vectors on local disk.\n\n"
        "## Search\n\nSearch pipelines return the nearest chunks with a distance.\n"
    )
    stored = client.ingest_file(made.ingestion.pipeline_id, path, metadata={"year": 2024})
    assert stored.doc_name == "guide.md" and stored.num_chunks >= 2
    hits = client.search(made.search.pipeline_id, "where are vectors stored", limit=1).hits
    assert "local disk" in hits[0].fields["chunk_text"]
    assert hits[0].fields["doc_name"] == "guide.md"
    assert (
        client.delete(made.deletion.pipeline_id, doc_name="guide.md").num_deleted
        == stored.num_chunks
    )
    assert client.delete(made.deletion.pipeline_id, doc_name="missing.md").num_deleted == 0


# The multipart boundary is random, so the upload is matched on method and path only.
test_doc_pipeline_file_upload_search_and_delete_by_name = pytest.mark.vcr(
    match_on=["method", "path"]
)(test_doc_pipeline_file_upload_search_and_delete_by_name)


def test_server_errors_are_typed(client, recorded_base):
    base_url, _ = recorded_base
    with pytest.raises(NotFoundError) as missing:
        client.describe("pipe-00000000000000000000ff")
    assert missing.value.code is not None
    made = make_set(client, "errors")
    with pytest.raises(BadRequestError) as bad:
        client.search(made.search.pipeline_id, "q", filter="year >>> 1")
    assert bad.value.status_code == 400
    with ZillizPipelinesClient(api_key="wrong-key", base_url=base_url, max_retries=0) as wrong:
        with pytest.raises(AuthenticationError) as auth:
            wrong.list(PROJECT)
    assert auth.value.code == 80001


def test_loader_and_retriever_round_trip(recorded_base):
    base_url, key = recorded_base
    with ZillizPipelinesClient(api_key=key, base_url=base_url) as c:
        made = make_set(c, "roundtrip")
    from langchain_core.documents import Document

    loader = ZillizPipelineLoader(
        made.ingestion.pipeline_id,
        documents=[Document(page_content=t, metadata={"year": y}) for t, y in CORPUS],
        deletion_pipeline_id=made.deletion.pipeline_id,
        api_key=key,
        base_url=base_url,
    )
    stored = loader.load()
    assert [d.metadata["year"] for d in stored] == [2024, 2024, 2023, 2022]
    retriever = ZillizPipelineRetriever(
        pipeline_id=made.search.pipeline_id,
        api_key=key,
        base_url=base_url,
        k=2,
        output_fields=["year"],
    )
    docs = retriever.invoke("nearest chunks for a query", filter="year == 2024")
    assert [d.metadata["year"] for d in docs] == [2024, 2024]
    assert docs[0].page_content == CORPUS[2][0]
    assert isinstance(docs[0].metadata["distance"], float)
    assert loader.delete(documents=stored[:2]).num_deleted == 2
    assert retriever.invoke("nearest chunks for a query", filter="year == 2024") == []


async def test_async_round_trip(recorded_base):
    base_url, key = recorded_base
    async with ZillizPipelinesClient(api_key=key, base_url=base_url) as c:
        made = await c.acreate_pipeline_set(
            name="asyncrt",
            project_id=PROJECT,
            cluster_id=CLUSTER,
            collection_name="asyncrt_col",
            kind="text",
            preserve={"year": "Int16"},
        )
        result = await c.aingest_texts(
            made.ingestion.pipeline_id, [t for t, _ in CORPUS], metadata={"year": 2024}
        )
        assert result.num_entities == 4
        retriever = ZillizPipelineRetriever(
            pipeline_id=made.search.pipeline_id, api_key=key, base_url=base_url, k=3
        )
        docs = await retriever.ainvoke("search pipeline query embedding", k=1)
        assert docs[0].page_content == CORPUS[2][0]
        assert (
            await c.adelete(made.deletion.pipeline_id, expression="year == 2024")
        ).num_deleted == 4


def test_ingest_doc_url_served_from_the_data_dir(client, request):
    """INDEX_DOC by URL: the server downloads it (file:// is allowed under its data dir)."""
    made = make_set(client, "docurl", kind="doc")
    if request.config.getoption("--record-mode") not in (None, "none"):
        server = request.getfixturevalue("local_server")
        path = server.data_dir / "lite.md"
        path.write_text("# Lite\n\nMilvus Lite keeps everything in one local directory.\n")
        url = path.as_uri()
    else:
        url = "file:///replayed/lite.md"  # the body is not matched here (the path differs per run)
    stored = client.ingest_doc_url(made.ingestion.pipeline_id, url, metadata={"year": 2024})
    assert (stored.doc_name, stored.num_chunks) == ("lite.md", 1)
    hits = client.search(
        made.search.pipeline_id, "one local directory", output_fields=["year"]
    ).hits
    assert hits[0].fields["doc_name"] == "lite.md" and hits[0].fields["year"] == 2024


test_ingest_doc_url_served_from_the_data_dir = pytest.mark.vcr(match_on=["method", "path"])(
    test_ingest_doc_url_served_from_the_data_dir
)


def test_image_ingestion_is_refused_with_a_typed_error(client):
    made = client.create(
        {
            "name": "images_ingestion",
            "type": "INGESTION",
            "projectId": PROJECT,
            "clusterId": CLUSTER,
            "collectionName": "images_col",
            "functions": [
                {
                    "name": "index_image",
                    "action": "INDEX_IMAGE",
                    "embedding": "zilliz/clip-vit-base-patch32",
                }
            ],
        }
    )
    with pytest.raises(BadRequestError, match="image"):
        client.ingest_image(made.pipeline_id, "https://img.example/cat.png", "cat-1")
