"""The offline image descriptor: near duplicates rank their original first; bad bytes are refused."""

from __future__ import annotations

import math

import pytest
from PIL import Image

from langchain_zilliz_bailian.server.images import ImageDecodeError, ImageDescriptor, open_image
from tests.server.test_server_images import drawing, encoded, near_duplicate

DESCRIPTOR = ImageDescriptor()


def cosine(a: list[float], b: list[float]) -> float:
    return sum(x * y for x, y in zip(a, b, strict=True))


def test_resized_reencoded_copies_find_their_original_first() -> None:
    originals = [DESCRIPTOR.embed_image(encoded(drawing(seed, (640, 480)))) for seed in range(20)]
    for seed in range(20):
        copy = drawing(seed, (640, 480))
        for query in (
            near_duplicate(copy),
            encoded(copy.resize((200, 150)), "WEBP", quality=50),
            encoded(copy.convert("RGB").point(lambda v: min(255, v + 12)), "PNG"),  # brighter
        ):
            vector = DESCRIPTOR.embed_image(query)
            scores = [cosine(vector, o) for o in originals]
            assert max(range(20), key=scores.__getitem__) == seed


def test_descriptor_is_a_unit_vector_of_its_dimension_even_for_a_flat_image() -> None:
    for image in (drawing(1), Image.new("RGB", (50, 50), (200, 10, 10))):
        vector = DESCRIPTOR.embed_image(encoded(image))
        assert len(vector) == DESCRIPTOR.dim == 320
        assert math.sqrt(sum(v * v for v in vector)) == pytest.approx(1.0)


def test_different_pictures_are_not_near_duplicates() -> None:
    a, b = (DESCRIPTOR.embed_image(encoded(drawing(seed))) for seed in (1, 2))
    assert cosine(a, b) < 0.8


def test_the_pixel_limit_is_checked_before_decoding() -> None:
    raw = encoded(drawing(1, (40, 30)))
    assert open_image(raw, max_pixels=1200).size == (40, 30)
    with pytest.raises(ImageDecodeError, match="40x30 pixels; at most 1,199"):
        open_image(raw, max_pixels=1199)
    with pytest.raises(ImageDecodeError, match="not a supported image"):
        open_image(b"GIF89a but nothing else")
