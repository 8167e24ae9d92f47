"""Huge inputs cost what a normal one costs: texts are cut before tokenizing, images cropped
before scaling, and a provider echoing its key has it masked (found in review)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image

from langchain_zilliz_bailian.server.clip import SIDE, pixel_values
from langchain_zilliz_bailian.server.cross_encoder import MAX_CHARS, CrossEncoder
from langchain_zilliz_bailian.server.models import MiniLMEmbedder
from langchain_zilliz_bailian.server.models.remote import RemoteEmbedder, RemoteEmbeddingError
from tests.fakes.cross_encoder_model import write_cross_encoder


class _Spy:
    """Wraps a tokenizer, recording the length of every text it is asked to encode."""

    def __init__(self, tokenizer: Any) -> None:
        self.tokenizer = tokenizer
        self.lengths: list[int] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self.tokenizer, name)

    def encode_batch(self, inputs: list[Any]) -> Any:
        for item in inputs:
            self.lengths.extend(len(part) for part in (item if isinstance(item, tuple) else [item]))
        return self.tokenizer.encode_batch(inputs)


def test_a_megabyte_text_is_cut_before_it_is_tokenized() -> None:
    embedder = MiniLMEmbedder()
    embedder.load()
    spy = _Spy(embedder._tokenizer)
    embedder._tokenizer = spy
    head = "Employees receive 25 days of annual leave per year. " * 200
    huge = head + "unrelated filler text " * 50_000  # about 1.1 MB
    long_vector, head_vector = embedder.embed([huge, head])
    assert max(spy.lengths) <= 256 * 16
    assert long_vector == pytest.approx(head_vector, abs=1e-6)  # the model read the same tokens


def test_a_megabyte_query_is_cut_before_it_is_tokenized(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    encoder = CrossEncoder(write_cross_encoder(tmp_path))
    spy = _Spy(encoder._tokenizer)
    monkeypatch.setattr(encoder, "_tokenizer", spy)
    query = "annual leave days " * 100_000
    passages = ["annual leave is 25 days", "parking is in the basement"]
    assert (
        encoder.score(query, passages).scores == encoder.score(query[:MAX_CHARS], passages).scores
    )
    assert max(spy.lengths) == MAX_CHARS


def test_a_very_long_thin_image_is_cropped_before_it_is_scaled() -> None:
    thin = Image.new("RGB", (20, 400_000), (200, 30, 30))  # scaled up first: 4,480 x 89.6 M px
    pixels = pixel_values(thin)
    assert pixels.shape == (1, 3, SIDE, SIDE)


def test_a_provider_echoing_the_key_has_it_masked() -> None:
    def echo(request: httpx.Request) -> httpx.Response:
        return httpx.Response(401, text=f"bad key {request.headers['Authorization']}")

    embedder = RemoteEmbedder(
        "openai/text-embedding-3-small",
        "text-embedding-3-small",
        1536,
        "sk-echoed-secret",
        "http://openai.test/v1",
        transport=httpx.MockTransport(echo),
    )
    with pytest.raises(RemoteEmbeddingError, match="HTTP 401") as caught:
        embedder.embed(["a"])
    assert "sk-echoed-secret" not in str(caught.value) and "***" in str(caught.value)
