"""ZillizPipelineIndex without a server: what it sends, and bad input refused before any request."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from llama_index.core.schema import Document, NodeRelationship, TextNode
from llama_index.core.vector_stores import FilterOperator, MetadataFilter, MetadataFilters

from langchain_zilliz_bailian.errors import InvalidInputError, UnsupportedFilterError
from langchain_zilliz_bailian.zilliz.models import Pipeline
from llama_index_ext.managed import ZillizPipelineIndex
from llama_index_ext.managed_compat import ZillizCloudPipelineIndex
from llama_index_ext.managed_layout import IngestionLayout, node_payloads, ref_doc_deletion
from llama_index_ext.managed_pipelines import create_pipelines
from llama_index_ext.retrievers import ZillizPipelineRetriever
from tests.fakes.zilliz import Script, describe_path, ok

ING = "pipe-1111111111111111111111"
SEA = "pipe-2222222222222222222222"
DEL = "pipe-3333333333333333333333"
IDS = {"INGESTION": ING, "SEARCH": SEA, "DELETION": DEL}
KEY = "sk-managed-secret"


def pipeline(pipeline_id: str, kind: str, action: str, preserve: dict[str, str]) -> dict[str, Any]:
    functions: list[dict[str, Any]] = [{"name": "main", "action": action}]
    functions += [
        {
            "name": f"keep_{f}",
            "action": "PRESERVE",
            "inputField": f,
            "outputField": f,
            "fieldType": t,
        }
        for f, t in preserve.items()
    ]
    return {"pipelineId": pipeline_id, "type": kind, "status": "SERVING", "functions": functions}


class Service:
    """Describes the three pipelines; stores texts (ids 1, 2, ...); records every run."""

    def __init__(self, *, action: str = "INDEX_TEXT", purge: str = "PURGE_TEXT_INDEX") -> None:
        self.described = {
            ING: pipeline(ING, "INGESTION", action, {"doc_id": "VarChar", "topic": "VarChar"}),
            SEA: pipeline(SEA, "SEARCH", "SEARCH_TEXT", {}),
            DEL: pipeline(DEL, "DELETION", purge, {}),
        }
        self.runs: list[tuple[str, dict[str, Any]]] = []
        self.script = Script([self.answer])

    def answer(self, request: httpx.Request) -> httpx.Response:
        pipeline_id = describe_path(request)
        if pipeline_id is not None:
            return ok(self.described[pipeline_id])
        body = json.loads(request.content)
        run_id = request.url.path.split("/")[3]
        self.runs.append((run_id, body))
        if run_id == ING:
            texts = body["data"]["text_list"]
            return ok({"num_entities": len(texts), "ids": list(range(1, len(texts) + 1))})
        if run_id == DEL:
            return ok({"num_deleted_entities": 1})
        return ok(
            {"result": [{"id": 7, "distance": 0.5, "text": "t", "doc_id": "d", "topic": "x"}]}
        )

    def index(self, cls: type[ZillizPipelineIndex] = ZillizPipelineIndex) -> ZillizPipelineIndex:
        return cls(
            IDS, api_key=KEY, base_url="https://zilliz.test", http_client=self.script.sync_client()
        )


@pytest.mark.parametrize(
    ("pipeline_ids", "message"),
    [
        (None, "pipeline_ids must map"),
        ({}, "pipeline_ids must map"),
        ({"INGESTION": ING}, r"missing \['SEARCH'\]"),
        ({**IDS, "REPAIR": ING}, r"unknown role\(s\) \['REPAIR'\]"),
        ({**IDS, "SEARCH": "../admin"}, "pipeline_id"),
    ],
)
def test_bad_pipeline_ids_are_refused(pipeline_ids: Any, message: str) -> None:
    with pytest.raises(InvalidInputError, match=message):
        ZillizPipelineIndex(pipeline_ids, api_key=KEY)


def test_bad_input_raises_before_any_request() -> None:
    service = Service()
    index = service.index()
    with pytest.raises(InvalidInputError, match="similarity_top_k|limit"):
        index.as_retriever(similarity_top_k=0)
    unsupported = MetadataFilters(
        filters=[MetadataFilter(key="topic", value="x", operator=FilterOperator.IS_EMPTY)]
    )
    with pytest.raises(UnsupportedFilterError):
        index.as_retriever(filters=unsupported)
    with pytest.raises(InvalidInputError, match="ref_doc_id must be a non-empty string"):
        index.delete_ref_doc("")
    with pytest.raises(InvalidInputError, match="list of llama_index Documents"):
        index.insert_documents("not documents")  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError, match="ref_doc_field"):
        ZillizPipelineIndex(IDS, api_key=KEY, ref_doc_field="doc id")
    with pytest.raises(InvalidInputError, match="doc_url"):
        index.insert_doc_url("ftp://bucket.test/a.pdf")
    with pytest.raises(InvalidInputError, match="doc_url must be an http"):
        index.insert_doc_url(b"https://bucket.test/a.pdf")  # type: ignore[arg-type]
    assert service.script.requests == []


def test_metadata_the_pipeline_cannot_keep_is_refused_before_any_write() -> None:
    service = Service()
    index = service.index()
    with pytest.raises(InvalidInputError, match=r"metadata \['year'\] is not preserved"):
        index.insert(Document(text="a", metadata={"topic": "x"}), metadata={"year": 1})
    with pytest.raises(InvalidInputError, match="set by the index"):
        index.insert(Document(text="a", metadata={"topic": "x"}), metadata={"doc_id": "mine"})
    with pytest.raises(InvalidInputError, match="doc pipeline set"):
        index.insert_doc_url("https://bucket.test/a.pdf")
    assert service.runs == []  # only the ingestion pipeline was described


def test_documents_are_refused_by_a_doc_pipeline_before_any_write() -> None:
    service = Service(action="INDEX_DOC")
    with pytest.raises(InvalidInputError, match="runs INDEX_DOC, not INDEX_TEXT"):
        service.index().insert(Document(text="a", metadata={"topic": "x"}))
    assert service.runs == []


def test_each_document_goes_out_with_its_id_and_only_preserved_metadata() -> None:
    service = Service()
    index = service.index()
    index.insert_documents(
        [
            Document(text="alpha", id_="A", metadata={"topic": "x", "file_path": "/tmp/a"}),
            Document(text="beta", id_="B", metadata={"topic": "x"}),
        ]
    )
    assert [body["data"] for _, body in service.runs] == [
        {"text_list": ["alpha"], "topic": "x", "doc_id": "A"},
        {"text_list": ["beta"], "topic": "x", "doc_id": "B"},
    ]


def test_delete_ref_doc_sends_one_escaped_expression_to_the_deletion_pipeline() -> None:
    service = Service()
    service.index().delete_ref_doc('a"b')
    assert service.runs == [(DEL, {"data": {"expression": 'doc_id in ["a\\"b"]'}})]


def test_deletion_targets_follow_the_pipelines() -> None:
    text = IngestionLayout(ING, "INDEX_TEXT", frozenset({"doc_id"}))
    bare = IngestionLayout(ING, "INDEX_TEXT", frozenset())
    docs = IngestionLayout(ING, "INDEX_DOC", frozenset())
    by_name = Pipeline.model_validate(pipeline(DEL, "DELETION", "PURGE_DOC_INDEX", {}))
    by_expr = Pipeline.model_validate(pipeline(DEL, "DELETION", "PURGE_BY_EXPRESSION", {}))
    common = {"ref_doc_field": "doc_id"}
    assert ref_doc_deletion("g.md", layout=docs, deletion=by_name, **common).target == {
        "doc_name": "g.md"
    }
    assert ref_doc_deletion("g.md", layout=docs, deletion=by_expr, **common).target == {
        "expression": 'doc_name in ["g.md"]'
    }
    assert ref_doc_deletion("x", layout=text, deletion=by_expr, **common).target == {
        "expression": 'doc_id in ["x"]'
    }
    with pytest.raises(InvalidInputError, match="does not preserve 'doc_id'"):
        ref_doc_deletion("x", layout=bare, deletion=by_expr, **common)
    with pytest.raises(InvalidInputError, match="ref_doc_id"):
        ref_doc_deletion("\ud800", layout=text, deletion=by_expr, **common)


def test_node_payloads_keep_the_ref_doc_id_of_split_nodes() -> None:
    layout = IngestionLayout(ING, "INDEX_TEXT", frozenset({"doc_id", "topic"}))
    node = TextNode(text="part", metadata={"topic": "t", "page": 3})
    # The SOURCE relationship LlamaIndex's splitters give each node.
    node.relationships[NodeRelationship.SOURCE] = Document(
        text="w", id_="parent"
    ).as_related_node_info()
    assert node_payloads([node], layout, "doc_id") == [("part", {"topic": "t", "doc_id": "parent"})]


def test_the_retriever_maps_hits_to_nodes_of_their_documents() -> None:
    service = Service()
    retriever = service.index().as_retriever(similarity_top_k=3)
    assert isinstance(retriever, ZillizPipelineRetriever)
    assert retriever.output_fields == ["doc_id", "topic"]  # every preserved field by default
    (hit,) = retriever.retrieve("q")
    assert hit.node.ref_doc_id == "d" and hit.node.metadata == {"doc_id": "d", "topic": "x"}
    assert hit.node.get_content(metadata_mode="llm") == "topic: x\n\nt"  # type: ignore[arg-type]
    (search,) = [body for pid, body in service.runs if pid == SEA]
    assert search["params"]["limit"] == 3


def test_the_0_3_0_name_reads_its_retriever_arguments() -> None:
    index = Service().index(ZillizCloudPipelineIndex)
    assert index.as_retriever().similarity_top_k == 2  # type: ignore[attr-defined]
    legacy = index.as_retriever(search_top_k=5, output_metadata=["topic"])
    assert legacy.similarity_top_k == 5  # type: ignore[attr-defined]
    assert legacy.output_fields == ["topic"]  # type: ignore[attr-defined]


def test_the_key_is_never_shown() -> None:
    index = Service().index()
    assert KEY not in repr(index) and KEY not in repr(vars(index))
    assert KEY not in repr(index.as_retriever())


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"chunkSize": 100}, r"\['chunkSize'\] are not supported"),
        ({"data_type": "image"}, "data_type must be 'text' or 'doc'"),
        ({"metadata_schema": {"doc_id": "Int64"}}, "must be a VarChar field"),
        ({"project_id": "project"}, "project_id"),
        ({"timeout": -1}, "timeout"),
    ],
)
def test_create_pipelines_refuses_bad_input_before_any_request(
    options: dict[str, Any], message: str
) -> None:
    script = Script([])
    arguments: dict[str, Any] = {"project_id": "proj-1", "cluster_id": "in01-abc", **options}
    with pytest.raises(InvalidInputError, match=message):
        create_pipelines(
            api_key=KEY,
            base_url="https://zilliz.test",
            http_client=script.sync_client(),
            **arguments,
        )
    assert script.requests == []


def test_update_stores_the_new_chunks_before_deleting_the_old_ones() -> None:
    service = Service()
    service.index().update_ref_doc(Document(text="new", id_="A", metadata={"topic": "x"}))
    assert service.runs == [
        (ING, {"data": {"text_list": ["new"], "topic": "x", "doc_id": "A"}}),
        (DEL, {"data": {"expression": '(doc_id in ["A"]) and not (id in [1])'}}),
    ]


def test_a_failed_update_deletes_nothing() -> None:
    service = Service()
    index = service.index()
    with pytest.raises(InvalidInputError, match="lacks the preserved field"):
        index.update_ref_doc(Document(text="new", id_="A"))  # no topic
    assert service.runs == []


def test_delete_nodes_deletes_stored_texts_by_id() -> None:
    service = Service()
    service.index().delete_nodes(["7"])
    assert service.runs == [(DEL, {"data": {"expression": "id in [7]"}})]
