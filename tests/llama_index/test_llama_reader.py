"""ZillizPipelineReader: one Document per stored unit, native async, failures, deletion."""

from __future__ import annotations

import asyncio
import inspect
import json

import httpx
import pytest
from llama_index.core.schema import Document, MetadataMode

from langchain_zilliz_bailian.errors import InvalidInputError, PartialBatchError
from llama_index_ext import ImageSource, ZillizPipelineReader
from tests.fakes.zilliz import Script, describe_path, described, fail, ok

PIPE = "pipe-0123456789abcdef012345"
DEL = "pipe-fedcba9876543210fedcba"
BASE = 2**60  # int64 ids beyond 2**53


def store_texts(request: httpx.Request) -> httpx.Response:
    """An INDEX_TEXT answer: one int64 id per text (from the text's digits), 10 tokens each."""
    texts = json.loads(request.content)["data"]["text_list"]
    return ok(
        {
            "num_entities": len(texts),
            "ids": [BASE + int(t.strip("tx")) for t in texts],
            "usage": {"embedding": 10 * len(texts)},
        }
    )


#: What each pipeline answers to the reader's describe call (made once, before its first run).
TYPES = {PIPE: "INGESTION", DEL: "DELETION"}


def reader(script: Script, **kwargs) -> ZillizPipelineReader:
    script.pipelines = {**TYPES, **script.pipelines}
    return ZillizPipelineReader(
        PIPE,
        api_key="zk-secret-key",
        base_url="https://zilliz.example.test",
        http_client=script.sync_client(),
        http_async_client=script.async_client(),
        **kwargs,
    )


def test_texts_become_one_document_per_stored_text():
    script = Script([store_texts])
    docs = reader(script, batch_size=2).load_data(
        texts=["t1", "t2", "t3"], metadata={"source": "unit"}
    )
    assert [b["data"] for b in script.bodies()] == [
        {"text_list": ["t1", "t2"], "source": "unit"},
        {"text_list": ["t3"], "source": "unit"},
    ]
    assert [d.text for d in docs] == ["t1", "t2", "t3"]
    assert [d.id_ for d in docs] == [str(BASE + 1), str(BASE + 2), str(BASE + 3)]
    assert docs[0].metadata == {
        "source": "unit",
        "pipeline_id": PIPE,
        "token_usage": 20,
        "id": str(BASE + 1),
    }
    assert docs[2].metadata["token_usage"] == 10
    # Bookkeeping stays out of prompts and embeddings if the Documents are indexed again.
    assert docs[0].get_content(MetadataMode.LLM) == "source: unit\n\nt1"


def test_llama_index_documents_are_grouped_by_metadata():
    script = Script([store_texts])
    documents = [
        Document(text="x1", metadata={"year": 2023, "file_path": "/a"}),
        Document(text="x2", metadata={"year": 2024, "file_path": "/b"}),
        Document(text="x3", metadata={"year": 2023, "file_path": "/c"}),
    ]
    docs = reader(script).load_data(documents=documents, metadata_keys=["year"])
    assert [b["data"] for b in script.bodies()] == [
        {"text_list": ["x1", "x3"], "year": 2023},
        {"text_list": ["x2"], "year": 2024},
    ]
    assert [(d.text, d.metadata["year"]) for d in docs] == [
        ("x1", 2023),
        ("x3", 2023),
        ("x2", 2024),
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
    docs = reader(script).load_data(
        doc_urls=["https://bucket.test/remote.md?sig=1"],
        file_paths=[path],
        images=[
            ("https://img.test/cat.png", "cat-1"),
            {"url": "https://img.test/dog.png", "id": "dog-1", "image_title": "Dog"},
            ImageSource(url="https://img.test/owl.png", id="owl-1"),
        ],
    )
    assert [d.id_ for d in docs] == ["remote.md", "guide.md", "cat-1", "dog-1", "owl-1"]
    assert docs[0].metadata == {
        "doc_name": "remote.md",
        "num_chunks": 4,
        "doc_url": "https://bucket.test/remote.md?sig=1",
        "pipeline_id": PIPE,
        "token_usage": 9,
    }
    assert docs[1].metadata["source"] == str(path)
    assert docs[2].metadata == {
        "image_id": "cat-1",
        "image_url": "https://img.test/cat.png",
        "pipeline_id": PIPE,
        "token_usage": 3,
    }
    assert json.loads(script.requests[3].content)["data"]["image_title"] == "Dog"
    assert all(d.text == "" for d in docs)


def test_lazy_load_yields_what_was_stored_before_a_failure():
    script = Script([store_texts, fail(80000, "bad field")])
    yielded = []
    with pytest.raises(PartialBatchError) as info:
        for doc in reader(script, batch_size=2).lazy_load_data(texts=["t1", "t2", "t3", "t4"]):
            yielded.append(doc.text)
    assert yielded == ["t1", "t2"]
    assert [r["id"] for r in info.value.stored] == [str(BASE + 1), str(BASE + 2)]
    assert info.value.failed == ["t3", "t4"]
    assert len(script.requests) == 2


def test_bad_input_fails_before_any_request(tmp_path):
    script = Script([store_texts])
    load = reader(script)
    for sources in (
        {"texts": ["ok"], "metadata": {"text_list": "x"}},
        {"documents": [Document(text="a", metadata={"tags": ["x"]})]},
        {"documents": ["not a Document"]},
        {"texts": "not a list"},
        {"file_paths": [tmp_path / "missing.md"]},
        {"images": [("https://x.test/a.png",)]},
        {"urls": ["https://x.test"]},
    ):
        with pytest.raises(InvalidInputError):
            load.lazy_load_data(**sources)  # validated on the call, not on first next()
        with pytest.raises(InvalidInputError):
            load.aiter_data(**sources)
    with pytest.raises(InvalidInputError):
        reader(script, batch_size=0)
    with pytest.raises(InvalidInputError):
        reader(script, max_concurrency=0)
    assert script.requests == []


async def test_async_loading_is_native_concurrent_and_ordered():
    in_flight = peak = 0

    async def handler(request):
        nonlocal in_flight, peak
        if describe_path(request):
            return described(PIPE, "INGESTION")
        in_flight += 1
        peak = max(peak, in_flight)
        texts = json.loads(await request.aread())["data"]["text_list"]
        await asyncio.sleep(0.02 if texts == ["t0"] else 0.001)
        in_flight -= 1
        return ok({"num_entities": 1, "ids": [BASE + int(texts[0][1:])]})

    blocking = Script([])
    load = ZillizPipelineReader(
        PIPE,
        api_key="k",
        base_url="https://zilliz.example.test",
        batch_size=1,
        max_concurrency=3,
        http_client=blocking.sync_client(),
        http_async_client=httpx.AsyncClient(transport=httpx.MockTransport(handler)),
    )
    texts = [f"t{i}" for i in range(6)]
    docs = await load.aload_data(texts=texts)
    assert [d.text for d in docs] == texts
    assert peak == 3
    streamed = [d.text async for d in load.aiter_data(texts=texts)]
    assert streamed == texts
    # The base class's contract: a coroutine that returns an iterable (not an async iterator).
    pending = load.alazy_load_data(texts=texts)
    assert inspect.iscoroutine(pending)
    assert [d.text for d in await pending] == texts
    assert blocking.requests == []  # never the blocking client, never a worker thread
    assert load.total_tokens == 0  # the fake reported no usage


async def test_async_partial_failure_reports_everything():
    async def handler(request):
        if describe_path(request):
            return described(PIPE, "INGESTION")
        texts = json.loads(await request.aread())["data"]["text_list"]
        if texts == ["t2"]:
            return fail(80000, "rejected")
        await asyncio.sleep(0.005)
        return ok({"num_entities": 1, "ids": [int(texts[0][1:])]})

    load = ZillizPipelineReader(
        PIPE,
        api_key="k",
        base_url="https://zilliz.example.test",
        batch_size=1,
        max_concurrency=2,
        http_async_client=httpx.AsyncClient(transport=httpx.MockTransport(handler)),
    )
    yielded = []
    with pytest.raises(PartialBatchError) as info:
        async for doc in load.aiter_data(texts=[f"t{i}" for i in range(5)]):
            yielded.append(doc.id_)
    assert [r["id"] for r in info.value.stored] == yielded
    assert "t2" in info.value.failed


def test_delete_through_the_deletion_pipeline():
    script = Script([ok({"num_deleted_entities": 2}), ok({"num_deleted_chunks": 3})])
    load = reader(script, deletion_pipeline_id=DEL)
    assert load.delete(ids=[str(BASE + 1), BASE + 2]).num_deleted == 2
    assert load.delete(doc_name="guide.md").num_deleted == 3
    assert script.bodies() == [
        {"data": {"expression": f"id in [{BASE + 1}, {BASE + 2}]"}},
        {"data": {"doc_name": "guide.md"}},
    ]
    assert {r.url.path for r in script.requests} == {f"/v1/pipelines/{DEL}/run"}


async def test_adelete_and_missing_deletion_pipeline():
    script = Script([ok({"num_deleted_entities": 1})])
    load = reader(script)
    with pytest.raises(InvalidInputError, match="DELETION pipeline"):
        await load.adelete(ids=[1])
    result = await load.adelete(expression="year < 2023", pipeline_id=DEL)
    assert result.num_deleted == 1


def test_repr_hides_the_key():
    assert "zk-secret-key" not in repr(reader(Script([])))
