"""Citation markers as data: clean text, spans, references, streams cut anywhere, rendering."""

from __future__ import annotations

import json
from typing import Any

import pytest

from langchain_zilliz_bailian.bailian import AppCompletion, DocReference
from langchain_zilliz_bailian.bailian.cited_answers import (
    CitationParser,
    CitedAnswer,
    parse_citations,
    render_with_sources,
)
from tests.fakes.bailian import read_recording

REFS = [
    {"index_id": "1", "title": "Storage", "doc_name": "lite.md", "doc_id": "d1", "text": "A1"},
    {"index_id": "4", "title": "Keys", "doc_url": "https://example.com/keys", "text": "A4"},
]


def spans(answer: CitedAnswer) -> list[tuple[str, str]]:
    return [(c.index_id, answer.text[c.start : c.end]) for c in answer.citations]


def streamed(text: str, cuts: list[int], refs: Any = ()) -> tuple[list[str], CitedAnswer]:
    """The raw pieces a parser releases for ``text`` cut at ``cuts``, and its answer."""
    parser = CitationParser()
    bounds = [0, *cuts, len(text)]
    raw = [parser.feed(text[a:b]).raw for a, b in zip(bounds, bounds[1:], strict=False)]
    raw.append(parser.flush().raw)
    return raw, parser.answer(refs)


def test_one_marker_gives_clean_text_and_a_span_with_its_reference() -> None:
    answer = parse_citations("Milvus Lite keeps data in a folder.<ref>[1]</ref> Next.", REFS)
    assert answer.text == "Milvus Lite keeps data in a folder. Next."
    (citation,) = answer.citations
    assert (citation.start, citation.end, citation.at) == (0, 35, 35)
    assert citation.title == "Storage"
    assert citation.cited_text == "A1"
    assert citation.reference is not None and citation.reference.doc_id == "d1"
    assert citation.url is None


def test_grouped_and_adjacent_markers_cite_the_same_clause() -> None:
    text = "First part.<ref>[1][4]</ref> Second part<ref>[4]</ref><ref>[1]</ref>; third."
    answer = parse_citations(text, REFS)
    assert answer.text == "First part. Second part; third."
    assert spans(answer) == [
        ("1", "First part."),
        ("4", "First part."),
        ("4", "Second part"),
        ("1", "Second part"),
    ]
    assert answer.citations[1].url == "https://example.com/keys"
    assert answer.cited_ids == ["1", "4"]


def test_spans_stop_at_sentence_ends_line_breaks_and_cjk_punctuation() -> None:
    text = "步骤相对直接。首先,用户需登录账号<ref>[1]</ref>,然后找到入口<ref>[4]</ref>。\nNew line x<ref>[1]</ref>"
    answer = parse_citations(text, REFS)
    assert spans(answer) == [
        ("1", "首先,用户需登录账号"),
        ("4", "然后找到入口"),
        ("1", "New line x"),
    ]
    # a decimal point is not a sentence end
    assert spans(parse_citations("Pi is 3.14 here<ref>[1]</ref>")) == [("1", "Pi is 3.14 here")]


def test_unknown_index_and_no_references_keep_the_citation_without_a_source() -> None:
    answer = parse_citations("Remembered fact.<ref>[7]</ref>", REFS)
    assert answer.text == "Remembered fact."
    assert [(c.index_id, c.reference) for c in answer.citations] == [("7", None)]
    bare = parse_citations("Memory answer<ref>[1]</ref>")
    assert bare.text == "Memory answer" and bare.citations[0].reference is None
    assert bare.citations[0].title is None and bare.citations[0].url is None


def test_ids_match_as_numbers_and_as_positions_when_references_have_no_ids() -> None:
    assert parse_citations("x<ref>[04]</ref>", REFS).citations[0].title == "Keys"
    positional = [{"title": "first"}, {"title": "second"}]
    assert parse_citations("x<ref>[2]</ref>", positional).citations[0].title == "second"
    assert parse_citations("x<ref>[3]</ref>", positional).citations[0].reference is None


@pytest.mark.parametrize(
    "text",
    [
        "a <ref>[]</ref> b",
        "a <ref>[1] b",
        "a <REF>[1]</REF> b",
        "a <ref>[1 2]</ref> b",
        "a <ref></ref> b",
        "a <b>bold</b> < c <",
        "ends with <ref>[1]</",
        "ends with <re",
    ],
)
def test_malformed_markers_pass_through_as_text(text: str) -> None:
    answer = parse_citations(text, REFS)
    assert answer.text == text
    assert answer.citations == ()


def test_nested_markers_keep_the_outer_tags_as_text() -> None:
    answer = parse_citations("x<ref><ref>[1]</ref></ref>y", REFS)
    assert answer.text == "x<ref></ref>y"
    assert [(c.index_id, c.at) for c in answer.citations] == [("1", 6)]


ALL_CASES = "Alpha.<ref>[1]</ref> Beta<ref>[1][4]</ref><ref>[7]</ref>; a < b <ref>[]</ref> 步骤<ref>[4]</ref>。"


@pytest.mark.parametrize("cut", range(len(ALL_CASES) + 1))
def test_a_stream_cut_at_any_position_gives_the_parse_of_the_whole(cut: int) -> None:
    raw, answer = streamed(ALL_CASES, [cut], REFS)
    assert "".join(raw) == ALL_CASES
    assert answer == parse_citations(ALL_CASES, REFS)
    # no released piece holds part of a marker: each parses alone to its share of the text
    assert "".join(parse_citations(piece).text for piece in raw) == answer.text


@pytest.mark.parametrize("size", [1, 2, 3, 7])
def test_a_stream_fed_in_small_pieces_gives_the_parse_of_the_whole(size: int) -> None:
    cuts = list(range(size, len(ALL_CASES), size))
    raw, answer = streamed(ALL_CASES, cuts, REFS)
    assert "".join(raw) == ALL_CASES
    assert answer == parse_citations(ALL_CASES, REFS)


def test_only_a_possible_marker_prefix_is_held_back() -> None:
    parser = CitationParser()
    assert parser.feed("text a <").raw == "text a "
    assert parser.holding == "<"
    assert parser.feed(" b. ").raw == "< b. "  # settled: not a marker
    assert parser.feed("done.<ref>[4]</").raw == "done."
    piece = parser.feed("ref> after")
    assert (piece.raw, piece.text) == ("<ref>[4]</ref> after", " after")
    assert [(c.index_id, c.start, c.end) for c in piece.citations] == [("4", 12, 17)]
    assert parser.feed("<ref>[123456789012345678901234567890123").raw.startswith("<ref>[")
    assert parser.flush().raw == ""


def test_flush_releases_an_unfinished_marker_as_text() -> None:
    parser = CitationParser()
    assert parser.feed("x<ref>[1]</re").raw == "x"
    assert parser.flush().text == "<ref>[1]</re"
    assert parser.answer().text == "x<ref>[1]</re"


def test_the_recorded_stream_splits_markers_and_the_parser_rejoins_them() -> None:
    text = read_recording("application-single-generation-text-sse.response.body.txt").decode()
    events = [json.loads(line[5:]) for line in text.split("\n") if line.startswith("data:")]
    deltas = [e["output"].get("text") or "" for e in events]
    assert "<ref>[4]</" in deltas and "ref>，理解" in deltas  # noqa: RUF001
    parser = CitationParser()
    raw = [parser.feed(d).raw for d in deltas]
    assert parser.flush().raw == ""
    assert all(("<ref" in r) == ("</ref>" in r) for r in raw)
    answer = parser.answer(events[-1]["output"]["doc_references"])
    assert [c.index_id for c in answer.citations] == ["4", "2", "3", "5"]
    assert "<ref>" not in answer.text
    assert all(
        c.reference is not None and c.reference.index_id == c.index_id for c in answer.citations
    )
    assert answer.text[answer.citations[0].start : answer.citations[0].end].endswith("提高质量")


def test_render_with_sources_numbers_sources_in_order_of_first_mention() -> None:
    text = "Keys first<ref>[4]</ref>. Storage<ref>[1][4]</ref>. Memory<ref>[9]</ref>."
    assert render_with_sources(text, REFS) == (
        "Keys first[1]. Storage[2][1]. Memory[3].\n"
        "\n"
        "Sources:\n"
        "[1] Keys https://example.com/keys\n"
        "[2] Storage (lite.md)\n"
        "[3] (reference 9 is not among the app's doc_references)"
    )


def test_render_with_sources_takes_a_completion_and_leaves_uncited_text_alone() -> None:
    completion = AppCompletion(
        text="Stored locally<ref>[1]</ref>", doc_references=[DocReference(**REFS[0])]
    )
    assert render_with_sources(completion, heading="Quellen:") == (
        "Stored locally[1]\n\nQuellen:\n[1] Storage (lite.md)"
    )
    assert render_with_sources("No sources here.", REFS) == "No sources here."


def test_a_colon_before_a_space_ends_the_lead_in_but_not_a_time() -> None:
    answer = parse_citations(
        "According to the docs: it is local<ref>[1]</ref> at 12:30<ref>[4]</ref>"
    )
    assert spans(answer) == [("1", "it is local"), ("4", "at 12:30")]
