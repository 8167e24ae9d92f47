"""The SSE decoder: DashScope framing, status comments, line endings, split chunks."""

from __future__ import annotations

import httpx

from langchain_zilliz_bailian._http.sse import SSEvent, aiter_events, iter_events


def response(*chunks: bytes) -> httpx.Response:
    return httpx.Response(
        200, headers={"content-type": "text/event-stream;charset=UTF-8"}, content=b"".join(chunks)
    )


class Chunked(httpx.SyncByteStream):
    def __init__(self, chunks):
        self.chunks = chunks

    def __iter__(self):
        yield from self.chunks


FRAME = b'id:1\nevent:result\n:HTTP_STATUS/200\ndata:{"a":1}\n\nid:2\nevent:error\n:HTTP_STATUS/429\ndata:{"code":"Throttling"}\n\n'


def test_dashscope_framing_with_status_comments():
    events = list(iter_events(response(FRAME)))
    assert events == [
        SSEvent(event="result", data='{"a":1}', id="1", status=200),
        SSEvent(event="error", data='{"code":"Throttling"}', id="2", status=429),
    ]
    assert events[0].json() == {"a": 1}


def test_no_spurious_events_from_blank_lines_or_eof():
    events = list(iter_events(response(b"id:1\ndata:x\n\n\n\n", b"id:2\n")))
    assert [e.data for e in events] == ["x"]


def test_crlf_space_after_colon_multiline_data_and_unnamed_events():
    events = list(iter_events(response(b"data: one\r\ndata: two\r\n\r\n")))
    assert events == [SSEvent(event="message", data="one\ntwo", id="", status=None)]


def test_frames_split_anywhere_including_multibyte_characters():
    body = 'id:1\nevent:result\ndata:{"t":"数据🙂"}\n\n'.encode()
    chunks = [body[i : i + 3] for i in range(0, len(body), 3)]
    resp = httpx.Response(200, stream=Chunked(chunks))
    events = list(iter_events(resp))
    assert events[0].json() == {"t": "数据🙂"}


def test_unicode_line_separators_inside_data_do_not_split_lines():
    events = list(iter_events(response('data:{"t":"a\u2028b"}\n\n'.encode())))
    assert events[0].json() == {"t": "a\u2028b"}


def test_a_final_event_without_the_blank_line_is_still_delivered():
    events = list(iter_events(response(b"id:9\nevent:result\ndata:last")))
    assert [(e.id, e.data) for e in events] == [("9", "last")]


async def test_async_twin():
    events = [e async for e in aiter_events(response(FRAME))]
    assert [e.status for e in events] == [200, 429]


def test_crlf_split_between_chunks_is_one_line_end():
    resp = httpx.Response(200, stream=Chunked([b"data:a\r", b"\ndata:b\r", b"\r\n", b"data:c"]))
    assert [e.data for e in iter_events(resp)] == ["a\nb", "c"]


def test_bare_cr_line_ends():
    events = list(iter_events(response(b"event:result\rdata:x\r\rdata:y\r\r")))
    assert [(e.event, e.data) for e in events] == [("result", "x"), ("message", "y")]


def test_the_last_id_is_kept_and_a_status_belongs_to_its_own_event():
    body = b"id:7\n:HTTP_STATUS/500\ndata:a\n\ndata:b\n\n"
    events = list(iter_events(response(body)))
    assert [(e.id, e.status) for e in events] == [("7", 500), ("7", None)]


def test_comments_retry_and_unknown_fields_are_ignored():
    events = list(iter_events(response(b": ping\nretry:10\nfoo:bar\ndata:x\n\n")))
    assert events == [SSEvent(event="message", data="x", id="", status=None)]
