"""An ONNX cross-encoder (``zilliz/bge-reranker-base``): scores (query, passage) pairs.

The model directory holds ``model.onnx`` and ``tokenizer.json``, as exported from
``BAAI/bge-reranker-base``: inputs ``input_ids`` and ``attention_mask`` (``token_type_ids`` too
when the graph declares it), output ``logits`` of shape ``(batch, 1)``. A pair's score is
``sigmoid(logit)``, a relevance in (0, 1) like the hosted reranker's (0.9997, 0.078, ...).
Nothing is downloaded here: the caller finds the directory.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from langchain_zilliz_bailian.server.models.onnx_text import open_session

MAX_PAIR_TOKENS = 512
BATCH_SIZE = 16
#: Characters of a query or passage kept before tokenizing (far more than the model reads).
MAX_CHARS = 8192


class CrossEncoderError(Exception):
    """The model directory is incomplete or its files cannot be loaded."""


@dataclass(frozen=True)
class PairScores:
    """Scores of the pairs, in input order, and the tokens the model read (for usage)."""

    scores: list[float]
    tokens: int


def _sigmoid(x: float) -> float:
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    z = math.exp(x)
    return z / (1.0 + z)


class CrossEncoder:
    """A loaded cross-encoder; :meth:`score` is thread-safe (one ONNX session, serialised)."""

    def __init__(self, directory: Path) -> None:
        from tokenizers import Tokenizer

        graph, tokenizer = directory / "model.onnx", directory / "tokenizer.json"
        if not graph.is_file() or not tokenizer.is_file():
            raise CrossEncoderError(f"{directory} needs model.onnx and tokenizer.json.")
        try:
            self._tokenizer = Tokenizer.from_file(str(tokenizer))
            self._session = open_session(graph)
        except Exception as exc:  # onnxruntime and tokenizers raise their own types
            raise CrossEncoderError(f"Cannot load the cross-encoder in {directory}: {exc}") from exc
        self.directory = directory
        self._inputs = {i.name for i in self._session.get_inputs()}
        missing = {"input_ids", "attention_mask"} - self._inputs
        if missing:
            raise CrossEncoderError(f"{graph} lacks the inputs {sorted(missing)}.")
        outputs = [o.name for o in self._session.get_outputs()]
        self._output = "logits" if "logits" in outputs else outputs[0]
        self._tokenizer.enable_truncation(MAX_PAIR_TOKENS)
        # Pad to the longest pair of a batch with the tokenizer's own pad token (XLM-R: <pad>).
        padding = self._tokenizer.padding or {}
        vocab = self._tokenizer.get_vocab()
        pad_token = padding.get("pad_token") or next(
            (t for t in ("<pad>", "[PAD]") if t in vocab), "[PAD]"
        )
        pad_id = padding.get("pad_id", vocab.get(pad_token, 0))
        self._tokenizer.enable_padding(pad_id=pad_id, pad_token=pad_token)
        self._lock = threading.Lock()

    def score(self, query: str, passages: Sequence[str]) -> PairScores:
        """``sigmoid(logit)`` of each (query, passage) pair."""
        scores: list[float] = []
        tokens = 0
        # The model reads at most a few hundred tokens: cut the texts before tokenizing, so a
        # megabyte query does not cost seconds per pair.
        query = query[:MAX_CHARS]
        for start in range(0, len(passages), BATCH_SIZE):
            batch = [(query, p[:MAX_CHARS]) for p in passages[start : start + BATCH_SIZE]]
            logits, used = self._run(batch)
            scores.extend(_sigmoid(x) for x in logits)
            tokens += used
        return PairScores(scores, tokens)

    def _run(self, pairs: list[tuple[str, str]]) -> tuple[list[float], int]:
        import numpy as np

        encodings = self._tokenizer.encode_batch(pairs)
        feeds: dict[str, Any] = {
            "input_ids": np.array([e.ids for e in encodings], dtype=np.int64),
            "attention_mask": np.array([e.attention_mask for e in encodings], dtype=np.int64),
        }
        if "token_type_ids" in self._inputs:
            feeds["token_type_ids"] = np.array([e.type_ids for e in encodings], dtype=np.int64)
        with self._lock:
            (logits,) = self._session.run([self._output], feeds)
        flat = np.asarray(logits, dtype=np.float64).reshape(len(pairs), -1)[:, 0]
        return [float(x) for x in flat], int(feeds["attention_mask"].sum())
