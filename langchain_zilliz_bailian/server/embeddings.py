"""The embedder protocol of the local server, the lexical embedder and ``--embedder`` specs.

The server's default embedder is semantic: all-MiniLM-L6-v2 on onnxruntime
(:class:`~.models.onnx_text.MiniLMEmbedder`, bundled, no torch, no download). The
:class:`LexicalEmbedder` here stays a named option (``--embedder lexical``): it hashes stemmed
unigrams and bigrams into a fixed-size signed vector (sublinear TF, L2-normalised), so cosine
similarity measures word overlap. Any object satisfying :class:`Embedder` can replace the default
(``--embedder module:callable``).
"""

from __future__ import annotations

import hashlib
import importlib
import itertools
import math
from collections import Counter
from typing import Any, Protocol, runtime_checkable

from langchain_zilliz_bailian.server.text import STOP_WORDS, is_cjk, stem, words


@runtime_checkable
class Embedder(Protocol):
    """What the server needs from an embedding model: a fixed dimension and a batch embed call."""

    @property
    def dim(self) -> int:
        """Vector dimension."""
        ...

    def embed(self, texts: list[str]) -> list[list[float]]:
        """Embed ``texts``; vectors should be L2-normalised (the collections use COSINE)."""
        ...


class LexicalEmbedder:
    """Deterministic hashed bag of stemmed unigrams + bigrams (signed hashing, sublinear TF)."""

    name = "lexical-hash-v1"

    def __init__(self, dim: int = 384) -> None:
        self._dim = dim

    @property
    def dim(self) -> int:
        """Vector dimension (384 by default)."""
        return self._dim

    def _features(self, text: str) -> Counter[str]:
        toks = words(text)
        feats: Counter[str] = Counter()
        content: list[str] = []
        for tok in toks:
            if is_cjk(tok):
                content.append(tok)
            elif tok not in STOP_WORDS:
                content.append(stem(tok))
        for term in content:
            feats["u:" + term] += 1
        for left, right in itertools.pairwise(content):
            feats["b:" + left + " " + right] += 1
        return feats

    def _embed_one(self, text: str) -> list[float]:
        vec = [0.0] * self._dim
        for feat, tf in self._features(text).items():
            digest = hashlib.blake2b(feat.encode("utf-8"), digest_size=8).digest()
            h = int.from_bytes(digest, "little")
            sign = 1.0 if (h >> 63) & 1 else -1.0
            weight = (1.0 + math.log(tf)) * (0.6 if feat.startswith("b:") else 1.0)
            vec[h % self._dim] += sign * weight
        norm = math.sqrt(sum(v * v for v in vec))
        if norm == 0.0:
            # Texts without any content word still need a valid unit vector for COSINE.
            vec[0] = 1.0
            return vec
        return [v / norm for v in vec]

    def embed(self, texts: list[str]) -> list[list[float]]:
        """Embed a batch of texts."""
        return [self._embed_one(t) for t in texts]


def embedder_name(embedder: Embedder) -> str:
    """A stable identifier stored with each collection, so a changed embedder is detected."""
    name = getattr(embedder, "name", None) or type(embedder).__qualname__
    return f"{name}/{embedder.dim}"


#: ``--embedder`` names of the bundled embedders (the first is the default).
NAMED_EMBEDDERS = ("minilm", "lexical", "hybrid")


def load_embedder(spec: str | Embedder | None) -> Embedder:
    """Resolve ``None`` (the default, MiniLM), a bundled name (:data:`NAMED_EMBEDDERS`) or
    ``"module:callable"`` (class, factory or instance)."""
    if spec is None:
        spec = NAMED_EMBEDDERS[0]
    if not isinstance(spec, str):
        return spec
    if spec in NAMED_EMBEDDERS:
        from langchain_zilliz_bailian.server.models.registry import LOCAL_EMBEDDERS

        return LOCAL_EMBEDDERS[spec]()
    module_name, sep, attr = spec.partition(":")
    if not sep or not module_name or not attr:
        names = ", ".join(repr(n) for n in NAMED_EMBEDDERS)
        raise ValueError(f"embedder must be one of {names} or 'module:callable', got {spec!r}")
    target: Any = importlib.import_module(module_name)
    for part in attr.split("."):
        target = getattr(target, part)
    if isinstance(target, type) or (callable(target) and not isinstance(target, Embedder)):
        target = target()
    obj = target
    if not isinstance(obj, Embedder):
        raise TypeError(f"{spec!r} did not produce an object with `dim` and `embed()`")
    return obj
