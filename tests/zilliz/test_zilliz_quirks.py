"""One test per entry Z<n> of ``docs/contract/zilliz.md``, named ``test_z<n>_<short>``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from langchain_zilliz_bailian.errors import (
    APITimeoutError,
    AuthenticationError,
    EndpointUnavailableError,
    InternalServerError,
    InvalidInputError,
    NotFoundError,
    ResponseFormatError,
)
from langchain_zilliz_bailian.retrievers import PipelineNotServingError, ZillizPipelineRetriever
from langchain_zilliz_bailian.zilliz import Pipeline, SearchResult, Usage, ZillizPipelinesClient
from langchain_zilliz_bailian.zilliz.inputs import ids_expression
from langchain_zilliz_bailian.zilliz.specs import pipeline_set_specs
from tests.fakes.zilliz import Script, fail, ok

PIPE = "pipe-6ca5dd1b4672659d3c3487"
BIG = 448986959321277978  # > 2**53: a float would lose digits


def client(script: Script, **kwargs) -> ZillizPipelinesClient:
    return ZillizPipelinesClient(
        api_key="zk-secret",
        base_url="https://controller.api.gcp-us-west1.zillizcloud.com",
        http_client=script.sync_client(),
        http_async_client=script.async_client(),
        **kwargs,
    )


def describe(action: str, **extra: Any) -> dict[str, Any]:
    return {
        "pipelineId": PIPE,
        "name": "p",
        "type": "SEARCH",
        "status": "SERVING",
        "functions": [{"name": "f", "action": action, "inputFields": ["query_text"]}],
        **extra,
    }


def retriever(script: Script, **kwargs) -> ZillizPipelineRetriever:
    return ZillizPipelineRetriever(
        pipeline_id=PIPE,
        api_key="zk-secret",
        base_url="https://controller.api.gcp-us-west1.zillizcloud.com",
        http_client=script.sync_client(),
        http_async_client=script.async_client(),
        **kwargs,
    )


HIT = {"id": BIG, "distance": 0.7, "text": "hello"}


@pytest.mark.parametrize("code", [0, 200, "200"])
def test_z1_success_code_0_or_200(code):
    script = Script([ok({"result": [HIT]}, code=code)])
    assert client(script).search(PIPE, "q").hits[0].fields["text"] == "hello"


def test_z2_error_with_success_code_and_no_data():
    script = Script([fail(200, "The token is illegal.")])
    with pytest.raises(AuthenticationError) as info:
        client(script).search(PIPE, "q")
    assert info.value.code == 200 and info.value.status_code == 200
    assert info.value.message == "The token is illegal."


@pytest.mark.parametrize(
    "data", [{"result": [HIT]}, {"results": [HIT]}, [HIT]], ids=["result", "results", "bare-list"]
)
def test_z3_result_results_or_bare_list(data):
    result = client(Script([ok(data)])).search(PIPE, "q")
    assert [hit.id for hit in result.hits] == [str(BIG)]


@pytest.mark.parametrize(
    ("action", "hit", "content"),
    [
        ("SEARCH_TEXT", {"id": 1, "distance": 0.1, "text": "T", "chunk_text": "not me"}, "T"),
        ("SEARCH_DOC_CHUNK", {"id": 1, "distance": 0.1, "chunk_text": "C", "text": "not me"}, "C"),
        ("SEARCH_IMAGE_BY_TEXT", {"id": "image-101", "distance": 0.1, "image_title": "cat"}, "cat"),
        # an image hit without a title is named by its image_id (no empty page_content)
        ("SEARCH_IMAGE_BY_IMAGE", {"id": "image-101", "distance": 0.1, "image_id": "i"}, "i"),
    ],
)
def test_z4_content_field_chosen_by_action_not_probing(action, hit, content):
    script = Script([ok(describe(action)), ok({"result": [hit]})])
    doc = retriever(script).invoke("q")[0]
    assert doc.page_content == content
    assert script.requests[0].method == "GET"  # describe first, once


@pytest.mark.parametrize(
    ("raw", "expected"),
    [(BIG, str(BIG)), (str(BIG), str(BIG)), ("image-101", "image-101"), (7, "7")],
)
def test_z5_ids_int_numeric_string_or_free_string(raw, expected):
    result = client(Script([ok({"result": [{"id": raw, "distance": 1}]})])).search(PIPE, "q")
    assert result.hits[0].id == expected


def test_z5_int64_ids_keep_every_digit_on_the_wire():
    body = '{"code":200,"data":{"num_entities":2,"ids":[450524927755105900,450524927755105901]}}'
    script = Script([httpx.Response(200, content=body.encode())])
    result = client(script).ingest_texts(PIPE, ["a", "b"])
    assert result.ids == ["450524927755105900", "450524927755105901"]


def test_z6_distance_as_string():
    result = client(Script([ok({"result": [{"id": 1, "distance": "0.9997"}]})])).search(PIPE, "q")
    assert result.hits[0].distance == pytest.approx(0.9997)


@pytest.mark.parametrize(
    ("data", "embedding", "rerank"),
    [
        ({"usage": {"embedding": 21, "rerank": 3}}, 21, 3),
        ({"usage": {"embedding": "21"}}, 21, 0),
        ({"token_usage": 1247}, 1247, 0),
        ({}, 0, 0),
    ],
)
def test_z7_usage_shapes(data, embedding, rerank):
    usage = Usage.from_data(data)
    assert (usage.embedding, usage.rerank, usage.total) == (embedding, rerank, embedding + rerank)


@pytest.mark.parametrize(
    "raw",
    [
        {"totalUsage": {"embedding": 5}},
        {"totalUsage": [{"embedding": 5}]},
        {"totalTokenUsage": 5},
    ],
)
def test_z7_total_usage_shapes(raw):
    assert Pipeline.model_validate({"pipelineId": PIPE, **raw}).total_usage == {"embedding": 5}


def test_z8_run_path_is_plural():
    script = Script([ok({"result": []})])
    client(script).search(PIPE, "q")
    assert script.requests[0].url.path == f"/v1/pipelines/{PIPE}/run"


def test_z9_any_host_through_base_url_and_the_documented_default(monkeypatch):
    monkeypatch.delenv("ZILLIZ_PIPELINES_BASE_URL", raising=False)
    monkeypatch.delenv("ZILLIZ_CLOUD_REGION", raising=False)
    default = ZillizPipelinesClient(api_key="k")
    assert default.base_url == "https://controller.api.gcp-us-west1.zillizcloud.com"
    cn = ZillizPipelinesClient(
        api_key="k", base_url="https://controller.api.ali-cn-hangzhou.zilliz.com.cn/"
    )
    assert cn.base_url == "https://controller.api.ali-cn-hangzhou.zilliz.com.cn"


def test_z10_every_recorded_json_body_is_valid_json():
    import yaml  # type: ignore[import-untyped]

    cassettes = sorted(Path(__file__).resolve().parents[2].joinpath("cassettes").rglob("*.yaml"))
    assert cassettes, "no cassettes found"
    checked = 0
    for path in cassettes:
        for interaction in yaml.safe_load(path.read_text())["interactions"]:
            for part in (interaction["request"], interaction["response"]):
                body = part.get("body")
                body = body.get("string") if isinstance(body, dict) else body
                headers = {k.lower(): v for k, v in (part.get("headers") or {}).items()}
                ctype = " ".join(headers.get("content-type", []))
                if body and "application/json" in ctype:
                    json.loads(body)
                    checked += 1
    assert checked > 0


def test_z11_functions_object_and_input_field_variants():
    pipeline = Pipeline.model_validate(
        {
            "pipelineId": PIPE,
            "functions": {"name": "s", "action": "SEARCH_TEXT", "inputFields": "query_text"},
        }
    )
    assert pipeline.functions[0].input_fields == ["query_text"]
    doc = Pipeline.model_validate(
        {
            "pipelineId": PIPE,
            "functions": [
                {"action": "INDEX_DOC", "inputField": "doc_url"},
                {"action": "PRESERVE", "inputField": None},
            ],
        }
    )
    assert [f.input_fields for f in doc.functions] == [["doc_url"], []]


def test_z12_new_collection_name_is_read_collection_name_is_sent():
    assert (
        Pipeline.model_validate({"pipelineId": PIPE, "newCollectionName": "c"}).collection_name
        == "c"
    )
    specs = pipeline_set_specs(
        name="demo",
        project_id="proj-1",
        cluster_id="in03-1",
        collection_name="c",
        kind="doc",
        language="ENGLISH",
        embedding=None,
        preserve=None,
        reranker=None,
        description="",
    )
    assert all("newCollectionName" not in json.dumps(spec) for spec in specs)
    assert specs[0]["collectionName"] == "c"


def test_z13_schema_typos_are_tolerated():
    pipeline = Pipeline.model_validate(
        {
            "pipelineId": PIPE,
            "type": "deletion ",
            "CLUSTER_ID": "in03-abc",
            "collectionName": " my_collection",
            "functions": [{"action": "PURGE_TEXT_INDEX ", "langauge": "english"}],
        }
    )
    assert pipeline.type == "DELETION"
    assert pipeline.cluster_id == "in03-abc"
    assert pipeline.collection_name == "my_collection"
    assert pipeline.functions[0].action == "PURGE_TEXT_INDEX"
    assert pipeline.functions[0].language == "ENGLISH"


@pytest.mark.parametrize(
    ("kwargs", "sent", "answer"),
    [
        ({"doc_name": "a.md"}, {"doc_name": "a.md"}, {"num_deleted_chunks": 4}),
        ({"expression": "year < 2020"}, {"expression": "year < 2020"}, {"num_deleted_entities": 4}),
        ({"image_id": "img-1"}, {"image_id": "img-1"}, {"num_deleted_entities": 4}),
    ],
)
def test_z14_deletion_sends_only_the_needed_key(kwargs, sent, answer):
    script = Script([ok(answer)])
    assert client(script).delete(PIPE, **kwargs).num_deleted == 4
    assert script.bodies()[0] == {"data": sent}


def test_z15_drop_uses_delete_and_describe_is_by_id():
    script = Script([ok({"pipelineId": PIPE, "name": "p"})])
    c = client(script)
    c.drop(PIPE)
    c.describe(PIPE)
    assert [(r.method, r.url.path) for r in script.requests] == [
        ("DELETE", f"/v1/pipelines/{PIPE}"),
        ("GET", f"/v1/pipelines/{PIPE}"),
    ]


def test_z16_native_json_types_are_sent():
    script = Script([ok({"num_entities": 1, "ids": [1]})])
    client(script).ingest_texts(PIPE, ["t"], metadata={"year": 2023, "ok": True, "score": 0.5})
    assert script.requests[0].content == (
        b'{"data":{"text_list":["t"],"year":2023,"ok":true,"score":0.5}}'
    )


def test_z17_image_ids_are_strings():
    script = Script([ok({"num_entities": 1})])
    client(script).ingest_image(PIPE, "https://x.test/cat.png", "my-img-123456")
    assert script.bodies()[0]["data"]["image_id"] == "my-img-123456"
    with pytest.raises(InvalidInputError):
        client(script).ingest_image(PIPE, "https://x.test/cat.png", 123)  # type: ignore[arg-type]


def test_z18_deleting_a_missing_doc_is_not_an_error():
    result = client(Script([ok({"num_deleted_chunks": 0})])).delete(PIPE, doc_name="nope.md")
    assert result.num_deleted == 0


@pytest.mark.parametrize(
    "failure",
    [
        lambda: httpx.Response(500, json={"code": 500, "message": "x"}),
        lambda: httpx.ReadTimeout("t"),
    ],
    ids=["5xx", "read-timeout"],
)
def test_z19_ingestion_is_not_repeated_after_5xx_or_timeout(failure):
    script = Script([failure(), ok({"num_entities": 1, "ids": [1]})])
    with pytest.raises((InternalServerError, APITimeoutError)) as info:
        client(script, max_retries=5).ingest_texts(PIPE, ["once"])
    assert len(script.requests) == 1
    if isinstance(info.value, APITimeoutError):
        assert "outcome of this write is unknown" in str(info.value)


@pytest.mark.parametrize("key", ["text_list", "doc_url", "image_url", "image_id"])
def test_z20_metadata_cannot_shadow_inputs(key):
    script = Script([ok({})])
    with pytest.raises(InvalidInputError, match=key):
        client(script).ingest_texts(PIPE, ["t"], metadata={key: "x"})
    assert script.requests == []


def test_z20_preserved_values_are_scalars():
    with pytest.raises(InvalidInputError, match="one value per call"):
        client(Script([ok({})])).ingest_texts(PIPE, ["t"], metadata={"tags": ["a", "b"]})


def test_z21_all_search_params_are_sent():
    script = Script([ok({"result": []})])
    client(script).search(PIPE, "q")
    assert script.bodies()[0] == {
        "data": {"query_text": "q"},
        "params": {"limit": 10, "offset": 0, "outputFields": [], "filter": ""},
    }


@pytest.mark.parametrize(
    ("limit", "offset", "max_limit", "message"),
    [
        (0, 0, 500, "between 1 and 500"),
        (501, 0, 500, "between 1 and 500"),
        (101, 0, 100, "between 1 and 100"),
        (10, -1, 500, ">= 0"),
        (500, 525, 500, "<= 1024"),
    ],
)
def test_z22_limit_bounds_checked_before_sending(limit, offset, max_limit, message):
    script = Script([ok({"result": []})])
    with pytest.raises(InvalidInputError, match=message):
        client(script).search(PIPE, "q", limit=limit, offset=offset, max_limit=max_limit)
    assert script.requests == []


def test_z23_output_fields_requested_and_returned_in_metadata():
    hit = {"id": 1, "distance": 0.5, "chunk_text": "c", "doc_name": "a.md", "year": 2024}
    script = Script([ok(describe("SEARCH_DOC_CHUNK")), ok({"result": [hit]})])
    doc = retriever(script, output_fields=["year"]).invoke("q")[0]
    assert script.bodies()[1]["params"]["outputFields"] == ["year"]
    assert doc.metadata == {"id": "1", "distance": 0.5, "doc_name": "a.md", "year": 2024}


def test_z24_search_pipelines_keep_cluster_inside_the_function():
    specs = pipeline_set_specs(
        name="demo",
        project_id="proj-1",
        cluster_id="in03-1",
        collection_name="c",
        kind="text",
        language="ENGLISH",
        embedding=None,
        preserve=None,
        reranker=None,
        description="",
    )
    search = specs[1]
    assert "clusterId" not in search and "collectionName" not in search
    assert search["functions"][0]["clusterId"] == "in03-1"
    parsed = Pipeline.model_validate({"pipelineId": PIPE, **search})
    assert parsed.functions[0].cluster_id == "in03-1"


def test_z25_create_pipeline_set_creates_three_with_one_model():
    answers = [ok({"pipelineId": f"pipe-{i}a", "name": "n"}) for i in range(3)]
    script = Script(answers)
    made = client(script).create_pipeline_set(
        name="demo",
        project_id="proj-1",
        cluster_id="in03-1",
        collection_name="c",
        kind="doc",
        preserve={"year": "Int16"},
    )
    bodies = script.bodies()
    assert [b["type"] for b in bodies] == ["INGESTION", "SEARCH", "DELETION"]
    assert {bodies[0]["functions"][0]["embedding"], bodies[1]["functions"][0]["embedding"]} == {
        "zilliz/bge-base-en-v1.5"
    }
    assert [made.ingestion.pipeline_id, made.search.pipeline_id, made.deletion.pipeline_id] == [
        "pipe-0a",
        "pipe-1a",
        "pipe-2a",
    ]


def test_z26_drop_returns_the_pipeline_and_sends_nothing_else():
    script = Script([ok({"pipelineId": PIPE, "name": "p", "collectionName": "c"})])
    dropped = client(script).drop(PIPE)
    assert dropped.collection_name == "c"
    assert len(script.requests) == 1


def test_z27_read_timeout_above_the_60s_server_limit():
    c = ZillizPipelinesClient(api_key="k")
    assert c.http.timeout.read is not None
    assert c.http.timeout.read > 60
    assert c.http.timeout.connect == 5


def test_z28_doc_url_is_sent_for_the_server_to_download():
    script = Script([ok({"doc_name": "a.md", "num_chunks": 3, "token_usage": 12})])
    result = client(script).ingest_doc_url(PIPE, "https://bucket.test/a.md?sig=1")
    assert script.bodies()[0] == {"data": {"doc_url": "https://bucket.test/a.md?sig=1"}}
    assert (result.doc_name, result.num_chunks, result.usage.embedding) == ("a.md", 3, 12)
    with pytest.raises(InvalidInputError):
        client(script).ingest_doc_url(PIPE, "/etc/passwd")


def test_z29_header_paths_in_chunk_text_pass_through_verbatim():
    text = "# Cluster\n## Collection\n### Fields\nA field is..."
    script = Script(
        [
            ok(describe("SEARCH_DOC_CHUNK")),
            ok({"result": [{"id": 1, "distance": 1, "chunk_text": text}]}),
        ]
    )
    assert retriever(script).invoke("q")[0].page_content == text


def test_z30_ids_become_an_int64_expression():
    assert ids_expression([BIG, str(BIG + 1)]) == f"id in [{BIG}, {BIG + 1}]"
    bad_ids: tuple[list[Any], ...] = ([1.5], ["abc"], [], [True])
    for bad in bad_ids:
        with pytest.raises(InvalidInputError):
            ids_expression(bad)


def test_z31_multipart_data_is_one_json_string_and_no_accept_multipart(tmp_path):
    path = tmp_path / "notes.md"
    path.write_text("# Notes\nhello")
    script = Script([ok({"doc_name": "notes.md", "num_chunks": 1, "usage": {"embedding": 3}})])
    client(script).ingest_file(PIPE, path, metadata={"year": 2024})
    request = script.requests[0]
    assert request.url.path == f"/v1/pipelines/{PIPE}/run_ingestion_with_file"
    assert b'name="data"\r\n\r\n{"year": 2024}\r\n' in request.content
    assert b'name="file"; filename="notes.md"' in request.content
    assert "multipart" not in request.headers.get("accept", "")


def test_z32_list_needs_project_id_and_returns_an_array():
    script = Script(
        [ok([{"pipelineId": PIPE, "name": "a"}, {"pipelineId": "pipe-2", "name": "b"}])]
    )
    pipelines = client(script).list("proj-0123456789abcdef")
    assert [p.pipeline_id for p in pipelines] == [PIPE, "pipe-2"]
    assert script.requests[0].url.params["projectId"] == "proj-0123456789abcdef"
    with pytest.raises(InvalidInputError):
        client(script).list("")


def test_z33_image_model_names_pass_through():
    script = Script([ok({"pipelineId": PIPE})])
    spec = {
        "name": "img_search",
        "type": "SEARCH",
        "projectId": "proj-1",
        "functions": [
            {
                "name": "s",
                "action": "SEARCH_IMAGE_BY_TEXT",
                "clusterId": "in03-1",
                "collectionName": "c",
                "embedding": "zilliz/clip-vit-base-patch32-multilingual-v1",
            }
        ],
    }
    client(script).create(spec)
    assert (
        script.bodies()[0]["functions"][0]["embedding"]
        == "zilliz/clip-vit-base-patch32-multilingual-v1"
    )


def test_z34_model_language_checked_before_create():
    script = Script([ok({"pipelineId": PIPE})])
    spec = {
        "name": "ing",
        "type": "INGESTION",
        "projectId": "proj-1",
        "clusterId": "in03-1",
        "collectionName": "c",
        "functions": [
            {
                "name": "i",
                "action": "INDEX_TEXT",
                "language": "CHINESE",
                "embedding": "openai/text-embedding-3-small",
            }
        ],
    }
    with pytest.raises(InvalidInputError, match="does not support language CHINESE"):
        client(script).create(spec)
    assert script.requests == []


def test_z35_a_pipeline_not_serving_is_reported():
    script = Script([ok({**describe("SEARCH_TEXT"), "status": "INDEXING"})])
    with pytest.raises(PipelineNotServingError, match="INDEXING"):
        retriever(script).invoke("q")


def test_z36_the_api_key_stays_hidden():
    r = ZillizPipelineRetriever(
        pipeline_id=PIPE, api_key="zk-secret-xyz", base_url="http://127.0.0.1:1"
    )
    assert "zk-secret-xyz" not in repr(r)
    assert "zk-secret-xyz" not in str(r.model_dump())
    assert "zk-secret-xyz" not in r.model_dump_json()
    from langchain_core.load import dumps

    assert "zk-secret-xyz" not in dumps(r)


def test_z37_unknown_keys_are_kept_not_rejected():
    result = SearchResult.from_data(
        {"result": [{"id": 1, "distance": 1, "new_field": "x"}], "extra": 1}
    )
    assert result.hits[0].fields["new_field"] == "x"
    assert Pipeline.model_validate({"pipelineId": PIPE, "brandNew": 1}).model_extra == {
        "brandNew": 1
    }


@pytest.mark.parametrize(
    ("response", "error"),
    [
        (httpx.Response(200, text="<html>maintenance</html>"), ResponseFormatError),
        (httpx.Response(200, json={"data": {}}), ResponseFormatError),
        (httpx.Response(200, json=["odd"]), ResponseFormatError),
        (httpx.Response(200, text=""), ResponseFormatError),
        (httpx.Response(502, text="<html>Bad Gateway</html>"), Exception),
        (httpx.Response(404, text="<html>Not Found</html>"), EndpointUnavailableError),
        (httpx.Response(410, text=""), EndpointUnavailableError),
    ],
    ids=["html-200", "no-code", "list", "empty", "html-502", "html-404", "410"],
)
def test_z38_non_json_and_missing_keys_become_typed_errors(response, error):
    with pytest.raises(error) as info:
        client(Script([response]), max_retries=0).search(PIPE, "q")
    assert not isinstance(info.value, (KeyError, json.JSONDecodeError))
    if isinstance(info.value, EndpointUnavailableError):
        assert isinstance(info.value, NotFoundError)
        assert "discontinued" in str(info.value) and "base_url" in str(info.value)


def test_z4_schema_spelling_chuck_text_is_read_too():
    hit = {"id": 1, "distance": 0.5, "chuck_text": "C", "doc_name": "a.md"}
    script = Script([ok(describe("SEARCH_DOC_CHUNK")), ok({"result": [hit]})])
    doc = retriever(script).invoke("q")[0]
    assert doc.page_content == "C"
    assert "chuck_text" not in doc.metadata


def test_z25_a_set_that_fails_part_way_names_what_it_created():
    from langchain_zilliz_bailian.errors import PartialBatchError

    script = Script(
        [ok({"pipelineId": "pipe-0a", "name": "demo_ingestion"}), fail(80000, "bad search")]
    )
    with pytest.raises(PartialBatchError, match="pipe-0a") as info:
        client(script).create_pipeline_set(
            name="demo", project_id="proj-1", cluster_id="in03-1", collection_name="c"
        )
    assert [p.pipeline_id for p in info.value.stored] == ["pipe-0a"]
    assert info.value.failed == ["demo_search", "demo_deletion"]
