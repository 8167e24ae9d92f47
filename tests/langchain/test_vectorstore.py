"""ZillizPipelineVectorStore over scripted pipelines: the LangChain surface, mapped onto
KeyedRecords (Document ids as keys, scores, retriever, constructors, typed errors)."""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any

import pytest
from langchain_core.documents import Document
from langchain_core.embeddings import DeterministicFakeEmbedding
from langchain_core.vectorstores import VectorStoreRetriever

from langchain_zilliz_bailian.errors import InsecureBaseURLWarning, InvalidInputError
from langchain_zilliz_bailian.vectorstores import ZillizPipelineVectorStore
from tests.fakes.keyed_pipelines import DELETE, INGEST, SEARCH, Pipelines, connection

HITS = [
    {"id": 1, "distance": 0.8, "text": "alpha", "lc_id": "a", "year": 1, "lc_metadata": "{}"},
    {"id": 2, "distance": 0.3, "text": "beta", "lc_id": "b", "year": 2, "lc_metadata": '{"x": 1}'},
]


def store(pipes: Pipelines, **options) -> ZillizPipelineVectorStore:
    return ZillizPipelineVectorStore(
        INGEST, SEARCH, DELETE, metadata_field="lc_metadata", **options, **connection(pipes)
    )


def test_embeddings_are_on_the_server():
    assert store(Pipelines()).embeddings is None


def test_add_documents_keys_by_document_id_then_ids_argument_then_uuid4():
    pipes = Pipelines()
    docs = [
        Document("one", metadata={"year": 1}, id="doc-1"),
        Document("two", metadata={"year": 2}),
    ]
    ids = store(pipes).add_documents(docs, batch_size=100)  # index() passes batch_size
    assert ids[0] == "doc-1" and len(ids[1]) == 36
    assert [data["lc_id"] for data, _ in pipes.of(INGEST)] == ids
    store(pipes).add_documents(docs, ids=["x", "y"])
    assert [data["lc_id"] for data, _ in pipes.of(INGEST)][2:] == ["x", "y"]


async def test_aadd_documents_is_native_async():
    pipes = Pipelines()
    ids = await store(pipes).aadd_documents([Document("one", metadata={"year": 1}, id="k")])
    assert ids == ["k"]
    assert set(pipes.via) == {"async"}


def test_unknown_arguments_and_delete_all_are_refused_before_any_request():
    pipes = Pipelines()
    vs = store(pipes)
    with pytest.raises(InvalidInputError, match=r"\['upsert'\]"):
        vs.add_texts(["t"], upsert=True)
    with pytest.raises(InvalidInputError, match="needs ids"):
        vs.delete()
    with pytest.raises(InvalidInputError, match=r"\['where'\]"):
        vs.similarity_search("q", where="x")
    assert pipes.via == []


def test_delete_returns_true_and_deletes_by_key():
    pipes = Pipelines()
    assert store(pipes).delete(ids=['a"b']) is True
    assert pipes.of(DELETE)[0][0] == {"expression": 'lc_id in ["a\\"b"]'}


def test_similarity_search_with_score_gives_documents_keyed_by_id_and_raw_distances():
    pipes = Pipelines(hits=HITS)
    scored = store(pipes).similarity_search_with_score("q", k=2, filter="year > 0")
    assert scored == [
        (Document("alpha", metadata={"year": 1}, id="a"), 0.8),
        (Document("beta", metadata={"year": 2, "x": 1}, id="b"), 0.3),
    ]
    assert pipes.of(SEARCH)[0][1]["filter"] == "year > 0"


def test_relevance_scores_need_a_function_of_the_distance():
    vs = store(Pipelines(hits=HITS))
    with pytest.raises(NotImplementedError, match="relevance_score_fn"):
        vs.similarity_search_with_relevance_scores("q", k=2)
    scored = store(Pipelines(hits=HITS), relevance_score_fn=lambda d: (1 + d) / 2)
    relevance = scored.similarity_search_with_relevance_scores("q", k=2)
    assert [round(score, 2) for _, score in relevance] == [0.9, 0.65]


async def test_retriever_passes_k_and_filter():
    pipes = Pipelines(hits=HITS[:1])
    retriever = store(pipes).as_retriever(search_kwargs={"k": 1, "filter": 'lc_id == "a"'})
    assert isinstance(retriever, VectorStoreRetriever)
    assert [doc.id for doc in retriever.invoke("q")] == ["a"]
    assert [doc.id for doc in await retriever.ainvoke("q")] == ["a"]
    assert [params["limit"] for _, params in pipes.of(SEARCH)] == [1, 1]
    assert {params["filter"] for _, params in pipes.of(SEARCH)} == {'lc_id == "a"'}


async def test_get_by_ids_and_async_twin():
    pipes = Pipelines(hits=HITS)
    docs = store(pipes).get_by_ids(["a", "b"])
    assert docs == await store(pipes).aget_by_ids(["a", "b"])
    assert [doc.id for doc in docs] == ["a", "b"]


def test_from_texts_and_from_documents_build_over_existing_pipelines():
    pipes = Pipelines()
    settings = {
        "ingestion_pipeline_id": INGEST,
        "search_pipeline_id": SEARCH,
        "deletion_pipeline_id": DELETE,
        "metadata_field": "lc_metadata",
        **connection(pipes),
    }
    made = ZillizPipelineVectorStore.from_texts(
        ["t"], metadatas=[{"year": 3}], ids=["k"], **settings
    )
    assert isinstance(made, ZillizPipelineVectorStore)
    docs = [Document("d", metadata={"year": 4}, id="kd")]
    ZillizPipelineVectorStore.from_documents(docs, **settings)
    assert [data["lc_id"] for data, _ in pipes.of(INGEST)] == ["k", "kd"]
    with pytest.raises(InvalidInputError, match="embeds on the server"):
        ZillizPipelineVectorStore.from_texts(["t"], DeterministicFakeEmbedding(size=4), **settings)


async def test_afrom_texts_is_native_async():
    pipes = Pipelines()
    await ZillizPipelineVectorStore.afrom_texts(
        ["t"],
        metadatas=[{"year": 3}],
        ids=["k"],
        ingestion_pipeline_id=INGEST,
        search_pipeline_id=SEARCH,
        deletion_pipeline_id=DELETE,
        metadata_field="lc_metadata",
        **connection(pipes),
    )
    assert set(pipes.via) == {"async"}


def test_create_checks_its_options_before_any_request():
    pipes = Pipelines()
    common: dict[str, Any] = {"name": "notes", "project_id": "proj-1", "cluster_id": "in01-1"}
    with pytest.raises(InvalidInputError, match=r"Unknown \['embeddings'\]"):
        ZillizPipelineVectorStore.create(**common, embeddings="x", **connection(pipes))  # type: ignore[call-arg]
    with pytest.raises(InvalidInputError, match="key_field must be a plain field name"):
        ZillizPipelineVectorStore.create(**common, key_field="k k", **connection(pipes))
    with pytest.raises(InvalidInputError, match=r"missing \['cluster_id'\]"):
        ZillizPipelineVectorStore.create(name="notes", project_id="proj-1", **connection(pipes))
    assert pipes.via == []


def test_repr_names_the_pipelines_not_the_key():
    text = repr(store(Pipelines()))
    assert INGEST in text and SEARCH in text and DELETE in text
    assert "zk-1" not in text


@pytest.mark.parametrize(
    ("store_options", "message"),
    [
        ({"unknown_metadata": "keep"}, "'raise' or 'drop'"),
        ({"max_concurrency": 0}, "max_concurrency"),
        ({"relevance_score_fn": 3}, "relevance_score_fn"),
    ],
)
def test_create_checks_store_options_before_making_pipelines(store_options, message):
    pipes = Pipelines()
    with pytest.raises(InvalidInputError, match=message):
        ZillizPipelineVectorStore.create(
            name="notes",
            project_id="proj-1",
            cluster_id="in01-1",
            **store_options,
            **connection(pipes),
        )
    assert pipes.via == []


def test_plain_http_off_loopback_is_reported_once_at_the_users_line():
    line = inspect.currentframe().f_lineno + 2  # type: ignore[union-attr]
    with pytest.warns(InsecureBaseURLWarning) as caught:
        ZillizPipelineVectorStore(INGEST, SEARCH, DELETE, base_url="http://zilliz.example.test")
    assert [(Path(w.filename).name, w.lineno) for w in caught] == [(Path(__file__).name, line)]
