"""Stopping ``alazy_load()`` early, even with a bare ``break`` (issue 9, item 4).

Every item the server stored is either yielded or logged with its id, also when the consumer
just breaks out of ``async for`` and ``asyncio.run`` then ends (its ``shutdown_asyncgens`` closes
the generator after cancelling the tasks still running).
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Generator
from contextlib import aclosing

import httpx
import pytest

from langchain_zilliz_bailian import ZillizPipelineLoader
from tests.fakes.zilliz import StoringOnAnswer, describe_path, described, ok, unyielded_ids

PIPE = "pipe-0123456789abcdef012345"
TEXTS = [f"t{i}" for i in range(1000)]


def make_loader(server: StoringOnAnswer) -> ZillizPipelineLoader:
    return ZillizPipelineLoader(
        PIPE,
        texts=TEXTS,
        batch_size=50,
        max_concurrency=4,
        api_key="k",
        base_url="https://zilliz.example.test",
        http_async_client=httpx.AsyncClient(transport=httpx.MockTransport(server)),
    )


def logged_ids(caplog: pytest.LogCaptureFixture) -> set[str]:
    return unyielded_ids(record.getMessage() for record in caplog.records)


@pytest.mark.parametrize("closing", [False, True], ids=["bare-break", "aclosing"])
def test_every_stored_id_is_yielded_or_logged(caplog, closing: bool) -> None:
    caplog.set_level(logging.WARNING, logger="langchain_zilliz_bailian")
    server = StoringOnAnswer(PIPE)
    yielded: list[str] = []

    async def main() -> None:
        loader = make_loader(server)
        if closing:
            async with aclosing(loader.alazy_load()) as documents:  # type: ignore[type-var]
                async for document in documents:
                    yielded.append(document.metadata["id"])
                    if len(yielded) == 3:
                        break
        else:
            async for document in loader.alazy_load():
                yielded.append(document.metadata["id"])
                if len(yielded) == 3:
                    break
        await asyncio.sleep(0.05)  # later writes finish while the consumer does other things

    asyncio.run(main())
    assert len(yielded) == 3
    assert server.stored  # writes were in flight when the consumer stopped
    missing = server.stored - set(yielded) - logged_ids(caplog)
    assert not missing, f"{len(missing)} stored id(s) neither yielded nor logged"
    assert len(server.stored) < len(TEXTS)  # nothing new started after the stop


def test_a_bare_break_right_before_asyncio_run_ends(caplog) -> None:
    caplog.set_level(logging.WARNING, logger="langchain_zilliz_bailian")
    server = StoringOnAnswer(PIPE)
    yielded: list[str] = []

    async def main() -> None:
        async for document in make_loader(server).alazy_load():
            yielded.append(document.metadata["id"])
            if len(yielded) == 3:
                break  # and main returns at once: asyncio.run cancels and finalises

    asyncio.run(main())
    assert len(yielded) == 3
    assert len(server.stored) > len(yielded)  # the case at hand: more was stored than yielded
    missing = server.stored - set(yielded) - logged_ids(caplog)
    assert not missing, f"{len(missing)} stored id(s) neither yielded nor logged"


def test_a_sync_consumer_that_stops_inside_a_batch_gets_the_rest_logged(caplog) -> None:
    caplog.set_level(logging.WARNING, logger="langchain_zilliz_bailian")
    stored: set[str] = set()

    def handler(request: httpx.Request) -> httpx.Response:
        if describe_path(request):
            return described(PIPE, "INGESTION")
        texts = json.loads(request.read())["data"]["text_list"]
        ids = [str(1000 + int(text[1:])) for text in texts]
        stored.update(ids)
        return ok({"num_entities": len(ids), "ids": [int(i) for i in ids]})

    loader = ZillizPipelineLoader(
        PIPE,
        texts=TEXTS[:100],
        batch_size=50,
        api_key="k",
        base_url="https://zilliz.example.test",
        http_client=httpx.Client(transport=httpx.MockTransport(handler)),
    )
    documents = loader.lazy_load()
    yielded = [next(documents).metadata["id"] for _ in range(3)]
    assert isinstance(documents, Generator)
    documents.close()
    assert len(stored) == 50  # the second batch was never sent
    assert stored - set(yielded) == logged_ids(caplog)
