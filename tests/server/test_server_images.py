"""Image pipelines offline: INDEX_IMAGE, SEARCH_IMAGE_BY_IMAGE, SEARCH_IMAGE_BY_TEXT, PURGE_IMAGE_INDEX.

Images are drawn by the tests with Pillow and served from a loopback HTTP server (allowed by a
test fetch policy) or read as ``file://`` under the server's data dir. Without a CLIP model the
server embeds with the near-duplicate descriptor of :mod:`langchain_zilliz_bailian.server.images`.
"""

from __future__ import annotations

import io
import random
import struct
import zlib
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image, ImageDraw

from langchain_zilliz_bailian.server import LocalServer
from langchain_zilliz_bailian.server.fetch import FetchPolicy
from tests.server.conftest import (
    CLUSTER,
    PROJECT,
    create,
    create_deletion,
    create_search,
    ok,
    set_fetch_policy,
    unique,
)

CLIP = "zilliz/clip-vit-base-patch32"


def drawing(seed: int, size: tuple[int, int] = (320, 240)) -> Image.Image:
    """A deterministic picture: a coloured background with a dozen ellipses."""
    rng = random.Random(seed)
    image = Image.new("RGB", size, tuple(rng.randrange(256) for _ in range(3)))
    draw = ImageDraw.Draw(image)
    for _ in range(12):
        x, y = rng.randrange(size[0]), rng.randrange(size[1])
        w, h = rng.randrange(size[0] // 8, size[0] // 2), rng.randrange(size[1] // 8, size[1] // 2)
        draw.ellipse([x, y, x + w, y + h], fill=tuple(rng.randrange(256) for _ in range(3)))
    return image


def encoded(image: Image.Image, fmt: str = "PNG", **options: Any) -> bytes:
    out = io.BytesIO()
    image.save(out, fmt, **options)
    return out.getvalue()


def near_duplicate(image: Image.Image) -> bytes:
    """Half size, JPEG quality 60: what a re-shared copy of ``image`` looks like."""
    half = image.resize((image.width // 2, image.height // 2))
    return encoded(half, "JPEG", quality=60)


def png_header_only(width: int, height: int) -> bytes:
    """A tiny PNG claiming ``width`` x ``height`` pixels, with a few bytes of pixel data."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (
            struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
        )

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64))


def image_pipelines(http: httpx.Client, model: str = CLIP) -> dict[str, str]:
    """INDEX_IMAGE (preserving ``image_title`` VarChar), SEARCH_IMAGE_BY_IMAGE, PURGE_IMAGE_INDEX."""
    collection = unique("images")
    ingestion = create(
        http,
        {
            "name": unique("img_ing"),
            "type": "INGESTION",
            "projectId": PROJECT,
            "clusterId": CLUSTER,
            "collectionName": collection,
            "functions": [
                {"name": "index_img", "action": "INDEX_IMAGE", "embedding": model},
                {
                    "name": "keep_title",
                    "action": "PRESERVE",
                    "inputField": "image_title",
                    "outputField": "image_title",
                    "fieldType": "VarChar",
                },
            ],
        },
    )
    return {
        "collection": collection,
        "ingestion": ingestion["pipelineId"],
        "search": create_search(http, collection, "SEARCH_IMAGE_BY_IMAGE"),
        "deletion": create_deletion(http, collection, "PURGE_IMAGE_INDEX"),
    }


@pytest.fixture
def pipes(http: httpx.Client) -> dict[str, str]:
    return image_pipelines(http)


@pytest.fixture
def served(
    server: LocalServer, static_http: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> tuple[str, Path]:
    """The loopback file server's base URL (allowed for this test) and the directory it serves."""
    set_fetch_policy(server, monkeypatch, FetchPolicy(allow_private=True))
    return static_http, tmp_path


def run(http: httpx.Client, pipeline_id: str, data: dict[str, Any], **params: Any) -> Any:
    body: dict[str, Any] = {"data": data}
    if params:
        body["params"] = params
    return http.post(f"/v1/pipelines/{pipeline_id}/run", json=body)


def error(resp: httpx.Response) -> str:
    assert resp.status_code == 400, resp.text
    assert resp.json()["code"] == 80000
    message: str = resp.json()["message"]
    return message


def test_ingest_then_a_near_duplicate_finds_its_original_first(
    http: httpx.Client, pipes: dict[str, str], served: tuple[str, Path]
) -> None:
    base, root = served
    originals = {f"img-{i}": drawing(i) for i in range(6)}
    for image_id, image in originals.items():
        (root / f"{image_id}.png").write_bytes(encoded(image))
        data = {"image_url": f"{base}/{image_id}.png", "image_id": image_id}
        data["image_title"] = f"drawing {image_id}"
        assert ok(run(http, pipes["ingestion"], data)) == {
            "num_entities": 1,
            "usage": {"embedding": 1},
        }
    for image_id, image in originals.items():
        (root / f"q-{image_id}.jpg").write_bytes(near_duplicate(image))
        found = ok(
            run(
                http,
                pipes["search"],
                {"query_image_url": f"{base}/q-{image_id}.jpg"},
                limit=3,
                offset=0,
                outputFields=["image_title"],
                filter="",
            )
        )
        first = found["result"][0]
        assert (first["id"], first["image_id"]) == (image_id, image_id)  # string ids (Z17)
        assert first["image_title"] == f"drawing {image_id}"
        assert first["distance"] > 0.9 > found["result"][1]["distance"]
        assert found["usage"] == {"embedding": 1, "rerank": 0}


def test_search_filters_pages_and_needs_known_output_fields(
    http: httpx.Client, pipes: dict[str, str], served: tuple[str, Path]
) -> None:
    base, root = served
    for i in range(3):
        (root / f"{i}.png").write_bytes(encoded(drawing(i)))
        data = {"image_url": f"{base}/{i}.png", "image_id": f"p{i}", "image_title": f"t{i}"}
        ok(run(http, pipes["ingestion"], data))
    query = {"query_image_url": f"{base}/0.png"}
    everything = ok(run(http, pipes["search"], query, limit=3))["result"]
    assert everything[0]["id"] == "p0" and "image_title" not in everything[0]
    page = ok(run(http, pipes["search"], query, limit=2, offset=1))["result"]
    assert [r["id"] for r in page] == [r["id"] for r in everything[1:]]
    filtered = ok(run(http, pipes["search"], query, limit=3, filter='image_title != "t0"'))
    assert {r["id"] for r in filtered["result"]} == {"p1", "p2"}
    assert "Unknown output field" in error(
        run(http, pipes["search"], query, limit=3, outputFields=["colour"])
    )
    assert "[1, 500]" in error(run(http, pipes["search"], query, limit=501))


def test_purge_image_index_deletes_by_image_id(
    http: httpx.Client, pipes: dict[str, str], served: tuple[str, Path]
) -> None:
    base, root = served
    (root / "a.png").write_bytes(encoded(drawing(10)))
    (root / "b.png").write_bytes(encoded(drawing(11)))
    ok(
        run(
            http,
            pipes["ingestion"],
            {"image_url": f"{base}/a.png", "image_id": "a", "image_title": ""},
        )
    )
    ok(
        run(
            http,
            pipes["ingestion"],
            {"image_url": f"{base}/b.png", "image_id": "b", "image_title": ""},
        )
    )
    assert ok(run(http, pipes["deletion"], {"image_id": "a"})) == {"num_deleted_entities": 1}
    assert ok(run(http, pipes["deletion"], {"image_id": "a"})) == {"num_deleted_entities": 0}
    left = ok(run(http, pipes["search"], {"query_image_url": f"{base}/a.png"}, limit=5))
    assert [r["id"] for r in left["result"]] == ["b"]
    assert "data.image_id is required" in error(run(http, pipes["deletion"], {}))


def test_image_url_under_the_data_dir_is_read_as_a_file(
    http: httpx.Client, pipes: dict[str, str], server_data_dir: Path
) -> None:
    path = server_data_dir / "uploads" / unique("cat") / "cat.png"
    path.parent.mkdir(parents=True)
    path.write_bytes(encoded(drawing(20)))
    data = {"image_url": path.as_uri(), "image_id": "cat", "image_title": "a cat"}
    assert ok(run(http, pipes["ingestion"], data))["num_entities"] == 1
    found = ok(run(http, pipes["search"], {"query_image_url": path.as_uri()}, limit=1))
    assert found["result"][0]["id"] == "cat"
    assert found["result"][0]["distance"] == pytest.approx(1.0, abs=1e-4)


def test_bad_images_and_inputs_answer_400_envelopes(
    http: httpx.Client, pipes: dict[str, str], served: tuple[str, Path]
) -> None:
    base, root = served
    (root / "junk.png").write_bytes(b"%PDF-1.4 certainly not a picture")
    (root / "cut.png").write_bytes(encoded(drawing(1))[:300])
    (root / "big.png").write_bytes(png_header_only(8_000, 8_000))
    (root / "bomb.png").write_bytes(png_header_only(30_000, 30_000))
    ingest = pipes["ingestion"]
    assert "not a supported image" in error(
        run(http, ingest, {"image_url": f"{base}/junk.png", "image_id": "j", "image_title": ""})
    )
    assert "cannot be decoded" in error(
        run(http, ingest, {"image_url": f"{base}/cut.png", "image_id": "c", "image_title": ""})
    )
    assert "8000x8000 pixels; at most 50,000,000" in error(
        run(http, ingest, {"image_url": f"{base}/big.png", "image_id": "b", "image_title": ""})
    )
    assert "decompression bomb" in error(
        run(http, ingest, {"image_url": f"{base}/bomb.png", "image_id": "b", "image_title": ""})
    )
    assert "data.image_id" in error(
        run(http, ingest, {"image_url": f"{base}/junk.png", "image_title": ""})
    )
    assert "image_title" in error(run(http, ingest, {"image_url": f"{base}/x", "image_id": "x"}))
    assert "not a supported image" in error(
        run(http, pipes["search"], {"query_image_url": f"{base}/junk.png"})
    )
    assert "data.query_image_url is required" in error(
        run(http, pipes["search"], {"query_text": "cats"})
    )


def test_image_urls_follow_the_fetch_policy(
    http: httpx.Client, pipes: dict[str, str], static_http: str, tmp_path: Path
) -> None:
    (tmp_path / "a.png").write_bytes(encoded(drawing(3)))
    data = {"image_url": f"{static_http}/a.png", "image_id": "a", "image_title": ""}
    message = error(run(http, pipes["ingestion"], data))  # loopback, default policy
    assert "image_url host" in message and "--allow-private-fetch" in message
    message = error(run(http, pipes["search"], {"query_image_url": "ftp://example.com/a.png"}))
    assert "Unsupported query_image_url scheme" in message


@pytest.mark.parametrize("model", [CLIP, "zilliz/clip-vit-base-patch32-multilingual-v1"])
def test_search_by_text_names_the_model_it_needs(http: httpx.Client, model: str) -> None:
    made = image_pipelines(http, model)
    by_text = create_search(http, made["collection"], "SEARCH_IMAGE_BY_TEXT", embedding=model)
    described = ok(http.get(f"/v1/pipelines/{by_text}"))["functions"][0]
    assert described["embedding"] == model and described["inputFields"] == ["query_text"]
    message = error(run(http, by_text, {"query_text": "a yellow cat"}, limit=10))
    assert f"needs the image-text model {model} (CLIP)" in message  # the user's name (Z33)
    assert "SEARCH_IMAGE_BY_IMAGE" in message


def test_image_search_pipelines_check_their_collection(http: httpx.Client) -> None:
    vit = image_pipelines(http, "zilliz/vit-base-patch16-224")
    function: dict[str, str] = {
        "name": "search_fn",
        "action": "SEARCH_IMAGE_BY_TEXT",
        "clusterId": CLUSTER,
        "collectionName": vit["collection"],
    }
    body: dict[str, Any] = {"name": unique("search"), "type": "SEARCH", "projectId": PROJECT}
    body["functions"] = [function]
    assert "built with zilliz/clip-vit-base-patch32" in error(http.post("/v1/pipelines", json=body))
    function |= {"action": "SEARCH_IMAGE_BY_IMAGE", "embedding": CLIP}
    assert "must equal the ingestion model" in error(http.post("/v1/pipelines", json=body))
    function |= {
        "embedding": "zilliz/vit-base-patch16-224",
        "reranker": "zilliz/bge-reranker-base",
    }
    assert "A reranker applies to SEARCH_TEXT" in error(http.post("/v1/pipelines", json=body))


def test_image_title_is_a_preservable_field_and_image_id_is_not(http: httpx.Client) -> None:
    def ingestion(field: str) -> httpx.Response:
        preserve = {
            "name": "keep",
            "action": "PRESERVE",
            "inputField": field,
            "outputField": field,
            "fieldType": "VarChar",
        }
        body = {
            "name": unique("img_ing"),
            "type": "INGESTION",
            "projectId": PROJECT,
            "clusterId": CLUSTER,
            "collectionName": unique("images"),
            "functions": [{"name": "index_img", "action": "INDEX_IMAGE"}, preserve],
        }
        return http.post("/v1/pipelines", json=body)

    made = ok(ingestion("image_title"))
    assert made["functions"][0] == {
        "name": "index_img",
        "action": "INDEX_IMAGE",
        "inputFields": ["image_url", "image_id"],
        "embedding": CLIP,
    }
    assert made["functions"][1]["inputField"] == "image_title"
    assert "reserved" in error(ingestion("image_id"))
