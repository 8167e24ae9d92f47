"""ZillizPipelineLoader: batching, grouping by metadata, partial failures, async, deletion."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncGenerator

import httpx
import pytest
from langchain_core.documents import Document

from langchain_zilliz_bailian import ZillizPipelineLoader
from langchain_zilliz_bailian.errors import (
    APITimeoutError,
    InvalidInputError,
    PartialBatchError,
    ResponseFormatError,
)
from tests.fakes.zilliz import Script, describe_path, described, fail, ok

PIPE = "pipe-0123456789abcdef012345"
DEL = "pipe-fedcba9876543210fedcba"


def stored_ids(request: httpx.Request) -> httpx.Response:
    """Answer an INDEX_TEXT run with one int64 id per text, derived from the text's position."""
    texts = json.loads(request.content)["data"]["text_list"]
    base = 450000000000000000 + len(stored_ids.calls) * 100  # type: ignore[attr-defined]
    stored_ids.calls.append(texts)  # type: ignore[attr-defined]
    return ok(
        {
            "num_entities": len(texts),
            "ids": [base + i for i in range(len(texts))],
            "usage": {"embedding": 10 * len(texts)},
        }
    )


#: What each pipeline answers to the loader's describe call (made once, before its first run).
TYPES = {PIPE: "INGESTION", DEL: "DELETION"}


def loader(script: Script, **kwargs) -> ZillizPipelineLoader:
    script.pipelines = {**TYPES, **script.pipelines}
    return ZillizPipelineLoader(
        PIPE,
        api_key="zk-1",
        base_url="https://zilliz.example.test",
        http_client=script.sync_client(),
        http_async_client=script.async_client(),
        **kwargs,
    )


@pytest.fixture(autouse=True)
def reset():
    stored_ids.calls = []  # type: ignore[attr-defined]


def test_texts_are_batched_and_each_stored_text_is_yielded():
    script = Script([stored_ids])
    docs = loader(
        script, texts=["a", "b", "c", "d", "e"], batch_size=2, metadata={"source": "unit"}
    ).load()
    assert stored_ids.calls == [["a", "b"], ["c", "d"], ["e"]]  # type: ignore[attr-defined]
    assert [d.page_content for d in docs] == ["a", "b", "c", "d", "e"]
    assert [d.metadata["id"] for d in docs] == [
        "450000000000000000",
        "450000000000000001",
        "450000000000000100",
        "450000000000000101",
        "450000000000000200",
    ]
    assert docs[0].metadata == {
        "source": "unit",
        "pipeline_id": PIPE,
        "token_usage": 20,
        "id": "450000000000000000",
    }
    assert all(body["data"]["source"] == "unit" for body in script.bodies())


def test_documents_are_grouped_by_metadata():
    script = Script([stored_ids])
    documents = [
        Document(page_content="x1", metadata={"year": 2023}),
        Document(page_content="y1", metadata={"year": 2024}),
        Document(page_content="x2", metadata={"year": 2023}),
    ]
    docs = loader(script, documents=documents).load()
    assert [b["data"] for b in script.bodies()] == [
        {"text_list": ["x1", "x2"], "year": 2023},
        {"text_list": ["y1"], "year": 2024},
    ]
    assert [(d.page_content, d.metadata["year"]) for d in docs] == [
        ("x1", 2023),
        ("x2", 2023),
        ("y1", 2024),
    ]


def test_doc_urls_files_and_images(tmp_path):
    path = tmp_path / "guide.md"
    path.write_text("# Guide")

    def answer(request):
        if request.url.path.endswith("run_ingestion_with_file"):
            return ok({"doc_name": "guide.md", "num_chunks": 2, "usage": {"embedding": 5}})
        data = json.loads(request.content)["data"]
        if "doc_url" in data:
            return ok({"doc_name": "remote.md", "num_chunks": 4, "token_usage": 9})
        return ok({"num_entities": 1, "usage": {"embedding": "3"}})

    script = Script([answer])
    docs = loader(
        script,
        doc_urls=["https://bucket.test/remote.md?sig=1"],
        file_paths=[path],
        images=[
            ("https://img.test/cat.png", "cat-1"),
            {"url": "https://img.test/dog.png", "id": "dog-1", "image_title": "Dog"},
        ],
    ).load()
    assert [d.metadata for d in docs] == [
        {
            "doc_name": "remote.md",
            "num_chunks": 4,
            "doc_url": "https://bucket.test/remote.md?sig=1",
            "pipeline_id": PIPE,
            "token_usage": 9,
        },
        {
            "doc_name": "guide.md",
            "num_chunks": 2,
            "source": str(path),
            "pipeline_id": PIPE,
            "token_usage": 5,
        },
        {
            "image_id": "cat-1",
            "image_url": "https://img.test/cat.png",
            "pipeline_id": PIPE,
            "token_usage": 3,
        },
        {
            "image_id": "dog-1",
            "image_url": "https://img.test/dog.png",
            "pipeline_id": PIPE,
            "token_usage": 3,
        },
    ]
    assert json.loads(script.requests[-1].content)["data"]["image_title"] == "Dog"


def test_a_batch_that_fails_part_way_loses_nothing():
    script = Script([stored_ids, fail(80000, "bad field")])
    load = loader(script, texts=["a", "b", "c", "d", "e"], batch_size=2)
    yielded = []
    with pytest.raises(PartialBatchError) as info:
        for doc in load.lazy_load():
            yielded.append(doc.page_content)
    error = info.value
    assert yielded == ["a", "b"]
    assert [r["id"] for r in error.stored] == ["450000000000000000", "450000000000000001"]
    assert error.failed == ["c", "d", "e"]
    assert [unit.items for unit in error.failed_units] == [("c", "d"), ("e",)]
    assert error.unknown_outcome == []
    assert "storing 2 item(s); 3 item(s) were not stored" in str(error)
    assert len(script.requests) == 2  # nothing sent after the failure


def test_ingestion_is_not_repeated_after_a_5xx_and_the_outcome_is_unknown():
    script = Script(
        [stored_ids, httpx.Response(503, json={"code": 503, "message": "busy"}), stored_ids]
    )
    with pytest.raises(PartialBatchError) as info:
        loader(script, texts=["a", "b", "c"], batch_size=1, max_retries=3).load()
    assert len(script.requests) == 2
    assert info.value.unknown_outcome == ["b"]
    assert info.value.failed == ["b", "c"]
    assert "may have been stored" in str(info.value)


def test_throttled_ingestion_is_retried():
    script = Script(
        [
            httpx.Response(
                429, json={"code": 429, "message": "slow"}, headers={"Retry-After": "0"}
            ),
            stored_ids,
        ]
    )
    docs = loader(script, texts=["a"]).load()
    assert len(docs) == 1 and len(script.requests) == 2


async def test_alazy_load_runs_batches_concurrently_and_yields_in_order():
    in_flight = 0
    peak = 0
    calls = []

    async def handler(request):
        nonlocal in_flight, peak
        if describe_path(request):
            return described(PIPE, "INGESTION")
        in_flight += 1
        peak = max(peak, in_flight)
        texts = json.loads(await request.aread())["data"]["text_list"]
        calls.append(texts)
        await asyncio.sleep(0.02 if texts[0] == "t0" else 0.001)
        in_flight -= 1
        return ok({"num_entities": len(texts), "ids": [int(t[1:]) for t in texts]})

    load = ZillizPipelineLoader(
        PIPE,
        texts=[f"t{i}" for i in range(8)],
        batch_size=1,
        max_concurrency=3,
        api_key="k",
        base_url="https://zilliz.example.test",
        http_async_client=httpx.AsyncClient(transport=httpx.MockTransport(handler)),
    )
    docs = [doc async for doc in load.alazy_load()]
    assert [d.metadata["id"] for d in docs] == [str(i) for i in range(8)]
    assert peak == 3


async def test_alazy_load_partial_failure_reports_everything():
    async def handler(request):
        if describe_path(request):
            return described(PIPE, "INGESTION")
        texts = json.loads(await request.aread())["data"]["text_list"]
        if texts == ["t2"]:
            return fail(80000, "rejected")
        await asyncio.sleep(0.01)
        return ok({"num_entities": 1, "ids": [int(texts[0][1:])]})

    load = ZillizPipelineLoader(
        PIPE,
        texts=[f"t{i}" for i in range(6)],
        batch_size=1,
        max_concurrency=2,
        api_key="k",
        base_url="https://zilliz.example.test",
        http_async_client=httpx.AsyncClient(transport=httpx.MockTransport(handler)),
    )
    yielded = []
    with pytest.raises(PartialBatchError) as info:
        async for doc in load.alazy_load():
            yielded.append(doc.metadata["id"])
    error = info.value
    stored = [r["id"] for r in error.stored]
    assert stored == yielded
    assert "t2" in error.failed
    assert set(stored) | {f[1:] for f in error.failed} == {str(i) for i in range(6)}


def test_bad_input_fails_before_any_request(tmp_path):
    script = Script([stored_ids])
    for kwargs in (
        {"texts": ["ok"], "metadata": {"text_list": "x"}},
        {"documents": [Document(page_content="a", metadata={"tags": ["x"]})]},
        {"texts": "not a list"},
        {"file_paths": [tmp_path / "missing.md"]},
        {"images": [("https://x.test/a.png",)]},
        {"texts": ["a"], "batch_size": 0},
    ):
        with pytest.raises(InvalidInputError):
            loader(script, **kwargs)
    assert script.requests == []


def test_delete_by_loaded_documents_ids_doc_name_and_expression():
    script = Script([stored_ids])
    load = loader(script, texts=["a", "b"], deletion_pipeline_id=DEL)
    docs = load.load()
    deletions = Script([ok({"num_deleted_entities": 2})])
    load.session.client = loader(deletions).client
    assert load.delete(documents=docs).num_deleted == 2
    load.delete(doc_name="guide.md")
    load.delete(expression="year < 2020")
    assert [b["data"] for b in deletions.bodies()] == [
        {"expression": "id in [450000000000000000, 450000000000000001]"},
        {"doc_name": "guide.md"},
        {"expression": "year < 2020"},
    ]
    assert {r.url.path for r in deletions.requests} == {f"/v1/pipelines/{DEL}/run"}


def test_delete_needs_a_deletion_pipeline():
    with pytest.raises(InvalidInputError, match="DELETION pipeline"):
        loader(Script([stored_ids])).delete(ids=[1])


def test_show_progress(capsys):
    docs = loader(
        Script([stored_ids]), texts=["a", "b", "c"], batch_size=2, show_progress=True
    ).load()
    assert len(docs) == 3
    assert "3/3" in capsys.readouterr().err


def test_repr_hides_the_key():
    assert "zk-1" not in repr(loader(Script([stored_ids]), texts=["a"]))


def test_partial_batch_error_pickles():
    import pickle

    from langchain_zilliz_bailian.errors import PartialBatchError

    error = PartialBatchError("m", stored=[{"id": "1"}], failed=["b"], unknown_outcome=["b"])
    copy = pickle.loads(pickle.dumps(error))
    assert (copy.message, copy.stored, copy.failed, copy.unknown_outcome) == (
        "m",
        [{"id": "1"}],
        ["b"],
        ["b"],
    )


@pytest.mark.parametrize(
    ("failure", "error", "unknown"),
    [
        (lambda: httpx.ConnectTimeout("no connection"), APITimeoutError, []),
        (lambda: httpx.Response(200, json={"code": 200}), ResponseFormatError, ["a"]),
    ],
    ids=["connect-timeout-never-sent", "unreadable-success"],
)
def test_outcome_classification(failure, error, unknown):
    script = Script([failure()])
    with pytest.raises(error) as info:  # nothing stored: the cause itself, not a PartialBatchError
        loader(script, texts=["a"], max_retries=0).load()
    assert info.value.unknown_outcome == unknown
    assert info.value.failed == ["a"]


async def test_stopping_alazy_load_early_waits_for_writes_in_flight_and_reports_them(caplog):
    sent = []

    async def handler(request):
        if describe_path(request):
            return described(PIPE, "INGESTION")
        texts = json.loads(await request.aread())["data"]["text_list"]
        sent.append(texts[0])
        await asyncio.sleep(0.01)
        return ok({"num_entities": 1, "ids": [int(texts[0][1:])]})

    load = ZillizPipelineLoader(
        PIPE,
        texts=[f"t{i}" for i in range(10)],
        batch_size=1,
        max_concurrency=3,
        api_key="k",
        base_url="https://zilliz.example.test",
        http_async_client=httpx.AsyncClient(transport=httpx.MockTransport(handler)),
    )
    stream = load.alazy_load()
    first = await stream.__anext__()
    assert isinstance(stream, AsyncGenerator)
    await stream.aclose()
    assert first.metadata["id"] == "0"
    assert len(sent) < 10  # nothing new started after the consumer stopped
    assert "stored but not yielded" in caplog.text
    for text in sent[1:]:
        assert text[1:] in caplog.text
