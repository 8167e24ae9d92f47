"""Embeddings from a provider's HTTP API (OpenAI, Voyage AI), used when its key is configured.

Both providers take ``POST {base}/embeddings`` with ``{"model", "input": [...]}`` and answer
``{"data": [{"index", "embedding"}, ...]}``. Errors become :class:`RemoteEmbeddingError`, whose
message never holds the key. ``transport`` lets tests answer with a stub instead of the network.
"""

from __future__ import annotations

import threading
from typing import Any

import httpx


class RemoteEmbeddingError(Exception):
    """The provider refused or failed an embedding request."""


class RemoteEmbedder:
    """Batched calls to an OpenAI-compatible ``/embeddings`` endpoint; one pooled client."""

    def __init__(
        self,
        name: str,
        model: str,
        dim: int,
        api_key: str,
        base_url: str,
        *,
        batch_size: int = 128,
        extra_body: dict[str, Any] | None = None,
        transport: httpx.BaseTransport | None = None,
        timeout_s: float = 60.0,
    ) -> None:
        self.name = name
        self._model = model
        self._dim = dim
        self.__api_key = api_key
        self._base_url = base_url.rstrip("/")
        self._batch_size = batch_size
        self._extra_body = dict(extra_body or {})
        self._transport = transport
        self._timeout_s = timeout_s
        self._client: httpx.Client | None = None
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r}, dim={self._dim}, api_key='***')"

    @property
    def dim(self) -> int:
        """Vector dimension of the provider's model."""
        return self._dim

    def _http(self) -> httpx.Client:
        with self._lock:
            if self._client is None:
                self._client = httpx.Client(
                    base_url=self._base_url,
                    transport=self._transport,
                    timeout=self._timeout_s,
                    headers={"Authorization": f"Bearer {self.__api_key}"},
                )
            return self._client

    def embed(self, texts: list[str]) -> list[list[float]]:
        """One request per ``batch_size`` texts; vectors in input order."""
        out: list[list[float]] = []
        for start in range(0, len(texts), self._batch_size):
            out.extend(self._request(texts[start : start + self._batch_size]))
        return out

    def _request(self, texts: list[str]) -> list[list[float]]:
        body = {"model": self._model, "input": texts, **self._extra_body}
        try:
            response = self._http().post("/embeddings", json=body)
        except httpx.HTTPError as exc:
            raise RemoteEmbeddingError(
                f"{self.name}: request failed: {type(exc).__name__}"
            ) from None
        if response.status_code != 200:
            raise RemoteEmbeddingError(
                f"{self.name}: the provider answered HTTP {response.status_code}: "
                f"{_scrubbed(response.text, self.__api_key)[:200]}"
            )
        try:
            items = sorted(response.json()["data"], key=lambda item: item["index"])
            vectors = [[float(x) for x in item["embedding"]] for item in items]
        except (ValueError, KeyError, TypeError):
            raise RemoteEmbeddingError(f"{self.name}: unexpected response shape") from None
        if len(vectors) != len(texts) or any(len(v) != self._dim for v in vectors):
            raise RemoteEmbeddingError(
                f"{self.name}: expected {len(texts)} vectors of {self._dim} dimensions"
            )
        return vectors


#: ``(provider model, dimension)`` per contract name, and each provider's key variable and base.
OPENAI_MODELS = {
    "openai/text-embedding-3-small": ("text-embedding-3-small", 1536),
    "openai/text-embedding-3-large": ("text-embedding-3-large", 3072),
}
VOYAGE_MODELS = {
    "voyageai/voyage-2": ("voyage-2", 1024),
    "voyageai/voyage-code-2": ("voyage-code-2", 1536),
    "voyageai/voyage-large-2": ("voyage-large-2", 1536),
}
PROVIDERS = {
    "openai/": ("OPENAI_API_KEY", "OPENAI_BASE_URL", "https://api.openai.com/v1", OPENAI_MODELS),
    "voyageai/": (
        "VOYAGE_API_KEY",
        "VOYAGE_BASE_URL",
        "https://api.voyageai.com/v1",
        VOYAGE_MODELS,
    ),
}


def _scrubbed(text: str, secret: str) -> str:
    """``text`` with ``secret`` masked (a provider or proxy may echo the key it was sent)."""
    return text.replace(secret, "***") if secret else text
