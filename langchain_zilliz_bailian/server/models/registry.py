"""Which embedder serves a pipeline: contract model names mapped to loaders, loaded once each.

* ``zilliz/bge-base-en-v1.5`` / ``zilliz/bge-base-zh-v1.5``: the BAAI models in ONNX form
  (768-d, CLS pooling), from ``--model-dir`` or the cache under the data dir (see
  :class:`~.files.ModelStore`; fetched from :data:`BGE_SOURCES` URLs only with downloads on);
* ``openai/text-embedding-3-*``, ``voyageai/*``: the providers' HTTP APIs, when
  ``OPENAI_API_KEY`` / ``VOYAGE_API_KEY`` is set;
* ``local/all-MiniLM-L6-v2``, ``local/lexical``, ``local/hybrid``: bundled, always available.

A model that cannot be loaded is served by the server's default embedder only when the operator
allowed it (``fallback``); otherwise :meth:`ModelRegistry.resolve` raises
:class:`~.files.ModelUnavailableError` with a message that says how to make it available.
Collections remember the *served* name (``embedder_name``), and :meth:`ModelRegistry.served`
finds that embedder again for them.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import httpx

from langchain_zilliz_bailian.server.embeddings import Embedder, LexicalEmbedder, embedder_name
from langchain_zilliz_bailian.server.models.files import (
    ModelFile,
    ModelSource,
    ModelStore,
    ModelUnavailableError,
)
from langchain_zilliz_bailian.server.models.hybrid import HybridEmbedder
from langchain_zilliz_bailian.server.models.once import LoadOnce
from langchain_zilliz_bailian.server.models.onnx_text import MiniLMEmbedder, OnnxTextEmbedder
from langchain_zilliz_bailian.server.models.remote import PROVIDERS, RemoteEmbedder

_HF = "https://huggingface.co"


def _bge_source(model: str, repo: str) -> ModelSource:
    directory = model.partition("/")[2]
    return ModelSource(
        model=model,
        directory=directory,
        files=(
            ModelFile("model.onnx", f"{_HF}/{repo}/resolve/main/onnx/model.onnx"),
            ModelFile("tokenizer.json", f"{_HF}/{repo}/resolve/main/tokenizer.json"),
        ),
    )


#: Where the bge models are fetched from (ONNX exports of BAAI/bge-base-*-v1.5, MIT licence).
BGE_SOURCES = {
    "zilliz/bge-base-en-v1.5": _bge_source("zilliz/bge-base-en-v1.5", "Xenova/bge-base-en-v1.5"),
    "zilliz/bge-base-zh-v1.5": _bge_source("zilliz/bge-base-zh-v1.5", "Xenova/bge-base-zh-v1.5"),
}
#: Bundled embedders by short name (``--embedder``) and by model name (a pipeline's ``embedding``).
LOCAL_EMBEDDERS: dict[str, Callable[[], Embedder]] = {
    "minilm": MiniLMEmbedder,
    "lexical": LexicalEmbedder,
    "hybrid": lambda: HybridEmbedder(LexicalEmbedder(), MiniLMEmbedder()),
}
LOCAL_MODELS = {
    "local/all-MiniLM-L6-v2": "minilm",
    "local/lexical": "lexical",
    "local/hybrid": "hybrid",
}
DEFAULT_EMBEDDER = "minilm"


@dataclass(frozen=True)
class Served:
    """The embedder serving a model, its stored name and whether it stands in for another."""

    embedder: Embedder
    name: str
    fallback: bool = False


class ModelRegistry:
    """Resolves model names to loaded embedders (each loaded once, shared by all pipelines)."""

    def __init__(
        self,
        default: Embedder,
        store: ModelStore,
        *,
        fallback: bool = False,
        environ: Mapping[str, str] | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.default = default
        self.store = store
        self.fallback = fallback
        self._environ = dict(os.environ if environ is None else environ)
        self._transport = transport
        self._lock = threading.Lock()  # guards _loaded, never held while loading
        self._loaded: dict[str, Embedder] = {embedder_name(default): default}
        self._by_model: LoadOnce[Embedder] = LoadOnce()  # a download blocks only its own model

    def __repr__(self) -> str:
        return (
            f"ModelRegistry(default={embedder_name(self.default)!r}, fallback={self.fallback}, "
            f"store={self.store!r})"
        )

    @property
    def default_name(self) -> str:
        """Stored name of the default embedder, e.g. ``all-MiniLM-L6-v2-int8/384``."""
        return embedder_name(self.default)

    def resolve(self, model: str) -> Served:
        """The embedder for ``model``, or the default when it cannot load and fallback is on."""
        try:
            embedder = self.load(model)
        except ModelUnavailableError as exc:
            if not self.fallback:
                raise ModelUnavailableError(
                    f"{exc} Or start the server with --embedding-fallback to serve it with the "
                    f"default embedder ({self.default_name})."
                ) from None
            return Served(self.default, self.default_name, fallback=True)
        return Served(embedder, embedder_name(embedder))

    def load(self, model: str) -> Embedder:
        """The embedder of ``model`` itself (no fallback); loaded on first use, then shared.

        Loading one model (possibly a download) never blocks lookups of the others.
        """
        return self._by_model.get(model, lambda: self._shared(self._build(model)))

    def _shared(self, built: Embedder) -> Embedder:
        """An already loaded embedder of the same stored name wins (one session each)."""
        with self._lock:
            return self._loaded.setdefault(embedder_name(built), built)

    def _build(self, model: str) -> Embedder:
        if model in LOCAL_MODELS:
            return LOCAL_EMBEDDERS[LOCAL_MODELS[model]]()
        if model in BGE_SOURCES:
            directory = self.store.locate(BGE_SOURCES[model])
            embedder = OnnxTextEmbedder(
                model.partition("/")[2],
                768,
                directory / "model.onnx",
                directory / "tokenizer.json",
                pooling="cls",
                max_length=512,
            )
            try:
                embedder.load()
            except ModelUnavailableError:
                raise
            except Exception as exc:  # onnxruntime / tokenizers refuse a broken file
                raise ModelUnavailableError(
                    f"Model {model} in {directory} cannot be loaded: {type(exc).__name__}: {exc}"
                ) from None
            return embedder
        for prefix, (key_var, base_var, base_url, models) in PROVIDERS.items():
            if model.startswith(prefix) and model in models:
                key = self._environ.get(key_var, "").strip()
                if not key:
                    raise ModelUnavailableError(
                        f"Model {model} needs {key_var} in the server's environment."
                    )
                provider_model, dim = models[model]
                return RemoteEmbedder(
                    model,
                    provider_model,
                    dim,
                    key,
                    self._environ.get(base_var) or base_url,
                    transport=self._transport,
                )
        raise ModelUnavailableError(f"Model {model} is not known to the local server.")

    def served(self, name: str) -> Embedder:
        """The embedder whose stored name is ``name`` (a collection's ``embedder``).

        Raises :class:`ModelUnavailableError` when this server cannot produce it (a custom
        embedder it was not started with, a model whose files are gone, a missing key).
        """
        with self._lock:
            if name in self._loaded:
                return self._loaded[name]
        for model in (*LOCAL_MODELS, *BGE_SOURCES, *_remote_models()):
            if served_name_of(model) == name:
                return self.load(model)
        raise ModelUnavailableError(
            f"this server runs {self.default_name} and does not know {name}; restart it with "
            "the embedder that built the collection (--embedder), or use a new collection."
        )


def _remote_models() -> list[str]:
    return [model for _, _, _, models in PROVIDERS.values() for model in models]


def served_name_of(model: str) -> str:
    """The stored name a model's own embedder gets (without loading it)."""
    if model in LOCAL_MODELS:
        static = {
            "minilm": "all-MiniLM-L6-v2-int8/384",
            "lexical": "lexical-hash-v1/384",
            "hybrid": "hybrid-lexical0.3-all-MiniLM-L6-v2-int8/768",
        }
        return static[LOCAL_MODELS[model]]
    if model in BGE_SOURCES:
        return f"{model.partition('/')[2]}/768"
    for _, _, _, models in PROVIDERS.values():
        if model in models:
            return f"{model}/{models[model][1]}"
    return ""


def build_registry(
    default: Embedder,
    data_dir: Path,
    *,
    model_dir: Path | None = None,
    allow_download: bool = False,
    fallback: bool = False,
) -> ModelRegistry:
    """The server's registry: cache under ``data_dir/models``, ``model_dir`` looked up first."""
    store = ModelStore(data_dir / "models", model_dir, allow_download=allow_download)
    return ModelRegistry(default, store, fallback=fallback)
