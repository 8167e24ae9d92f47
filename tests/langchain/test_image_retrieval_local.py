"""Image pipelines end to end on the live local server, through the client and the retriever.

The pictures are drawn with Pillow and served from a loopback HTTP server, which the server may
fetch from for this test only (its ``doc_url`` policy otherwise refuses private addresses). Without
a CLIP model the server embeds with its near-duplicate descriptor, so the query is a re-encoded,
half-size copy of one of the two pictures, and that picture must come first.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest

from langchain_zilliz_bailian.retrievers import ZillizPipelineRetriever
from langchain_zilliz_bailian.server.fetch import FetchPolicy
from langchain_zilliz_bailian.zilliz.client import ZillizPipelinesClient
from tests.server.conftest import CLUSTER, PROJECT, set_fetch_policy, static_http
from tests.server.test_server_images import drawing, encoded, near_duplicate

pytestmark = pytest.mark.server
#: Re-exported so pytest finds the loopback file server fixture of the server tests here.
__all__ = ["static_http"]


def test_an_image_set_made_by_the_client_finds_the_right_picture_first(
    local_server: Any, static_http: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    set_fetch_policy(local_server, monkeypatch, FetchPolicy(allow_private=True))
    pictures = {"sunset": drawing(31), "harbour": drawing(32)}
    for name, picture in pictures.items():
        (tmp_path / f"{name}.png").write_bytes(encoded(picture))
    (tmp_path / "query.jpg").write_bytes(near_duplicate(pictures["harbour"]))
    name = f"img_{uuid.uuid4().hex[:8]}"
    with ZillizPipelinesClient(api_key=local_server.api_key, base_url=local_server.url) as zc:
        made = zc.create_pipeline_set(
            name=name,
            project_id=PROJECT,
            cluster_id=CLUSTER,
            collection_name=name,
            kind="image",
            preserve={"image_title": "VarChar"},
        )
        assert made.search.action == "SEARCH_IMAGE_BY_IMAGE"
        for image_id in pictures:
            stored = zc.ingest_image(
                made.ingestion.pipeline_id,
                f"{static_http}/{image_id}.png",
                image_id,
                metadata={"image_title": f"A drawing called {image_id}"},
            )
            assert stored.num_entities == 1
        with (
            ZillizPipelineRetriever(
                pipeline_id=made.search.pipeline_id,
                api_key=local_server.api_key,
                base_url=local_server.url,
                query_type="image_url",
                k=2,
            ) as untitled,
            ZillizPipelineRetriever(
                pipeline_id=made.search.pipeline_id,
                api_key=local_server.api_key,
                base_url=local_server.url,
                query_type="image_url",
                content_field="image_title",
                k=2,
            ) as titled,
        ):
            query = f"{static_http}/query.jpg"
            by_id, by_title = untitled.invoke(query), titled.invoke(query)
            assert [d.metadata["image_id"] for d in by_title] == ["harbour", "sunset"]
            assert by_title[0].page_content == "A drawing called harbour"
            assert by_title[0].metadata["distance"] > by_title[1].metadata["distance"]
            assert [(d.page_content, d.metadata["image_id"]) for d in by_id] == [
                ("harbour", "harbour"),
                ("sunset", "sunset"),
            ]
            for image_id in pictures:
                assert zc.delete(made.deletion.pipeline_id, image_id=image_id).num_deleted == 1
            assert titled.invoke(query) == []
        for pipeline in (made.ingestion, made.search, made.deletion):
            zc.drop(pipeline.pipeline_id)
