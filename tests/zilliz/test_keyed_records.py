"""KeyedRecords: records under caller ids, over scripted pipelines (httpx.MockTransport).

Request shapes (one ingestion per record with its key and metadata as preserved fields, the
upsert's deletion of older copies, deletion and lookup by an escaped ``key in [...]``), typed
errors before any run, and what a failure part-way reports.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import httpx
import pytest

from langchain_zilliz_bailian.errors import (
    InternalServerError,
    InvalidInputError,
    PartialBatchError,
)
from langchain_zilliz_bailian.zilliz.client import ZillizPipelinesClient
from langchain_zilliz_bailian.zilliz.keyed import (
    KeyedHit,
    create_keyed_pipelines,
)
from tests.fakes.keyed_pipelines import DELETE, INGEST, SEARCH, Pipelines, records
from tests.fakes.zilliz import ok

# -- adding --------------------------------------------------------------------------------------


def test_each_record_is_one_ingestion_carrying_its_key_and_metadata():
    pipes = Pipelines()
    keys = records(pipes).add(
        ["first", "second"],
        [{"year": 2024, "source": "a.md", "page": 3}, {"year": 2023}],
        ["k1", "k2"],
    )
    assert keys == ["k1", "k2"]
    assert [data for data, _ in pipes.of(INGEST)] == [
        {
            "text_list": ["first"],
            "lc_id": "k1",
            "year": 2024,
            "lc_metadata": '{"page": 3, "source": "a.md"}',
        },
        {"text_list": ["second"], "lc_id": "k2", "year": 2023, "lc_metadata": "{}"},
    ]
    # The upsert: older copies of the keys, not the records just written, are deleted.
    assert pipes.of(DELETE) == [
        (
            {
                "expression": '(lc_id in ["k1", "k2"]) and not '
                "(id in [450000000000000001, 450000000000000002])"
            },
            {},
        )
    ]


def test_missing_ids_become_uuid4_and_nothing_is_deleted():
    pipes = Pipelines()
    keys = records(pipes).add(["a", "b"], [{"year": 1}, {"year": 2}])
    assert [uuid.UUID(key).version for key in keys] == [4, 4]
    assert [data["lc_id"] for data, _ in pipes.of(INGEST)] == keys
    assert pipes.of(DELETE) == []  # fresh keys have no older copies


async def test_async_add_goes_through_the_async_client_with_the_same_requests():
    pipes = Pipelines()
    assert await records(pipes).aadd(["a"], [{"year": 1}], ["k"]) == ["k"]
    assert set(pipes.via) == {"async"}  # describe, ingestion and deletion alike
    assert [data["lc_id"] for data, _ in pipes.of(INGEST)] == ["k"]
    assert pipes.of(DELETE)[0][0]["expression"].startswith('(lc_id in ["k"])')


@pytest.mark.parametrize(
    ("texts", "metadatas", "ids", "message"),
    [
        (["a", "b"], None, ["same", "same"], "more than once"),
        (["a", "b"], None, ["only-one"], "lengths must match"),
        (["a"], [{"year": 1}, {"year": 2}], None, "lengths must match"),
        (["a"], None, [""], "non-empty string"),
        (["a"], None, [7], "non-empty string"),
        (["a"], None, ["\ud800"], "cannot be stored"),
        (["a"], None, ["x" * 4001], "longer than 4000"),
        ([""], None, ["k"], "non-empty string"),
        ("one text", None, None, "not one string"),
    ],
)
def test_bad_texts_or_ids_fail_before_any_request(texts, metadatas, ids, message):
    pipes = Pipelines()
    with pytest.raises(InvalidInputError, match=message):
        records(pipes).add(texts, metadatas, ids)
    assert pipes.via == []  # not even a describe


@pytest.mark.parametrize(
    ("metadata", "message"),
    [
        ({"year": 2024, "lc_id": "x"}, r"\['lc_id'\] name the fields"),
        ({"year": 2024, "lc_metadata": "{}"}, r"\['lc_metadata'\] name the fields"),
        ({"source": "a.md"}, r"lacks \['year'\]"),
        ({"year": 2024, "tags": {1, 2}}, r"\['tags'\] go into 'lc_metadata' as JSON"),
        ({"year": 2024, "blob": "x" * 4000}, "holds at most 4000"),
        ({"year": [2024]}, "must be a bool, int, float or str"),
    ],
)
def test_bad_metadata_fails_after_describing_but_before_any_run(metadata, message):
    pipes = Pipelines()
    with pytest.raises(InvalidInputError, match=message):
        records(pipes).add(["text"], [metadata], ["k"])
    assert pipes.runs == []


def test_without_a_metadata_field_unknown_keys_are_refused_by_name_or_dropped():
    fields = {"lc_id": "VarChar", "year": "Int16"}
    pipes = Pipelines(fields=fields)
    with pytest.raises(InvalidInputError, match=r"\['page', 'source'\] are not preserved"):
        records(pipes, metadata_field=None).add(["t"], [{"year": 1, "source": "s", "page": 2}])
    assert pipes.runs == []

    records(pipes, metadata_field=None, unknown_metadata="drop").add(
        ["t"], [{"year": 1, "source": "s"}], ["k"]
    )
    assert pipes.of(INGEST)[0][0] == {"text_list": ["t"], "lc_id": "k", "year": 1}


@pytest.mark.parametrize(
    ("fields", "options"),
    [
        ({"year": "Int16"}, {}),  # no key field at all
        ({"lc_id": "Int64", "lc_metadata": "VarChar"}, {}),  # a key field that is not VarChar
        ({"lc_id": "VarChar"}, {}),  # no metadata field, yet one is asked for
        ({"doc_key": "VarChar"}, {"key_field": "doc_key", "metadata_field": "meta"}),
    ],
)
def test_pipelines_without_the_key_or_metadata_field_are_refused_before_any_run(fields, options):
    pipes = Pipelines(fields=fields)
    with pytest.raises(InvalidInputError, match="must be a VarChar field that ingestion pipeline"):
        records(pipes, **options).add(["t"], None, ["k"])
    assert pipes.runs == []


def test_bad_options_fail_at_construction():
    cases: list[tuple[dict[str, Any], str]] = [
        ({"key_field": "lc id"}, "plain field name"),
        ({"metadata_field": "lc_id"}, "must differ"),
        ({"unknown_metadata": "keep"}, "'raise' or 'drop'"),
        ({"max_concurrency": 0}, "max_concurrency"),
    ]
    for options, message in cases:
        with pytest.raises(InvalidInputError, match=message):
            records(Pipelines(), **options)


def test_a_failure_part_way_reports_keys_and_still_replaces_what_was_stored():
    pipes = Pipelines(fail_at=1)
    with pytest.raises(PartialBatchError) as caught:
        records(pipes).add(["one", "two", "three"], [{"year": 1}] * 3, ["k1", "k2", "k3"])
    error = caught.value
    assert [item["metadata"]["lc_id"] for item in error.stored] == ["k1"]
    assert error.failed == ["two", "three"]
    assert [unit.preserved["lc_id"] for unit in error.failed_units] == ["k2", "k3"]
    assert error.unknown_outcome == ["two"]  # a 500 may have stored it
    assert isinstance(error.cause, InternalServerError)
    # k1 was written: its older copies are gone; k2 and k3 keep theirs.
    assert [data for data, _ in pipes.of(DELETE)] == [
        {"expression": '(lc_id in ["k1"]) and not (id in [450000000000000001])'}
    ]


def test_a_failure_before_anything_is_stored_is_raised_itself():
    pipes = Pipelines(fail_at=0)
    with pytest.raises(InternalServerError) as caught:
        records(pipes).add(["one"], [{"year": 1}], ["k1"])
    assert caught.value.failed == ["one"]
    assert pipes.of(DELETE) == []


# -- deleting ------------------------------------------------------------------------------------


def test_delete_sends_an_escaped_key_expression_in_chunks():
    pipes = Pipelines()
    keys = ['a"] or lc_id != ["', "b\\", *[f"k{n}" for n in range(120)]]
    assert records(pipes).delete(keys) == 4  # two requests, two deleted each (scripted)
    expressions = [data["expression"] for data, _ in pipes.of(DELETE)]
    assert len(expressions) == 2
    assert expressions[0].startswith('lc_id in ["a\\"] or lc_id != [\\"", "b\\\\", "k0", ')
    assert expressions[1] == "lc_id in [" + ", ".join(f'"k{n}"' for n in range(98, 120)) + "]"


async def test_adelete_matches_delete():
    sync_pipes, async_pipes = Pipelines(), Pipelines()
    records(sync_pipes).delete(["x", 'y"'])
    assert await records(async_pipes).adelete(["x", 'y"']) == 2
    assert sync_pipes.of(DELETE) == async_pipes.of(DELETE)
    assert set(async_pipes.via) == {"async"}


@pytest.mark.parametrize("ids", ["k1", [None], [""], [3]])
def test_bad_ids_to_delete_fail_before_any_request(ids):
    pipes = Pipelines()
    with pytest.raises(InvalidInputError):
        records(pipes).delete(ids)
    assert pipes.via == []


# -- reading -------------------------------------------------------------------------------------

HITS = [
    {
        "id": 450000000000000007,
        "distance": 0.91,
        "text": "first",
        "lc_id": "k1",
        "year": 2024,
        "lc_metadata": '{"page": 3}',
    },
    {"id": 450000000000000008, "distance": 0.5, "text": "second", "lc_id": "k2", "year": None},
    {"id": 450000000000000009, "distance": 0.4, "text": "again", "lc_id": "k1", "year": 2020},
]


def test_search_asks_for_every_preserved_field_and_rebuilds_the_metadata():
    pipes = Pipelines(hits=HITS[:2])
    hits = records(pipes).search("query", k=2, filter="year >= 2020")
    assert hits == [
        KeyedHit("k1", "first", {"year": 2024, "page": 3}, 0.91),
        KeyedHit("k2", "second", {}, 0.5),  # null fields are left out
    ]
    [(data, params)] = pipes.of(SEARCH)
    assert data == {"query_text": "query"}
    assert params == {
        "limit": 2,
        "offset": 0,
        "outputFields": ["lc_id", "lc_metadata", "year"],
        "filter": "year >= 2020",
    }


async def test_asearch_matches_search():
    sync_pipes, async_pipes = Pipelines(hits=HITS), Pipelines(hits=HITS)
    expected = records(sync_pipes).search("q", 3)
    assert await records(async_pipes).asearch("q", 3) == expected
    assert sync_pipes.of(SEARCH) == async_pipes.of(SEARCH)
    assert set(async_pipes.via) == {"async"}


def test_get_filters_on_the_key_and_keeps_one_record_per_key():
    pipes = Pipelines(hits=HITS)
    found = records(pipes).get(["k1", "k2", 'k"3'])
    assert found == [
        KeyedHit("k1", "first", {"year": 2024, "page": 3}),
        KeyedHit("k2", "second", {}),
    ]
    [(_, params)] = pipes.of(SEARCH)
    assert params["filter"] == 'lc_id in ["k1", "k2", "k\\"3"]'
    assert params["limit"] == 500


@pytest.mark.parametrize(("k", "where"), [(0, "limit"), (501, "limit"), ("4", "limit")])
def test_bad_search_windows_fail_before_any_request(k, where):
    pipes = Pipelines()
    with pytest.raises(InvalidInputError, match=where):
        records(pipes).search("q", k)
    assert pipes.runs == []


# -- creating ------------------------------------------------------------------------------------


def test_create_keyed_pipelines_preserves_the_key_and_metadata_fields():
    bodies: list[dict[str, Any]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        bodies.append(body)
        return ok({"pipelineId": f"pipe-{len(bodies):024d}", "name": body["name"]})

    client = ZillizPipelinesClient(
        api_key="zk", http_client=httpx.Client(transport=httpx.MockTransport(handler))
    )
    made = create_keyed_pipelines(
        client, name="notes", project_id="proj-1", cluster_id="in01-1", preserve={"year": "Int16"}
    )
    assert made.ingestion.pipeline_id == "pipe-" + "1".zfill(24)
    ingestion = bodies[0]
    assert ingestion["collectionName"] == "notes"
    assert [f["action"] for f in ingestion["functions"]] == ["INDEX_TEXT"] + ["PRESERVE"] * 3
    assert {f["outputField"]: f["fieldType"] for f in ingestion["functions"][1:]} == {
        "lc_id": "VarChar",
        "lc_metadata": "VarChar",
        "year": "Int16",
    }
    assert [body["functions"][0]["action"] for body in bodies[1:]] == [
        "SEARCH_TEXT",
        "PURGE_TEXT_INDEX",
    ]
    with pytest.raises(InvalidInputError, match="key/metadata fields"):
        create_keyed_pipelines(
            client, name="x", project_id="proj-1", cluster_id="in01-1", preserve={"lc_id": "Int64"}
        )
    assert len(bodies) == 3
