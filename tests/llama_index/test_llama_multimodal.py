"""BailianAppLLM: ImageBlock / DocumentBlock URLs become image_list / file_list."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from llama_index.core.base.llms.types import (
    ChatMessage,
    DocumentBlock,
    ImageBlock,
    MessageRole,
    TextBlock,
)

from langchain_zilliz_bailian.errors import InvalidInputError
from llama_index_ext.llms import BailianAppLLM
from tests.fakes.llama_index import json_answer, sse_answer
from tests.fakes.zilliz import Script
from tests.llama_index.test_llama_llm import make

CAT = "https://x.test/cat.png"
DOG = "https://x.test/dog.png"
PDF = "https://x.test/report.pdf"


def user(*blocks: Any) -> ChatMessage:
    return ChatMessage(role=MessageRole.USER, blocks=[TextBlock(text="What is this?"), *blocks])


def test_image_and_document_urls_become_the_lists_merged_with_explicit_ones() -> None:
    script = Script([json_answer("A cat.")])
    make(script).chat(
        [user(ImageBlock(url=CAT), DocumentBlock(url=PDF), ImageBlock(url=CAT))],
        image_list=[DOG],
    )
    assert script.bodies()[0]["input"] == {
        "prompt": "What is this?",
        "image_list": [CAT, DOG],
        "file_list": [PDF],
    }


async def test_history_and_session_rules_hold_for_async_streams() -> None:
    script = Script([sse_answer(["A ", "dog."]), sse_answer(["A ", "dog."])])
    llm = make(script)
    history = [
        user(ImageBlock(url=CAT)),
        ChatMessage(
            role=MessageRole.ASSISTANT, blocks=[TextBlock(text="A cat."), ImageBlock(url=DOG)]
        ),
        user(ImageBlock(url=DOG)),
    ]
    deltas = [r.delta async for r in await llm.astream_chat(history)]
    assert "".join(d or "" for d in deltas) == "A dog."
    assert script.bodies()[0]["input"]["image_list"] == [CAT, DOG]
    [r async for r in await llm.astream_chat(history, session_id="sess-1")]
    assert script.bodies()[1]["input"] == {
        "prompt": "What is this?",
        "session_id": "sess-1",
        "image_list": [DOG],
    }


@pytest.mark.parametrize(
    "block",
    [
        ImageBlock(image=b"\x89PNG\r\n"),
        ImageBlock(url="data:image/png;base64,iVBORw0KGgo="),
        ImageBlock(path=Path(__file__)),  # any existing file
        DocumentBlock(data=b"%PDF-1.4"),
        DocumentBlock(url="data:application/pdf;base64,JVBERi0="),
    ],
)
async def test_inline_data_is_refused_before_any_request(block: Any) -> None:
    script = Script([])
    llm = make(script)
    with pytest.raises(InvalidInputError, match="as URLs it downloads"):
        llm.chat([user(block)])
    with pytest.raises(InvalidInputError, match="as URLs it downloads"):
        await llm.achat([user(block)])
    assert script.requests == []


def test_images_in_a_system_turn_are_refused() -> None:
    script = Script([])
    with pytest.raises(InvalidInputError, match="user turns only"):
        make(script).chat(
            [ChatMessage(role=MessageRole.SYSTEM, blocks=[ImageBlock(url=CAT)]), user()]
        )
    assert script.requests == []


@pytest.mark.server
async def test_end_to_end_against_the_local_server(local_server) -> None:
    sent: list[dict[str, Any]] = []

    async def record(request: httpx.Request) -> None:
        sent.append(json.loads(await request.aread()))

    async with httpx.AsyncClient(event_hooks={"request": [record]}) as http:
        llm = BailianAppLLM(
            app_id="visionapp",
            api_key=local_server.api_key,
            base_url=local_server.bailian_base_url,
            http_async_client=http,
        )
        response = await llm.achat([user(ImageBlock(url=CAT), DocumentBlock(url=PDF))])
    assert 'You said: "What is this?"' in (response.message.content or "")
    assert sent[0]["input"]["image_list"] == [CAT]
    assert sent[0]["input"]["file_list"] == [PDF]
