"""LlamaIndex ``ZillizPipelineRetriever`` on image search pipelines: nodes with text.

Same rule as the LangChain retriever, from the same core (``zilliz.actions.hit_content``): a
title, else the image URL, else the image id as the node's text; ``image_id`` in its metadata.
"""

from __future__ import annotations

from tests.fakes.zilliz import Script, ok
from tests.llama_index.test_llama_retriever import describe, make

QUERY = "https://img.test/query.png"


def test_a_title_content_field_is_asked_for_and_becomes_the_node_text() -> None:
    hits = [
        {"id": "cat", "distance": 0.97, "image_id": "cat", "image_title": "A cat"},
        {"id": "dog", "distance": 0.41, "image_id": "dog", "image_title": None},
    ]
    script = Script([ok({"result": hits})])
    retriever = make(
        script, query_type="image_url", content_field="image_title", similarity_top_k=2
    )
    found = retriever.retrieve(QUERY)
    assert script.bodies()[0]["params"]["outputFields"] == ["image_title"]
    assert [(n.node.node_id, n.node.get_content(), n.node.metadata, n.score) for n in found] == [
        ("cat", "A cat", {"image_id": "cat"}, 0.97),
        ("dog", "dog", {"image_id": "dog"}, 0.41),
    ]


async def test_a_described_image_pipeline_without_titles_gives_urls_or_ids() -> None:
    hits = [{"id": "cat", "distance": 0.3, "image_url": "https://i.test/c.png"}]
    script = Script([describe("SEARCH_IMAGE_BY_TEXT"), ok({"result": hits})])
    [node] = await make(script).aretrieve("a cat on a table")
    assert script.bodies()[1]["data"] == {"query_text": "a cat on a table"}
    assert node.node.get_content() == "https://i.test/c.png"
    assert node.node.metadata == {"image_url": "https://i.test/c.png", "image_id": "cat"}
