"""Deltas or cumulative text: the assembler reads each event against the stream so far (B5).

The rule is in ``bailian/assembler.py``'s docstring. These cases come from a review: a decision
taken once, at the second text event, duplicated repeated text ("Paris.Paris."), mangled
cumulative streams that repeat an event, and cut incremental deltas that happen to start with the
text so far ("1" then "1. Milvus").
"""

from __future__ import annotations

import json
import random
import warnings

import pytest

from langchain_zilliz_bailian._http.sse import SSEvent
from langchain_zilliz_bailian.bailian import CumulativeStreamWarning, StreamAssembler
from langchain_zilliz_bailian.errors import StreamInterruptedError
from tests.fakes.bailian import SSE_HEADERS, incremental_stream, respond, result, sse

STOP = object()  # the closing event with empty text


def run(assembler: StreamAssembler, texts: list[object]) -> list[str]:
    """Feed result events (``STOP`` closes empty, ``(text, "stop")`` with text); the deltas."""
    deltas = []
    for n, item in enumerate(texts, 1):
        if item is STOP:
            data = result("", finish="stop")
        elif isinstance(item, tuple):
            data = result(item[0], finish="stop")
        else:
            data = result(str(item))
        chunk = assembler.feed(SSEvent("result", json.dumps(data), str(n), 200))
        assert chunk is not None
        deltas.append(chunk.delta)
    assert "".join(deltas) == assembler.text
    return deltas


def feed(texts: list[object], *, incremental: bool = True) -> tuple[list[str], str]:
    """Run ``texts`` through a new assembler, warnings silenced; the deltas and the text."""
    assembler = StreamAssembler(incremental=incremental)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CumulativeStreamWarning)
        deltas = run(assembler, texts)
    assert assembler.done == (texts[-1] is STOP or isinstance(texts[-1], tuple))
    return deltas, assembler.text


# -- the reviewer's three streams -----------------------------------------------------------------


def test_a_repeated_first_text_closed_by_the_whole_text_is_not_appended_twice() -> None:
    # a server ignoring incremental_output: "Paris.", "Paris.", then the whole answer with stop
    deltas, text = feed(["Paris.", "Paris.", ("Paris.", "stop")])
    assert text == "Paris."
    assert deltas == ["Paris.", "", ""]


def test_a_repeated_first_text_closed_by_an_empty_event_is_two_deltas() -> None:
    # Deltas were asked for and the stream ends as incremental streams do (empty text, B5): the
    # repeat was a delta. (This test used to expect "Paris.", which dropped "Ha", "Ha" and "\n",
    # "\n" from incremental answers.)
    deltas, text = feed(["Paris.", "Paris.", STOP])
    assert text == "Paris.Paris."
    assert deltas == ["Paris.", "", "Paris."]


def test_a_repeat_then_growth_is_read_as_cumulative() -> None:
    deltas, text = feed(["Hello", "Hello", "Hello world", "Hello world!", STOP])
    assert text == "Hello world!"
    assert deltas == ["Hello", "", " world", "!", ""]


def test_a_delta_that_starts_with_the_text_so_far_is_held_one_event_then_appended() -> None:
    deltas, text = feed(["1", "1. Milvus", " the", " thing", " there", STOP])
    assert text == "11. Milvus the thing there"
    # the second event is ambiguous (a delta, or the text so far?): held back until the third
    assert deltas == ["1", "", "1. Milvus the", " thing", " there", ""]


def test_the_same_start_growing_twice_is_cumulative() -> None:
    deltas, text = feed(["1", "1. Milvus", "1. Milvus the", "1. Milvus the thing", STOP])
    assert text == "1. Milvus the thing"
    assert deltas == ["1", "", ". Milvus the", " thing", ""]


def test_the_first_cumulative_warning_says_so() -> None:
    assembler = StreamAssembler(incremental=True)
    with pytest.warns(CumulativeStreamWarning, match="cumulative"):
        run(assembler, ["Hi", "Hi", "Hi!"])
    assert assembler.text == "Hi!"


# -- holding back: at most one event, only when ambiguous -----------------------------------------


def test_a_held_delta_is_released_by_an_empty_closing_event() -> None:
    # incremental streams end with empty text: the held text was a delta
    deltas, text = feed(["1", "1. Milvus", STOP])
    assert (deltas, text) == (["1", "", "1. Milvus"], "11. Milvus")


def test_a_held_text_repeated_by_the_closing_event_is_cumulative() -> None:
    deltas, text = feed(["1", "1. Milvus", ("1. Milvus", "stop")])
    assert (deltas, text) == (["1", "", ". Milvus"], "1. Milvus")


def test_events_without_text_keep_the_held_text_until_the_next_text() -> None:
    deltas, text = feed(["ab", "abc", "", "d", STOP])
    assert (deltas, text) == (["ab", "", "", "abcd", ""], "ababcd")


def test_nothing_is_held_when_the_second_event_settles_the_mode() -> None:
    deltas, _ = feed(["Hel", "lo", "Hello again", STOP])
    assert deltas == ["Hel", "lo", "Hello again", ""]  # settled incremental at "lo"
    deltas, _ = feed(["a", "a", "ab", "abc", STOP])
    assert deltas == ["a", "", "b", "c", ""]  # the repeat settled cumulative at "ab"


def test_a_closing_recap_of_incremental_text_adds_nothing() -> None:
    deltas, text = feed(["Hel", "lo", ("Hello", "stop")])
    assert (deltas, text) == (["Hel", "lo", ""], "Hello")


def test_incremental_text_never_takes_the_common_prefix_fallback() -> None:
    assembler = StreamAssembler(incremental=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        run(assembler, ["The cat", " sat.", " The car", STOP])
    assert assembler.text == "The cat sat. The car"


def test_cumulative_rewrite_falls_back_to_the_common_prefix_once_settled() -> None:
    assembler = StreamAssembler(incremental=True)
    with pytest.warns(CumulativeStreamWarning) as caught:
        deltas = run(assembler, ["The", "The cat", "The cat sat", "The car sat on"])
    assert deltas == ["The", "", " cat sat", "r sat on"]
    messages = [str(w.message) for w in caught]
    assert len(messages) == 2
    assert "cumulative text although incremental output was requested" in messages[0]
    assert "rewrote" in messages[1]


# -- not asked for deltas: every event is cumulative -----------------------------------------------


def test_without_the_flag_every_event_is_cumulative() -> None:
    assembler = StreamAssembler(incremental=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # asked-for cumulative text warns about nothing
        deltas = run(assembler, ["1", "1", "1. Milvus", "1. Milvus", "1. Milvus the"])
    assert deltas == ["1", "", ". Milvus", "", " the"]  # nothing held back
    assert assembler.text == "1. Milvus the"


# -- random streams ------------------------------------------------------------------------------


WORDS = ["Milvus", " stores", " vectors", "。", " 向量", "数据库", " and", " 1.", " <ref>[1]</ref>"]


@pytest.mark.parametrize("seed", range(40))
@pytest.mark.parametrize("asked_incremental", [True, False])
def test_random_cumulative_streams_give_the_last_text(seed: int, asked_incremental: bool) -> None:
    rng = random.Random(seed)
    text, events = "", []
    for _ in range(rng.randint(1, 30)):
        text += rng.choice(WORDS)
        events.append(text)
        if rng.random() < 0.2:
            events.append(text)  # a repeated event
    deltas, assembled = feed([*events, (text, "stop")], incremental=asked_incremental)
    assert assembled == text
    so_far = ""
    for i, (delta, expected) in enumerate(zip(deltas, events, strict=False)):
        so_far += delta
        assert expected.startswith(so_far)
        if not asked_incremental:
            assert so_far == expected  # nothing held back when cumulative text was asked for
        elif i:
            assert len(so_far) >= len(events[i - 1])  # at most one event behind


@pytest.mark.parametrize("seed", range(40))
def test_random_incremental_streams_give_the_concatenation(seed: int) -> None:
    rng = random.Random(1000 + seed)
    pieces = [rng.choice(WORDS) for _ in range(rng.randint(1, 30))]
    if len(pieces) > 2 and rng.random() < 0.5:
        pieces[1] = pieces[0] + pieces[1]  # the "1" / "1. Milvus" trap
    deltas, text = feed([*pieces, STOP])
    assert text == "".join(pieces)
    assert sum(1 for d in deltas if d == "") <= 2  # at most one held event, plus the closing one


@pytest.mark.parametrize("seed", range(40))
def test_random_repeated_tokens_are_all_handed_on(seed: int) -> None:
    # deltas repeating the previous one (and so the whole text at the start) are deltas
    rng = random.Random(2000 + seed)
    pieces = [rng.choice(["tok ", "Ha", "\n", "!"]) for _ in range(rng.randint(1, 40))]
    assembler = StreamAssembler(incremental=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no CumulativeStreamWarning either
        deltas = run(assembler, [*pieces, STOP])
    assert assembler.text == "".join(pieces)
    assert sum(1 for d in deltas if d == "") <= 2


# -- asked for deltas, a delta equal to the text so far is a delta (issue 9) ---------------------


def test_a_hundred_identical_deltas_give_four_hundred_characters() -> None:
    assembler = StreamAssembler(incremental=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        deltas = run(assembler, [*["tok "] * 100, STOP])
    assert assembler.text == "tok " * 100
    assert len(assembler.text) == 400
    assert deltas[:3] == ["tok ", "", "tok tok "]  # only the second is held, for one event
    assert all(d == "tok " for d in deltas[3:-1])


@pytest.mark.parametrize(
    ("texts", "expected"),
    [
        (["Ha", "Ha", STOP], "HaHa"),
        (["Ha", "Ha", "!", STOP], "HaHa!"),
        (["Ha", "Ha", "Ha", STOP], "HaHaHa"),
        (["\n", "\n", STOP], "\n\n"),
        (["\n", "\n", "Hello", STOP], "\n\nHello"),
        (["a", "ab", "ab", STOP], "ab"),  # growth then a repeat: cumulative (documented)
    ],
)
def test_a_delta_repeating_the_text_so_far_is_handed_on(texts, expected) -> None:
    assert feed(texts)[1] == expected


def test_a_final_text_extending_the_first_is_the_cumulative_whole_answer() -> None:
    # a final event of an incremental stream has empty text (B5); this one is a whole answer
    deltas, text = feed(["1", ("1. Milvus", "stop")])
    assert (deltas, text) == (["1", ". Milvus"], "1. Milvus")


# -- through the client ---------------------------------------------------------------------------


REPEATS = {
    "tok " * 100: ["tok "] * 100,
    "HaHa": ["Ha", "Ha"],
    "\n\nHi": ["\n", "\n", "Hi"],
}
CUMULATIVE = sse(
    result("Hello"),
    result("Hello"),
    result("Hello world"),
    result("Hello world!"),
    result("Hello world!", finish="stop"),
)


@pytest.mark.parametrize("expected", list(REPEATS), ids=["tok-x100", "Ha-Ha", "nl-nl"])
def test_client_streams_hand_on_repeated_deltas(make_client, expected: str) -> None:
    client, recorder = make_client(
        respond(200, incremental_stream(REPEATS[expected]), **SSE_HEADERS)
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        stream = client.stream("q")
        assert "".join(chunk.delta for chunk in stream) == stream.completion.text == expected
    assert recorder.bodies[0]["parameters"]["incremental_output"] is True


@pytest.mark.parametrize("expected", list(REPEATS), ids=["tok-x100", "Ha-Ha", "nl-nl"])
async def test_client_astreams_hand_on_repeated_deltas(make_client, expected: str) -> None:
    client, _ = make_client(respond(200, incremental_stream(REPEATS[expected]), **SSE_HEADERS))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        stream = client.astream("q")
        deltas = [chunk.delta async for chunk in stream]
    assert "".join(deltas) == stream.completion.text == expected


def test_client_still_turns_a_cumulative_stream_into_deltas(make_client) -> None:
    client, _ = make_client(respond(200, CUMULATIVE, **SSE_HEADERS))
    stream = client.stream("q")
    with pytest.warns(CumulativeStreamWarning):
        deltas = [chunk.delta for chunk in stream]
    assert deltas == ["Hello", "", " world", "!", ""]
    assert stream.completion.text == "Hello world!"


@pytest.mark.parametrize("expected", list(REPEATS), ids=["tok-x100", "Ha-Ha", "nl-nl"])
def test_chat_model_stream_hands_on_repeated_deltas(make_model, expected: str) -> None:
    model, _ = make_model(respond(200, incremental_stream(REPEATS[expected]), **SSE_HEADERS))
    with warnings.catch_warnings():
        warnings.simplefilter("error", CumulativeStreamWarning)
        chunks = list(model.stream("q"))
    assert "".join(str(c.content) for c in chunks) == expected


def test_chat_model_stream_still_dedupes_a_cumulative_stream(make_model) -> None:
    model, _ = make_model(respond(200, CUMULATIVE, **SSE_HEADERS))
    with pytest.warns(CumulativeStreamWarning):
        chunks = list(model.stream("q"))
    assert "".join(str(c.content) for c in chunks) == "Hello world!"


@pytest.mark.parametrize("expected", list(REPEATS), ids=["tok-x100", "Ha-Ha", "nl-nl"])
def test_llama_index_stream_complete_hands_on_repeated_deltas(make_model, expected: str) -> None:
    from llama_index_ext import BailianAppLLM

    llm, _ = make_model(
        respond(200, incremental_stream(REPEATS[expected]), **SSE_HEADERS), cls=BailianAppLLM
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error", CumulativeStreamWarning)
        responses = list(llm.stream_complete("q"))
    assert "".join(r.delta or "" for r in responses) == responses[-1].text == expected


def test_llama_index_stream_complete_still_dedupes_a_cumulative_stream(make_model) -> None:
    from llama_index_ext import BailianAppLLM

    llm, _ = make_model(respond(200, CUMULATIVE, **SSE_HEADERS), cls=BailianAppLLM)
    with pytest.warns(CumulativeStreamWarning):
        responses = list(llm.stream_complete("q"))
    assert responses[-1].text == "Hello world!"


def test_client_stream_reads_the_reviewer_cases(make_client) -> None:
    cases = {
        "Paris.": sse(result("Paris."), result("Paris."), result("Paris.", finish="stop")),
        "Paris.Paris.": sse(result("Paris."), result("Paris."), result("", finish="stop")),
        "Hello world!": sse(
            result("Hello"),
            result("Hello"),
            result("Hello world"),
            result("Hello world!"),
            result("Hello world!", finish="stop"),
        ),
        "11. Milvus the thing there": sse(
            *(result(t) for t in ["1", "1. Milvus", " the", " thing", " there"]),
            result("", finish="stop"),
        ),
    }
    for expected, body in cases.items():
        client, _ = make_client(respond(200, body, **SSE_HEADERS))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", CumulativeStreamWarning)
            stream = client.stream("q")
            deltas = [chunk.delta for chunk in stream]
        assert "".join(deltas) == stream.completion.text == expected


async def test_client_astream_holds_at_most_one_event(make_client) -> None:
    body = sse(*(result(t) for t in ["1", "1. Milvus", " the"]), result("", finish="stop"))
    client, _ = make_client(respond(200, body, **SSE_HEADERS))
    stream = client.astream("q")
    assert [chunk.delta async for chunk in stream] == ["1", "", "1. Milvus the", ""]


def test_a_stream_cut_while_holding_says_the_held_text_was_dropped(make_client) -> None:
    client, _ = make_client(respond(200, sse(result("1"), result("1. Milvus")), **SSE_HEADERS))
    got = []
    with pytest.raises(StreamInterruptedError, match="held back") as caught:
        for chunk in client.stream("q"):
            got.append(chunk.delta)
    assert got == ["1", ""]
    assert "without a final" in str(caught.value)
