"""Image hits in the framework-free core: what content an image hit gets and which fields are
asked for (both ``ZillizPipelineRetriever`` classes map :class:`Retrieved` as it comes)."""

from __future__ import annotations

import pytest

from langchain_zilliz_bailian.zilliz.actions import hit_content, requested_fields
from langchain_zilliz_bailian.zilliz.models import Pipeline, SearchHit
from langchain_zilliz_bailian.zilliz.retrieval import SearchRequest
from tests.fakes.zilliz import Script, ok
from tests.zilliz.test_retrieval_session import PIPE, describe, session

QUERY = "https://img.test/query.png"


def searching(action: str) -> Pipeline:
    return Pipeline.model_validate(describe(action).json()["data"])


@pytest.mark.parametrize(
    ("raw", "text", "fields"),
    [
        (
            {"id": "cat", "distance": 0.9, "image_id": "cat", "image_title": "A cat"},
            "A cat",
            {"image_id": "cat"},
        ),
        (
            {"id": "cat", "distance": 0.9, "image_id": "cat", "image_url": "https://i/c.png"},
            "https://i/c.png",
            {"image_id": "cat", "image_url": "https://i/c.png"},
        ),
        (
            {"id": "cat", "distance": 0.9, "image_id": "cat", "image_title": ""},
            "cat",
            {"image_id": "cat"},
        ),
        ({"id": "cat", "distance": 0.9}, "cat", {"image_id": "cat"}),  # a bare hit (Z3)
    ],
    ids=["title", "url", "empty-title", "id-only"],
)
def test_an_image_hit_is_named_by_its_title_else_its_url_else_its_id(raw, text, fields) -> None:
    pipeline = searching("SEARCH_IMAGE_BY_TEXT")
    assert hit_content(SearchHit.from_raw(raw), "image_title", pipeline) == (text, fields)


def test_a_text_hit_without_its_text_stays_empty() -> None:
    pipeline = searching("SEARCH_TEXT")
    hit = SearchHit.from_raw({"id": 1, "distance": 0.5, "year": 2024})
    assert hit_content(hit, "text", pipeline) == ("", {"year": 2024})


def test_an_image_hit_is_recognised_without_describe() -> None:
    hit = SearchHit.from_raw({"id": "cat", "distance": 0.9, "image_id": "cat"})
    assert hit_content(hit, "caption", None) == ("cat", {"image_id": "cat"})


@pytest.mark.parametrize(
    ("output_fields", "content", "sent"),
    [
        (None, None, []),
        (None, "image_title", ["image_title"]),
        (["year"], "image_title", ["year", "image_title"]),
        (["image_title"], "image_title", ["image_title"]),
        (None, "text", []),  # returned unasked
        (None, "chunk_text", []),
        (None, "image_id", []),
    ],
)
def test_a_chosen_content_field_is_asked_for_unless_returned_unasked(
    output_fields, content, sent
) -> None:
    assert requested_fields(output_fields, content) == sent


def test_the_search_asks_for_the_content_field_and_maps_image_hits() -> None:
    hits = [
        {"id": "cat", "distance": 0.97, "image_id": "cat", "image_title": "A cat"},
        {"id": "dog", "distance": 0.41, "image_id": "dog", "image_title": None},
    ]
    script = Script([ok({"result": hits})])
    request = SearchRequest(
        PIPE, QUERY, limit=2, query_type="image_url", content_field="image_title"
    )
    found = session(script).search(request)
    assert script.bodies() == [
        {
            "data": {"query_image_url": QUERY},
            "params": {"limit": 2, "offset": 0, "outputFields": ["image_title"], "filter": ""},
        }
    ]
    assert [(h.id, h.text, h.fields, h.distance) for h in found] == [
        ("cat", "A cat", {"image_id": "cat"}, 0.97),
        ("dog", "dog", {"image_id": "dog"}, 0.41),
    ]


async def test_a_described_image_pipeline_asks_for_nothing_it_may_not_have() -> None:
    """``image_title`` is only a default: a collection without it would refuse the search."""
    script = Script([describe("SEARCH_IMAGE_BY_IMAGE"), ok({"result": []})])
    await session(script).asearch(SearchRequest(PIPE, QUERY, query_type="image_url"))
    assert script.bodies()[1]["params"]["outputFields"] == []
