"""Stop sequences applied on this side: cut before the first one, hold back only a possible start."""

from __future__ import annotations

import pytest

from langchain_zilliz_bailian.bailian import StopSequenceFilter, truncate_at_stop


def feed_all(stop: list[str] | None, deltas: list[str]) -> tuple[list[str], bool]:
    gate = StopSequenceFilter(stop)
    out = []
    for delta in deltas:
        out.append(gate.feed(delta))
        if gate.stopped:
            break
    out.append(gate.flush())
    return out, gate.stopped


def test_truncate_at_the_earliest_stop() -> None:
    assert truncate_at_stop("a. b! c", [". ", "!"]) == ("a", True)
    assert truncate_at_stop("abc", ["x"]) == ("abc", False)
    assert truncate_at_stop("abc", [""]) == ("abc", False)
    assert truncate_at_stop("abc", None) == ("abc", False)


@pytest.mark.parametrize(
    ("deltas", "expected", "stopped"),
    [
        (["Hello ", "you"], ["Hello ", "", ""], True),
        (["Hello y", "ou there"], ["Hello ", "", ""], True),  # the stop split across deltas
        (["Hello y", "ogurt"], ["Hello ", "yogurt", ""], False),  # a false start is released
        (["abc y"], ["abc ", "y"], False),  # held tail released at the end
        (["plain", " text"], ["plain", " text", ""], False),
    ],
)
def test_filter_holds_back_only_a_possible_start(deltas, expected, stopped) -> None:
    assert feed_all(["you"], deltas) == (expected, stopped)


def test_no_stop_sequences_pass_everything() -> None:
    assert feed_all(None, ["a", "b"]) == (["a", "b", ""], False)
    assert feed_all([""], ["a"]) == (["a", ""], False)


def test_several_stops_the_earliest_wins() -> None:
    out, stopped = feed_all(["END", "\n\n"], ["line one\n", "\nline two END"])
    assert "".join(out) == "line one"
    assert stopped
