"""MetadataFilters → Milvus expression: every operator, nesting, quoting, and refusals."""

from __future__ import annotations

import pytest
from llama_index.core.vector_stores import (
    FilterCondition,
    FilterOperator,
    MetadataFilter,
    MetadataFilters,
)

from langchain_zilliz_bailian.errors import InvalidInputError, UnsupportedFilterError
from llama_index_ext.filters import (
    combine_expressions,
    to_milvus_expression,
)


def one(key, value, operator=FilterOperator.EQ):
    return MetadataFilters(filters=[MetadataFilter(key=key, value=value, operator=operator)])


@pytest.mark.parametrize(
    ("operator", "value", "expected"),
    [
        (FilterOperator.EQ, 2024, "year == 2024"),
        (FilterOperator.NE, 2024, "year != 2024"),
        (FilterOperator.GT, 2024, "year > 2024"),
        (FilterOperator.GTE, 2024, "year >= 2024"),
        (FilterOperator.LT, 2024, "year < 2024"),
        (FilterOperator.LTE, 2024, "year <= 2024"),
        (FilterOperator.IN, [2023, 2024], "year in [2023, 2024]"),
        (FilterOperator.NIN, [2023, 2024], "year not in [2023, 2024]"),
        (FilterOperator.ANY, ["a", "b"], 'array_contains_any(year, ["a", "b"])'),
        (FilterOperator.ALL, ["a", "b"], 'array_contains_all(year, ["a", "b"])'),
        (FilterOperator.CONTAINS, "a", 'array_contains(year, "a")'),
        (FilterOperator.TEXT_MATCH, "Lite", 'year like "%Lite%"'),
    ],
)
def test_every_supported_operator(operator, value, expected):
    assert to_milvus_expression(one("year", value, operator)) == expected


def test_numbers_are_bare_and_strings_quoted():
    assert to_milvus_expression(one("year", 2024)) == "year == 2024"
    assert to_milvus_expression(one("year", "2024")) == 'year == "2024"'
    assert to_milvus_expression(one("score", 0.5)) == "score == 0.5"
    assert to_milvus_expression(one("score", 1e-05)) == "score == 1e-05"
    assert to_milvus_expression(one("score", -2.5, FilterOperator.LT)) == "score < -2.5"
    assert to_milvus_expression(one("id", 2**60 + 1)) == f"id == {2**60 + 1}"  # every digit
    mixed = one("tag", ["2024", "a"], FilterOperator.IN)
    assert to_milvus_expression(mixed) == 'tag in ["2024", "a"]'


@pytest.mark.parametrize(
    ("value", "literal"),
    [
        ('He said "hi"', r'"He said \"hi\""'),
        ("back\\slash", r'"back\\slash"'),
        ("it's", '"it\'s"'),
        ("line\nbreak\ttab\rcr", r'"line\nbreak\ttab\rcr"'),
        ("中文标题", '"中文标题"'),  # Milvus rejects \uXXXX escapes: kept literal
        ("", '""'),
    ],
)
def test_strings_with_quotes_and_escapes(value, literal):
    assert to_milvus_expression(one("title", value)) == f"title == {literal}"


def test_and_or_not_and_nesting():
    year = MetadataFilter(key="year", value=2023, operator=FilterOperator.GTE)
    name = MetadataFilter(key="doc_name", value="a.md")
    other = MetadataFilter(key="doc_name", value="b.md")
    either = MetadataFilters(filters=[name, other], condition=FilterCondition.OR)
    assert to_milvus_expression(MetadataFilters(filters=[year, name])) == (
        'year >= 2023 and doc_name == "a.md"'
    )
    assert to_milvus_expression(MetadataFilters(filters=[year, either])) == (
        'year >= 2023 and (doc_name == "a.md" or doc_name == "b.md")'
    )
    negated = MetadataFilters(filters=[name, other], condition=FilterCondition.NOT)
    assert to_milvus_expression(negated) == 'not (doc_name == "a.md" or doc_name == "b.md")'
    deep = MetadataFilters(
        filters=[MetadataFilters(filters=[year, MetadataFilters(filters=[either, year])])],
        condition=FilterCondition.OR,
    )
    assert to_milvus_expression(deep) == (
        '(year >= 2023 and ((doc_name == "a.md" or doc_name == "b.md") and year >= 2023))'
    )
    single_nested = MetadataFilters(filters=[MetadataFilters(filters=[year])])
    assert to_milvus_expression(single_nested) == "year >= 2023"
    none_condition = MetadataFilters(filters=[year, name], condition=None)
    expression = to_milvus_expression(none_condition)
    assert expression is not None
    assert " and " in expression


def test_json_path_keys_are_allowed():
    assert to_milvus_expression(one('meta["lang"]', "en")) == 'meta["lang"] == "en"'
    assert to_milvus_expression(one("tags[0]", "x")) == 'tags[0] == "x"'


def test_empty_filters_mean_no_filter():
    assert to_milvus_expression(None) is None
    assert to_milvus_expression(MetadataFilters(filters=[])) is None


@pytest.mark.parametrize(
    ("filters", "match"),
    [
        (one("title", "Lite", FilterOperator.TEXT_MATCH_INSENSITIVE), "no Milvus equivalent"),
        (one("title", "x", FilterOperator.IS_EMPTY), "no Milvus equivalent"),
        (one("title", "50%", FilterOperator.TEXT_MATCH), "like"),
        (one("title", "off_now", FilterOperator.TEXT_MATCH), "like"),
        (one("title", "", FilterOperator.TEXT_MATCH), "non-empty string"),
        (one("title", None), "no Milvus literal"),
        (one("year", [1, 2]), "single value"),
        (one("year", 1, FilterOperator.IN), "list value"),
        (one("year", 2**63), "int64"),
        (one("score", float("nan")), "finite"),
        (one("title", "bell\x07"), "control character"),
        (one("year) or (1 == 1", 1), "not a Milvus field name"),
        (one("meta.lang", "en"), "not a Milvus field name"),
        (MetadataFilters(filters=[MetadataFilters(filters=[])]), "nested MetadataFilters"),
    ],
)
def test_untranslatable_filters_raise_clear_errors(filters, match):
    with pytest.raises(UnsupportedFilterError, match=match):
        to_milvus_expression(filters)


def test_error_type_is_an_input_error_and_a_value_error():
    assert issubclass(UnsupportedFilterError, InvalidInputError)
    assert issubclass(UnsupportedFilterError, ValueError)
    with pytest.raises(UnsupportedFilterError, match="MetadataFilters"):
        to_milvus_expression({"year": 2024})  # type: ignore[arg-type]


def test_combine_expressions():
    assert combine_expressions([None, ""]) is None
    assert combine_expressions(["a == 1", None]) == "a == 1"
    assert combine_expressions(["a == 1 or b == 2", "c == 3"]) == "(a == 1 or b == 2) and (c == 3)"
