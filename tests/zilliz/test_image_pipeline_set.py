"""``create_pipeline_set(kind="image")``: the exact create bodies, and bad sets refused unsent.

Every request goes to an ``httpx.MockTransport`` that records it; a refused set must leave that
log empty (sync and async).
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from langchain_zilliz_bailian.errors import InvalidInputError
from langchain_zilliz_bailian.zilliz.client import ZillizPipelinesClient

BASE_URL = "https://zilliz.example.test"
CLIP = "zilliz/clip-vit-base-patch32"
VIT = "zilliz/vit-base-patch16-224"
SET: dict[str, Any] = {
    "name": "photos",
    "project_id": "proj-0123456789abcdef",
    "cluster_id": "in03-0123456789abcdef",
    "collection_name": "photos",
}


class Recorder:
    """A transport that answers every create with a new pipeline and keeps the bodies sent."""

    def __init__(self) -> None:
        self.bodies: list[dict[str, Any]] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        body = json.loads(request.read())
        self.bodies.append(body)
        pipeline = {"pipelineId": f"pipe-{len(self.bodies)}a", **body}
        return httpx.Response(200, json={"code": 200, "data": pipeline})

    async def handle(self, request: httpx.Request) -> httpx.Response:
        return self(request)


def client(recorder: Recorder) -> ZillizPipelinesClient:
    return ZillizPipelinesClient(
        api_key="zk-1",
        base_url=BASE_URL,
        http_client=httpx.Client(transport=httpx.MockTransport(recorder)),
        http_async_client=httpx.AsyncClient(transport=httpx.MockTransport(recorder.handle)),
    )


def expected_bodies(search_action: str, model: str) -> list[dict[str, Any]]:
    common = {"projectId": SET["project_id"], "description": "photos (image)"}
    return [
        {
            **common,
            "name": "photos_ingestion",
            "type": "INGESTION",
            "clusterId": SET["cluster_id"],
            "collectionName": "photos",
            "functions": [
                {"name": "index_image", "action": "INDEX_IMAGE", "embedding": model},
                {
                    "name": "keep_image_title",
                    "action": "PRESERVE",
                    "inputField": "image_title",
                    "outputField": "image_title",
                    "fieldType": "VarChar",
                },
            ],
        },
        {
            **common,
            "name": "photos_search",
            "type": "SEARCH",
            "functions": [
                {
                    "name": "search_image",
                    "action": search_action,
                    "clusterId": SET["cluster_id"],
                    "collectionName": "photos",
                    "embedding": model,
                }
            ],
        },
        {
            **common,
            "name": "photos_deletion",
            "type": "DELETION",
            "clusterId": SET["cluster_id"],
            "collectionName": "photos",
            "functions": [{"name": "purge_image", "action": "PURGE_IMAGE_INDEX"}],
        },
    ]


def test_an_image_set_is_clip_searched_by_image_by_default() -> None:
    recorder = Recorder()
    made = client(recorder).create_pipeline_set(
        **SET, kind="image", preserve={"image_title": "VarChar"}
    )
    assert recorder.bodies == expected_bodies("SEARCH_IMAGE_BY_IMAGE", CLIP)
    assert [made.ingestion.action, made.search.action, made.deletion.action] == [
        "INDEX_IMAGE",
        "SEARCH_IMAGE_BY_IMAGE",
        "PURGE_IMAGE_INDEX",
    ]


async def test_an_image_set_searched_by_text_async() -> None:
    recorder = Recorder()
    await client(recorder).acreate_pipeline_set(
        **SET, kind="image", image_search="text", preserve={"image_title": "VarChar"}
    )
    assert recorder.bodies == expected_bodies("SEARCH_IMAGE_BY_TEXT", CLIP)


@pytest.mark.parametrize(
    "model", [VIT, "zilliz/clip-vit-base-patch32-multilingual-v1"], ids=["vit", "quirk33"]
)
def test_the_image_model_is_sent_as_given(model: str) -> None:
    recorder = Recorder()
    client(recorder).create_pipeline_set(
        **SET, kind="image", embedding=model, preserve={"image_title": "VarChar"}
    )
    assert recorder.bodies == expected_bodies("SEARCH_IMAGE_BY_IMAGE", model)


def test_text_and_doc_sets_are_unchanged_and_keep_their_language() -> None:
    recorder = Recorder()
    client(recorder).create_pipeline_set(**SET, kind="text", language="CHINESE")
    ingestion, search, deletion = recorder.bodies
    assert ingestion["functions"] == [
        {
            "name": "index_text",
            "action": "INDEX_TEXT",
            "language": "CHINESE",
            "embedding": "zilliz/bge-base-zh-v1.5",
        }
    ]
    assert search["functions"][0]["action"] == "SEARCH_TEXT"
    assert deletion["functions"] == [{"name": "purge_text", "action": "PURGE_TEXT_INDEX"}]


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"kind": "images"}, "kind must be one of"),
        ({"kind": "IMAGE"}, "kind must be one of"),
        ({"kind": ["image"]}, "kind must be one of"),
        ({"kind": "image", "image_search": "audio"}, "image_search must be"),
        ({"kind": "text", "image_search": "text"}, "image sets"),
        ({"kind": "image", "reranker": "zilliz/bge-reranker-base"}, "reranker"),
        ({"kind": "image", "embedding": "zilliz/bge-base-en-v1.5"}, "embeds text"),
        ({"kind": "image", "embedding": VIT, "image_search": "text"}, "needs zilliz/clip"),
    ],
)
async def test_a_bad_set_is_refused_before_any_request(
    arguments: dict[str, Any], message: str
) -> None:
    sent: list[httpx.Request] = []

    def record(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(500)

    async def arecord(request: httpx.Request) -> httpx.Response:
        return record(request)

    zc = ZillizPipelinesClient(
        api_key="zk-1",
        base_url=BASE_URL,
        max_retries=0,
        http_client=httpx.Client(transport=httpx.MockTransport(record)),
        http_async_client=httpx.AsyncClient(transport=httpx.MockTransport(arecord)),
    )
    with pytest.raises(InvalidInputError, match=message):
        zc.create_pipeline_set(**SET, **arguments)
    with pytest.raises(InvalidInputError, match=message):
        await zc.acreate_pipeline_set(**SET, **arguments)
    assert sent == []
