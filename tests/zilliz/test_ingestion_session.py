"""The framework-free ingestion session the LangChain loader and LlamaIndex reader run on.

Planning (image coercion, metadata selection, checks before any request), typed stored records,
the one hand-out loop (every stored item yielded or logged, sync and async, also after a bare
``break`` under ``asyncio.run``), deletion targets, token totals and the progress bar.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Generator
from typing import Any

import httpx
import pytest

from langchain_zilliz_bailian.errors import InvalidInputError, PipelineTypeError
from langchain_zilliz_bailian.zilliz.ingestion import ImageSource, StoredRecord
from langchain_zilliz_bailian.zilliz.ingestion_session import (
    IngestionSession,
    StoredItem,
    as_image,
    select_metadata,
)
from tests.fakes.zilliz import Script, StoringOnAnswer, ok, unyielded_ids

PIPE = "pipe-0123456789abcdef012345"
DEL = "pipe-fedcba9876543210fedcba"


def store(request: httpx.Request) -> httpx.Response:
    """One id per text (1000 + its digits), 10 tokens a text."""
    texts = json.loads(request.content)["data"]["text_list"]
    ids = [1000 + int(text[1:]) for text in texts]
    return ok({"num_entities": len(ids), "ids": ids, "usage": {"embedding": 10 * len(ids)}})


def make(script: Script, **options: Any) -> IngestionSession:
    script.pipelines = {PIPE: "INGESTION", DEL: "DELETION", **script.pipelines}
    return IngestionSession(
        PIPE,
        api_key="zk-1",
        base_url="https://zilliz.example.test",
        http_client=script.sync_client(),
        http_async_client=script.async_client(),
        **options,
    )


def same(item: StoredItem) -> StoredItem:
    return item


# -- planning -------------------------------------------------------------------------------------


def test_images_are_coerced_from_a_pair_a_mapping_or_an_image_source() -> None:
    source = ImageSource("https://img.test/a.png", "a", {"tag": "x"})
    assert as_image(source) is source
    assert as_image(("https://img.test/b.png", "b")) == ImageSource("https://img.test/b.png", "b")
    assert as_image({"url": "https://img.test/c.png", "id": "c", "tag": "y"}) == ImageSource(
        "https://img.test/c.png", "c", {"tag": "y"}
    )
    with pytest.raises(InvalidInputError, match="An image is"):
        as_image({"url": "https://img.test/d.png"})


def test_metadata_is_sent_whole_or_only_the_keys_named() -> None:
    metadata = {"year": 2024, "source": "/a.md"}
    assert select_metadata(metadata, None) == metadata
    assert select_metadata(metadata, ["year", "missing"]) == {"year": 2024}
    with pytest.raises(InvalidInputError, match="not one string"):
        select_metadata(metadata, "year")


def test_a_plan_groups_documents_by_their_selected_metadata() -> None:
    units = make(Script([])).plan(
        [("a", {"year": 1, "path": "/a"}), ("b", {"year": 2}), ("c", {"year": 1, "path": "/c"})],
        images=[("https://img.test/i.png", "i")],
        metadata={"team": "x"},
        metadata_keys=["year"],
    )
    assert [(u.kind, u.items, dict(u.preserved)) for u in units[:2]] == [
        ("text", ("a", "c"), {"team": "x", "year": 1}),
        ("text", ("b",), {"team": "x", "year": 2}),
    ]
    assert units[2].kind == "image" and units[2].items[0].id == "i"


@pytest.mark.parametrize(
    "sources",
    [{"texts": "one string"}, {"doc_urls": "https://a.test/x.pdf"}, {"texts": [""]}],
)
def test_bad_sources_fail_before_anything_is_sent(sources: dict[str, Any]) -> None:
    script = Script([])
    with pytest.raises(InvalidInputError):
        make(script).plan(**sources)
    assert script.requests == []


@pytest.mark.parametrize(
    "bad", [{"batch_size": 0}, {"max_concurrency": -1}, {"timeout": 0}, {"no_such": 1}]
)
def test_bad_options_fail_at_construction(bad: dict[str, Any]) -> None:
    with pytest.raises(InvalidInputError):
        make(Script([]), **bad)


# -- running --------------------------------------------------------------------------------------


def test_items_carry_text_metadata_and_id_and_the_tokens_add_up() -> None:
    run = make(Script([store]), batch_size=2)
    items = list(run.items(run.plan(texts=["t1", "t2", "t3"], metadata={"k": "v"}), same))
    assert [(i.kind, i.id, i.text) for i in items] == [
        ("text", "1001", "t1"),
        ("text", "1002", "t2"),
        ("text", "1003", "t3"),
    ]
    assert items[0].metadata == {"k": "v", "pipeline_id": PIPE, "token_usage": 20, "id": "1001"}
    assert run.total_tokens == 30


def test_a_stored_record_has_one_plain_form_for_errors_and_logs() -> None:
    text = StoredRecord("text", "1", {"year": 1}, "hello")
    image = StoredRecord("image", "i", {"image_id": "i", "image_url": "https://img.test/i"})
    assert text.as_dict() == {"kind": "text", "text": "hello", "id": "1", "metadata": {"year": 1}}
    assert image.as_dict() == {"kind": "image", "image_id": "i", "image_url": "https://img.test/i"}


def logged_ids(caplog: pytest.LogCaptureFixture) -> set[str]:
    return unyielded_ids(record.getMessage() for record in caplog.records)


def test_a_sync_consumer_that_stops_gets_the_rest_of_the_batch_logged(caplog) -> None:
    caplog.set_level(logging.WARNING, logger="langchain_zilliz_bailian")
    script = Script([store])
    run = make(script, batch_size=5)
    items = run.items(run.plan(texts=[f"t{i}" for i in range(10)]), same)
    taken = [next(items).id for _ in range(2)]
    assert isinstance(items, Generator)
    items.close()
    assert len(script.requests) == 1  # the second batch never started
    assert logged_ids(caplog) == {"1002", "1003", "1004"} and taken == ["1000", "1001"]


def test_a_bare_break_under_asyncio_run_leaves_nothing_stored_unreported(caplog) -> None:
    caplog.set_level(logging.WARNING, logger="langchain_zilliz_bailian")
    server = StoringOnAnswer(PIPE)
    taken: list[str | None] = []

    async def main() -> None:
        run = IngestionSession(
            PIPE,
            api_key="zk-1",
            base_url="https://zilliz.example.test",
            batch_size=20,
            max_concurrency=4,
            http_async_client=httpx.AsyncClient(transport=httpx.MockTransport(server)),
        )
        async for item in run.aitems(run.plan(texts=[f"t{i}" for i in range(400)]), same):
            taken.append(item.id)
            if len(taken) == 3:
                break  # main returns at once: asyncio.run cancels and finalises

    asyncio.run(main())
    assert len(server.stored) > len(taken) == 3
    assert server.stored - set(taken) - logged_ids(caplog) == set()
    assert len(server.stored) < 400  # nothing new started after the stop


def test_show_progress_counts_the_items_stored(capsys) -> None:
    run = make(Script([store]), batch_size=2, show_progress=True)
    list(run.items(run.plan(texts=["t1", "t2", "t3"]), same))
    err = capsys.readouterr().err
    assert f"Ingesting into {PIPE}" in err and "3/3" in err


# -- deletion -------------------------------------------------------------------------------------


def test_deletion_targets_from_stored_items_ids_or_one_doc_name() -> None:
    run = make(Script([]), deletion_pipeline_id=DEL)
    by_ids = run.deletion(stored=[{"id": "1"}, {"id": "2"}])
    assert (by_ids.pipeline_id, dict(by_ids.target)) == (DEL, {"ids": ["1", "2"]})
    by_doc = run.deletion(stored=[{"doc_name": "a.pdf", "num_chunks": 3}], pipeline_id=PIPE)
    assert (by_doc.pipeline_id, dict(by_doc.target)) == (PIPE, {"doc_name": "a.pdf"})
    assert dict(run.deletion(expression="year < 2000").target) == {"expression": "year < 2000"}


@pytest.mark.parametrize(
    ("call", "message"),
    [
        ({"stored": [{"id": "1"}, {"doc_name": "a"}]}, "either text ids or one doc_name"),
        ({"stored": [{"text": "x"}]}, "no 'id' or 'doc_name'"),
        ({"stored": [{"id": "1"}], "ids": ["2"]}, "not both"),
        ({"ids": ["1"], "doc_name": "a"}, "exactly one"),
        ({}, "exactly one"),
    ],
)
def test_bad_deletion_targets_fail_before_any_request(call: dict[str, Any], message: str) -> None:
    script = Script([])
    with pytest.raises(InvalidInputError, match=message):
        make(script, deletion_pipeline_id=DEL).deletion(**call)
    assert script.requests == [] and script.described == []


def test_deleting_needs_a_deletion_pipeline() -> None:
    with pytest.raises(InvalidInputError, match="DELETION pipeline"):
        make(Script([])).deletion(ids=["1"])


async def test_delete_and_adelete_run_through_a_deletion_pipeline_only() -> None:
    script = Script([ok({"num_deleted_entities": 2})])
    run = make(script, deletion_pipeline_id=DEL)
    assert run.delete(run.deletion(ids=[1, 2])).num_deleted == 2
    assert (await run.adelete(run.deletion(doc_name="a.pdf"))).num_deleted == 2
    assert [body["data"] for body in script.bodies()] == [
        {"expression": "id in [1, 2]"},
        {"doc_name": "a.pdf"},
    ]
    with pytest.raises(PipelineTypeError):
        run.delete(run.deletion(ids=[1], pipeline_id=PIPE))
