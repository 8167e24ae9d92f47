"""KeyedRecords against the live local server: keys that look like expression syntax are data.

An id holding quotes, brackets, backslashes or a whole ``or`` clause must delete, replace and
find only its own record.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from langchain_zilliz_bailian.zilliz.client import ZillizPipelinesClient
from langchain_zilliz_bailian.zilliz.keyed import KeyedRecords, create_keyed_pipelines

pytestmark = pytest.mark.server

TRICKY = [
    'quote"inside',
    'a"] or lc_id != ["',
    "back\\slash",
    '\\"',
    "[bracket]",
    "new\nline",
    "plain",
]


@pytest.fixture
def keyed(local_server: Any) -> KeyedRecords:
    connection = {"base_url": local_server.url, "api_key": local_server.api_key}
    with ZillizPipelinesClient(**connection) as client:
        made = create_keyed_pipelines(
            client,
            name=f"keyed_{uuid.uuid4().hex[:10]}",
            project_id="proj-local",
            cluster_id="in01-local",
            preserve={"year": "Int16"},
        )
    return KeyedRecords(
        made.ingestion.pipeline_id,
        made.search.pipeline_id,
        made.deletion.pipeline_id,
        metadata_field="lc_metadata",
        **connection,
    )


def all_keys(keyed: KeyedRecords) -> list[str]:
    return sorted(hit.key for hit in keyed.search("record", k=100))


def test_a_key_with_quotes_and_brackets_deletes_only_itself(keyed):
    texts = [f"record number {n}" for n in range(len(TRICKY))]
    keyed.add(texts, [{"year": 2000 + n} for n in range(len(TRICKY))], TRICKY)
    assert all_keys(keyed) == sorted(TRICKY)

    for gone in ('a"] or lc_id != ["', '\\"', "back\\slash"):
        assert keyed.delete([gone]) == 1
    assert all_keys(keyed) == sorted(set(TRICKY) - {'a"] or lc_id != ["', '\\"', "back\\slash"})


def test_re_adding_a_tricky_key_replaces_only_its_record(keyed):
    keyed.add(["record one", "record two"], [{"year": 1}, {"year": 2}], ['k"1', "k1"])
    keyed.add(["record one, edited"], [{"year": 3, "note": "x"}], ['k"1'])
    found = {hit.key: (hit.text, hit.metadata) for hit in keyed.get(['k"1', "k1", "absent"])}
    assert found == {
        'k"1': ("record one, edited", {"year": 3, "note": "x"}),
        "k1": ("record two", {"year": 2}),
    }
    assert len(keyed.search("record", k=10)) == 2  # replaced, not stored twice


async def test_async_twins_against_the_server(keyed):
    await keyed.aadd(["record a", "record b"], [{"year": 1}, {"year": 2}], ["a]", 'b"'])
    assert sorted(hit.key for hit in await keyed.aget(["a]", 'b"'])) == ["a]", 'b"']
    assert await keyed.adelete(["a]"]) == 1
    assert [hit.key for hit in await keyed.asearch("record", k=10)] == ['b"']
