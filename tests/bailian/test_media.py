"""image_list / file_list in the core: URL checks, merging, repeats, which turns count."""

from __future__ import annotations

import pytest

from langchain_zilliz_bailian.bailian.media import Attachment, media_lists, turn_attachments
from langchain_zilliz_bailian.bailian.request import build_body
from langchain_zilliz_bailian.errors import InvalidInputError
from tests.fakes.bailian import JSON_HEADERS, respond, result

PRESIGNED = "https://bucket.oss.example.test/cat.png?OSSAccessKeyId=AK&Signature=s3cr3t"


def test_lists_are_sent_checked_in_order_with_repeats_dropped() -> None:
    body = build_body(
        "what is this?",
        {
            "image_list": ["https://x.test/a.png", "http://x.test/b.png", "https://x.test/a.png"],
            "file_list": [],
        },
        stream=False,
    )
    assert body == {
        "input": {
            "prompt": "what is this?",
            "image_list": ["https://x.test/a.png", "http://x.test/b.png"],
            "file_list": [],
        },
        "parameters": {},
    }
    assert "image_list" not in build_body("hi", {}, stream=False)["input"]


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (["data:image/png;base64,iVBORw0KGgo="], "takes images as URLs"),
        ([" DATA:image/png;base64,AAAA"], "takes images as URLs"),
        (["ftp://x.test/a.png"], "'ftp' URL"),
        (["/tmp/cat.png"], "no scheme"),
        (["https:///cat.png"], "no host"),
        (["https://x.test/a cat.png"], "white space"),
        (["http://[::1/a.png"], "not a well-formed URL"),
        ([b"https://x.test/a.png"], "got bytes"),
        ("https://x.test/a.png", "a list of URLs, got str"),
        (42, "a list of URLs, got int"),
    ],
)
def test_bad_image_list_entries_are_typed_errors(value: object, message: str) -> None:
    with pytest.raises(InvalidInputError, match=message):
        build_body("hi", {"image_list": value}, stream=False)  # type: ignore[typeddict-item]


def test_file_list_inline_data_names_file_list() -> None:
    with pytest.raises(InvalidInputError, match=r"input\.file_list"):
        media_lists({"file_list": ["data:application/pdf;base64,JVBERi0="]})


def test_a_refused_url_never_shows_its_query_string() -> None:
    with pytest.raises(InvalidInputError) as caught:
        media_lists({"image_list": [PRESIGNED.replace("https", "s3")]})
    assert "s3cr3t" not in str(caught.value)
    assert "'s3' URL" in str(caught.value)


def _turns() -> list[tuple[str, list[Attachment]]]:
    return [
        ("system", []),
        ("user", [Attachment("image", "https://x.test/1.png")]),
        ("assistant", []),
        (
            "user",
            [
                Attachment("file", "https://x.test/2.pdf"),
                Attachment("image", "https://x.test/3.png"),
            ],
        ),
    ]


def _merge(options: dict[str, object]) -> dict[str, object]:
    return dict(
        turn_attachments(
            _turns(),
            options,  # type: ignore[arg-type]
            role=lambda turn: turn[0],
            attachments=lambda turn: turn[1],
        )
    )


def test_without_a_session_every_user_turn_counts_then_the_explicit_lists() -> None:
    merged = _merge({"image_list": ["https://x.test/0.png", "https://x.test/1.png"]})
    assert merged["image_list"] == [
        "https://x.test/1.png",
        "https://x.test/3.png",
        "https://x.test/0.png",
        "https://x.test/1.png",  # dropped when the body is built
    ]
    assert merged["file_list"] == ["https://x.test/2.pdf"]
    assert media_lists(merged)["image_list"] == [
        "https://x.test/1.png",
        "https://x.test/3.png",
        "https://x.test/0.png",
    ]


def test_with_a_session_only_the_last_user_turn_counts() -> None:
    merged = _merge({"session_id": "s1"})
    assert merged == {
        "session_id": "s1",
        "image_list": ["https://x.test/3.png"],
        "file_list": ["https://x.test/2.pdf"],
    }


def test_no_attachments_leave_the_options_as_they_were() -> None:
    options = {"file_list": ["https://x.test/f.pdf"], "parameters": {}}
    merged = turn_attachments(
        [("user", [])],
        options,  # type: ignore[arg-type]
        role=lambda turn: turn[0],
        attachments=lambda turn: turn[1],
    )
    assert merged == options


def test_an_attachment_checks_its_url() -> None:
    with pytest.raises(InvalidInputError, match="takes files as URLs"):
        Attachment("file", "data:text/plain;base64,aGk=")


def test_the_client_refuses_before_any_request(make_client) -> None:
    client, recorder = make_client(respond(200, result("ok", finish="stop"), **JSON_HEADERS))
    with pytest.raises(InvalidInputError, match="URLs"):
        client.call("hi", image_list=["data:image/png;base64,iVBORw0KGgo="])
    assert recorder.requests == []
    client.call("hi", image_list=["https://x.test/a.png"], file_list=["https://x.test/b.pdf"])
    assert recorder.bodies[0]["input"] == {
        "prompt": "hi",
        "image_list": ["https://x.test/a.png"],
        "file_list": ["https://x.test/b.pdf"],
    }
