"""The built-in responder: extractive answers, no language model (the default of every app).

It quotes the sentences of the passages it is given that answer the question (above a relevance
floor), citing knowledge-base passages with ``<ref>[n]</ref>``; without knowledge-base passages
it reads the context a RAG prompt put in the conversation; with neither it echoes the turn.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from langchain_zilliz_bailian.server.answer import echo_answer, rag_answer, split_deltas
from langchain_zilliz_bailian.server.responder import Delta, Turn, Usage
from langchain_zilliz_bailian.server.text import count_tokens

MODEL_ID = "local-extractive-rag"


def offline_text(turn: Turn) -> str:
    """The whole answer to ``turn`` (deterministic)."""
    if turn.passages:
        text, _ = rag_answer(turn.query, turn.passages)
        return text
    previous = next((m["content"] for m in reversed(turn.history) if m["role"] == "user"), None)
    return echo_answer(turn.query, previous)


def input_tokens(turn: Turn) -> int:
    """Tokens a model would have read: prompt, conversation, passages and memories."""
    return (
        count_tokens(turn.app.system_prompt)
        + sum(count_tokens(m["content"]) for m in turn.history)
        + count_tokens(turn.query)
        + sum(count_tokens(p.text) for p in turn.passages)
        + sum(count_tokens(m) for m in turn.memories)
    )


class OfflineResponder:
    """Streams :func:`offline_text` in small deltas, ``interval_ms`` apart."""

    def __init__(self, interval_ms: int = 5) -> None:
        self.interval_ms = interval_ms

    async def respond(self, turn: Turn) -> AsyncIterator[Delta]:
        """Yield the extractive answer in pieces with cumulative usage."""
        text = offline_text(turn)
        read = input_tokens(turn)
        emitted = ""
        pieces = split_deltas(text)
        for number, piece in enumerate(pieces, start=1):
            emitted += piece
            yield Delta(piece, Usage(MODEL_ID, read, count_tokens(emitted)))
            if number < len(pieces) and self.interval_ms:
                await asyncio.sleep(self.interval_ms / 1000)
