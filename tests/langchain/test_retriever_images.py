"""LangChain ``ZillizPipelineRetriever`` on image search pipelines: Documents with content.

The hit-to-content rule lives in the core (``zilliz.actions.hit_content``); these tests pin what a
LangChain user gets: a title, else the image URL, else the image id as ``page_content``, and
``image_id``/``image_url``/``distance`` in ``metadata``.
"""

from __future__ import annotations

from langchain_core.documents import Document

from tests.fakes.zilliz import Script, ok
from tests.zilliz.test_zilliz_quirks import describe, retriever

QUERY = "https://img.test/query.png"


def test_a_title_content_field_is_asked_for_and_becomes_page_content() -> None:
    hits = [{"id": "cat", "distance": 0.97, "image_id": "cat", "image_title": "A cat"}]
    script = Script([ok({"result": hits})])
    docs = retriever(script, query_type="image_url", content_field="image_title", k=1).invoke(QUERY)
    assert script.bodies()[0]["params"]["outputFields"] == ["image_title"]
    assert docs == [
        Document(page_content="A cat", metadata={"image_id": "cat", "id": "cat", "distance": 0.97})
    ]


async def test_untitled_image_hits_show_their_url_else_their_id() -> None:
    hits = [
        {"id": "cat", "distance": 0.9, "image_id": "cat", "image_url": "https://i.test/c.png"},
        {"id": "dog", "distance": 0.4, "image_id": "dog"},
    ]
    script = Script([ok(describe("SEARCH_IMAGE_BY_IMAGE")), ok({"result": hits})])
    docs = await retriever(script, query_type="image_url").ainvoke(QUERY)
    assert script.bodies()[1]["params"]["outputFields"] == []
    assert docs == [
        Document(
            page_content="https://i.test/c.png",
            metadata={
                "image_id": "cat",
                "image_url": "https://i.test/c.png",
                "id": "cat",
                "distance": 0.9,
            },
        ),
        Document(page_content="dog", metadata={"image_id": "dog", "id": "dog", "distance": 0.4}),
    ]
