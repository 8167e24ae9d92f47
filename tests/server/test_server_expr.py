"""Units: id formats, the one literal-escaping function, expression combination, strict JSON."""

from __future__ import annotations

import json
import math

import pytest

from langchain_zilliz_bailian.server.expr import (
    ExpressionError,
    all_of,
    field_equals,
    field_in,
    literal,
    string_literal,
)
from langchain_zilliz_bailian.server.ids import (
    InvalidIdError,
    check_id,
    is_valid,
    new_pipeline_id,
    new_session_id,
)
from langchain_zilliz_bailian.server.strict_json import NonFiniteNumberError, loads

TRICKY = [
    "",
    "plain.md",
    "x'] or kind in ['pipeline",
    'x"] or kind in ["pipeline',
    "back\\slash\\",
    '\\" or true or "',
    "new\nline\r\ttab",
    "ümlaut 中文 ｆｕｌｌ 🙂",
    "\x00\x01 control",
    "like '%door code%'",
]


@pytest.mark.parametrize("value", TRICKY)
def test_string_literal_is_one_string_token_with_the_same_value(value: str) -> None:
    from milvus_lite.search.filter.tokens import TokenKind, tokenize

    tokens = tokenize(string_literal(value))
    assert [t.kind for t in tokens] == [TokenKind.STRING, TokenKind.EOF]
    assert tokens[0].value == value


@pytest.mark.parametrize("value", TRICKY)
def test_field_equals_parses_as_one_comparison(value: str) -> None:
    from milvus_lite.search.filter.parser import parse_expr

    node = parse_expr(field_equals("doc_name", value))
    assert type(node).__name__ == "CmpOp"


def test_literals_of_scalars_and_what_they_refuse() -> None:
    assert literal(True) == "true" and literal(False) == "false"
    assert literal(-(2**63)) == str(-(2**63)) and literal(1.5) == "1.5"
    assert field_in("id", [1, 2]) == "id in [1, 2]"
    assert field_in("tag", ["a'", 'b"']) == 'tag in ["a\'", "b\\""]'
    for bad in (math.nan, math.inf, -math.inf, 2**63, "\ud800", None):
        with pytest.raises(ExpressionError):
            literal(bad)  # type: ignore[arg-type]
    for field in ("id or true", "a]", "", "ｉｄ"):
        with pytest.raises(ExpressionError):
            field_equals(field, 1)


def test_all_of_parenthesises_self_contained_parts_only() -> None:
    assert all_of() == "" and all_of("", "  ") == ""
    assert all_of("year == 2024") == "(year == 2024)"
    assert all_of("a == 1 or b == 2", 'c == ")"') == '(a == 1 or b == 2) and (c == ")")'
    assert all_of("x in [1, (2)]", "s == '[\\''") == "(x in [1, (2)]) and (s == '[\\'')"
    for part in ("a == 1) or (b == 2", "(a == 1", "x in [1]]", "(]", "s == 'open", 's == "\\"'):
        with pytest.raises(ExpressionError):
            all_of("kind == 1", part)


def test_id_formats() -> None:
    good = {
        "pipeline": ["pipe-6ca5dd1b4672659d3c3487", new_pipeline_id()],
        "project": ["proj-0123456789abcdef", "proj-local", "proj-1"],
        "cluster": ["in03-0123456789abcdef", "inxx-xxxx", "in01-local"],
        "collection": ["my_docs", "_x", "zb_meta"],
        "session": [new_session_id(), "9995da2046a04b448dc5a562563f4835", "5f0c2a9e", "sess-1"],
        "app": ["0123456789abcdef0123456789abcdef", "restart_app", "my-app"],
        "memory": ["mem-1", "0123456789abcdef"],
    }
    bad = ["", "x'] or kind in ['pipeline", "a b", "a\n", "ａ", "a\\", "a]", "a'", 'a"']
    bad_by_kind = {
        "pipeline": ["pipe-6CA5DD1B4672659D3C3487", "pipe-6ca5dd1b4672659d3c348", "pipe-x"],
        "project": ["p", "proj-", "PROJ-1"],
        "cluster": ["in03-", "cluster-1"],
        "collection": ["1abc", "a-b"],
        "session": ["sess 1", "s" * 129, "a'b", "x'] or kind in ['session"],
        "app": ["a" * 65, "bad.app"],
        "memory": ["m" * 129],
    }
    for kind, values in good.items():
        for value in values:
            assert check_id(kind, value) == value  # type: ignore[arg-type]
        for value in bad + bad_by_kind[kind]:
            assert not is_valid(kind, value), (kind, value)  # type: ignore[arg-type]
            with pytest.raises(InvalidIdError, match=f"Invalid {kind} id"):
                check_id(kind, value)  # type: ignore[arg-type]
    assert not is_valid("pipeline", 7) and not is_valid("session", None)


@pytest.mark.parametrize(
    "raw", ["NaN", "[Infinity]", '{"a": -Infinity}', "1e400", '{"v": [1, -1e309]}']
)
def test_strict_json_refuses_non_finite_numbers(raw: str) -> None:
    json.loads(raw)  # the standard parser accepts them all
    with pytest.raises(NonFiniteNumberError):
        loads(raw)


def test_strict_json_keeps_ordinary_documents() -> None:
    doc = {"a": [1, 2.5, -1e-300, 1.7976931348623157e308], "b": "NaN", "c": None}
    assert loads(json.dumps(doc).encode()) == doc
