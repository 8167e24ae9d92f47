"""ChatBailianApp: image and file content blocks with URLs become image_list / file_list."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from langchain_core.messages import AIMessage, ChatMessage, HumanMessage, SystemMessage
from langchain_core.messages.content import create_image_block

from langchain_zilliz_bailian.chat_models import ChatBailianApp
from langchain_zilliz_bailian.errors import InvalidInputError
from tests.fakes.bailian import JSON_HEADERS, SSE_HEADERS, incremental_stream, respond, result

CAT = "https://x.test/cat.png"
DOG = "https://x.test/dog.png"
PDF = "https://x.test/report.pdf"


def ok(text: str = "A cat.") -> Any:
    return respond(200, result(text, finish="stop"), **JSON_HEADERS)


def human(*blocks: Any) -> HumanMessage:
    return HumanMessage(content=[{"type": "text", "text": "What is this?"}, *blocks])


@pytest.mark.parametrize(
    "block",
    [
        {"type": "image", "url": CAT},  # LangChain 1.x standard block
        {"type": "image", "source_type": "url", "url": CAT},  # langchain-core 0.3 form
        {"type": "image_url", "image_url": {"url": CAT}},  # OpenAI chat-completions form
        {"type": "image_url", "image_url": CAT},
        create_image_block(url=CAT),  # with its block id
    ],
)
def test_image_blocks_with_urls_become_image_list(make_model, block: dict[str, Any]) -> None:
    model, recorder = make_model(ok())
    model.invoke([human(block)])
    assert recorder.bodies[0] == {
        "input": {"prompt": "What is this?", "image_list": [CAT]},
        "parameters": {},
    }


def test_file_blocks_become_file_list_and_merge_with_explicit_lists(make_model) -> None:
    model, recorder = make_model(ok())
    model.invoke(
        [
            human(
                {"type": "file", "url": PDF, "mime_type": "application/pdf"},
                {"type": "image", "url": CAT},
            )
        ],
        image_list=[DOG, CAT],
        file_list=["https://x.test/notes.txt"],
    )
    assert recorder.bodies[0]["input"] == {
        "prompt": "What is this?",
        "image_list": [CAT, DOG],  # the message's first, then the explicit ones, once each
        "file_list": [PDF, "https://x.test/notes.txt"],
    }


def test_history_sends_every_human_turns_urls_and_a_session_only_the_last(make_model) -> None:
    model, recorder = make_model(ok(), ok())
    history = [
        SystemMessage("Describe images."),
        human({"type": "image", "url": CAT}),
        AIMessage([{"type": "text", "text": "A cat."}, {"type": "image", "url": DOG}]),
        ChatMessage(role="user", content=[{"type": "image_url", "image_url": {"url": DOG}}]),
    ]
    model.invoke(history)
    assert recorder.bodies[0]["input"] == {
        "messages": [
            {"role": "system", "content": "Describe images."},
            {"role": "user", "content": "What is this?"},
            {"role": "assistant", "content": "A cat."},
            {"role": "user", "content": ""},
        ],
        "image_list": [CAT, DOG],
    }
    model.invoke([*history[:3], human({"type": "image", "url": DOG})], session_id="sess-1")
    assert recorder.bodies[1]["input"] == {
        "prompt": "What is this?",
        "session_id": "sess-1",
        "image_list": [DOG],
    }


def test_streamed_calls_carry_the_lists_too(make_model) -> None:
    model, recorder = make_model(respond(200, incremental_stream(["A ", "cat."]), **SSE_HEADERS))
    text = "".join(str(c.content) for c in model.stream([human({"type": "image", "url": CAT})]))
    assert text == "A cat."
    assert recorder.bodies[0]["input"]["image_list"] == [CAT]


INLINE = [
    {"type": "image", "base64": "iVBORw0KGgo=", "mime_type": "image/png"},
    {"type": "image", "source_type": "base64", "data": "iVBORw0KGgo=", "mime_type": "image/png"},
    {"type": "image", "url": "data:image/png;base64,iVBORw0KGgo="},
    {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}},
    {"type": "file", "base64": "JVBERi0=", "mime_type": "application/pdf"},
    {"type": "file", "file": {"filename": "a.pdf", "file_data": "data:application/pdf;base64,JV"}},
]


@pytest.mark.parametrize("block", INLINE)
async def test_inline_data_is_refused_before_any_request(make_model, block) -> None:
    model, recorder = make_model(ok())
    for call in (model.invoke, lambda m: list(model.stream(m))):
        with pytest.raises(InvalidInputError, match="as URLs it downloads"):
            call([human(block)])
    with pytest.raises(InvalidInputError, match="as URLs it downloads"):
        await model.ainvoke([human(block)])
    assert recorder.requests == []


@pytest.mark.parametrize(
    ("messages", "message"),
    [
        ([human({"type": "image", "file_id": "file-1"})], "must carry a url"),
        ([human({"type": "audio", "url": "https://x.test/a.mp3"})], "type 'audio'"),
        ([human({"type": "image", "url": "ftp://x.test/a.png"})], "'ftp' URL"),
        ([SystemMessage([{"type": "image", "url": CAT}]), HumanMessage("hi")], "human turns"),
    ],
)
def test_unsendable_blocks_are_typed_errors(make_model, messages, message) -> None:
    model, recorder = make_model(ok())
    with pytest.raises(InvalidInputError, match=message):
        model.invoke(messages)
    assert recorder.requests == []


@pytest.mark.server
def test_end_to_end_against_the_local_server(local_server) -> None:
    sent: list[dict[str, Any]] = []

    def record(request: httpx.Request) -> None:
        sent.append(json.loads(request.read()))

    with httpx.Client(event_hooks={"request": [record]}) as http:
        model = ChatBailianApp(
            app_id="visionapp",
            api_key=local_server.api_key,
            base_url=local_server.bailian_base_url,
            http_client=http,
        )
        answer = model.invoke(
            [human({"type": "image", "url": CAT}, {"type": "file", "url": PDF})],
            image_list=[DOG],
        )
    assert 'You said: "What is this?"' in str(answer.content)
    assert sent[0]["input"]["image_list"] == [CAT, DOG]
    assert sent[0]["input"]["file_list"] == [PDF]
