"""Image pipelines with a CLIP model in the model store: images and texts in one space.

The model is the tiny CLIP-shaped pair of :mod:`tests.fakes.clip_model` (image = mean of each
normalised channel, text = which colour words it names), so "red" must find the red picture.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from PIL import Image

from langchain_zilliz_bailian.server import LocalServer
from langchain_zilliz_bailian.server.clip import ClipModel, pixel_values
from langchain_zilliz_bailian.server.errors import ZillizError
from langchain_zilliz_bailian.server.image_models import CLIP_MODEL, ImageModels
from langchain_zilliz_bailian.server.images import ImageDescriptor
from langchain_zilliz_bailian.server.models.files import (
    ModelIntegrityError,
    ModelStore,
    ModelUnavailableError,
)
from langchain_zilliz_bailian.server.pipeline_specs import PipelineRegistry
from tests.fakes.clip_model import write_clip
from tests.server.conftest import create_search, ok
from tests.server.test_server_images import encoded, error, image_pipelines, run

RGB = {"red": (220, 30, 30), "green": (30, 200, 40), "blue": (20, 40, 210)}


def swatch(colour: str, seed: int, size: tuple[int, int] = (300, 200)) -> Image.Image:
    """A noisy patch of ``colour`` (no two alike)."""
    rng = random.Random(seed)
    image = Image.new("RGB", size, RGB[colour])
    pixels = image.load()
    assert pixels is not None
    for _ in range(2000):
        x, y = rng.randrange(size[0]), rng.randrange(size[1])
        pixels[x, y] = tuple(rng.randrange(256) for _ in range(3))
    return image


def cosine(a: list[float], b: list[float]) -> float:
    return sum(x * y for x, y in zip(a, b, strict=True))


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> ClipModel:
    return ClipModel(write_clip(tmp_path_factory.mktemp("clip")))


def test_clip_texts_land_next_to_their_pictures(clip: ClipModel) -> None:
    assert clip.dim == 3 and clip.stored_name == "clip-vit-base-patch32/3"
    assert clip.embed_text("a red square") == [1.0, 0.0, 0.0]
    pictures = {c: clip.embed_image(encoded(swatch(c, 1))) for c in RGB}
    for colour in RGB:
        text = clip.embed_text(f"something {colour}")
        assert max(RGB, key=lambda c: cosine(text, pictures[c])) == colour


def test_preprocessing_resizes_the_short_side_and_crops_the_centre() -> None:
    wide = Image.new("RGB", (600, 200), (0, 0, 0))
    wide.paste((255, 255, 255), (200, 0, 400, 200))  # a white centre third
    pixels = pixel_values(wide)
    assert pixels.shape == (1, 3, 224, 224)
    assert float(pixels.min()) > 1.5  # only the white centre is left, normalised per channel


def test_clip_serves_clip_names_when_its_files_are_there(tmp_path: Path) -> None:
    models = ImageModels(ModelStore(tmp_path / "cache"))
    assert isinstance(models.for_model(CLIP_MODEL), ImageDescriptor)  # offline: the fallback
    with pytest.raises(ModelUnavailableError, match="clip-vit-base-patch32"):
        models.clip()
    write_clip(tmp_path / "cache" / "clip-vit-base-patch32")
    clip = models.for_model(CLIP_MODEL + "-multilingual-v1")  # quirk 33: same image tower
    assert isinstance(clip, ClipModel)
    assert isinstance(models.for_model("zilliz/vit-base-patch16-224"), ImageDescriptor)
    assert models.served("clip-vit-base-patch32/3") is clip
    assert models.served(None) is models.served("image-descriptor-v1/320") is models.descriptor
    with pytest.raises(ModelUnavailableError, match="cannot produce other/9"):
        models.served("other/9")


def test_corrupt_clip_files_are_refused_not_replaced(tmp_path: Path) -> None:
    broken = write_clip(tmp_path / "cache" / "clip-vit-base-patch32")
    (broken / "vision_model.onnx").write_bytes(b"truncated")
    models = ImageModels(ModelStore(tmp_path / "cache"))
    with pytest.raises(ModelIntegrityError, match="Cannot load CLIP"):
        models.for_model(CLIP_MODEL)
    assert isinstance(models.for_model("zilliz/vit-base-patch16-224"), ImageDescriptor)


def test_a_collection_whose_image_model_is_gone_is_a_400(tmp_path: Path) -> None:
    registry = object.__new__(PipelineRegistry)
    registry.image_models = ImageModels(ModelStore(tmp_path / "cache"))
    with pytest.raises(ZillizError, match="clip-vit-base-patch32/512, which this server cannot"):
        registry.image_embedder_of("pics", {"embedder": "clip-vit-base-patch32/512"})


@pytest.fixture
def clip_server(tmp_path: Path) -> Iterator[httpx.Client]:
    """A server whose model cache holds the tiny CLIP, allowed to fetch from loopback."""
    data_dir = tmp_path / "data"
    write_clip(data_dir / "models" / "clip-vit-base-patch32")
    with (
        LocalServer(data_dir=data_dir, allow_private_fetch=True) as srv,
        httpx.Client(
            base_url=srv.url, headers={"Authorization": f"Bearer {srv.api_key}"}, timeout=30
        ) as client,
    ):
        yield client


def test_clip_pipelines_search_images_by_text_and_by_image(
    clip_server: httpx.Client, static_http: str, tmp_path: Path
) -> None:
    http = clip_server
    made = image_pipelines(http)
    described = ok(http.get(f"/v1/pipelines/{made['ingestion']}"))
    assert described["servedEmbedding"] == "clip-vit-base-patch32/3"
    for i, colour in enumerate(RGB):
        (tmp_path / f"{colour}.png").write_bytes(encoded(swatch(colour, i)))
        data = {"image_url": f"{static_http}/{colour}.png", "image_id": colour}
        ok(run(http, made["ingestion"], data | {"image_title": f"a {colour} patch"}))
    by_text = create_search(http, made["collection"], "SEARCH_IMAGE_BY_TEXT")
    for colour in RGB:
        found = ok(run(http, by_text, {"query_text": f"something {colour}"}, limit=3))
        assert found["result"][0]["id"] == colour
    (tmp_path / "query.jpg").write_bytes(encoded(swatch("green", 99), "JPEG", quality=70))
    found = ok(run(http, made["search"], {"query_image_url": f"{static_http}/query.jpg"}))
    assert found["result"][0]["id"] == "green"
    assert "[1, 100]" in error(run(http, by_text, {"query_text": "red"}, limit=101))
    assert "data.query_text is required" in error(run(http, by_text, {"text": "red"}))
