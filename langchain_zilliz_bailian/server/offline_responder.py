"""The built-in responder: extractive answers, no language model (the default of every app).

It quotes the sentences that answer the question (above a relevance floor) from the passages it
is given: the app's knowledge-base passages (cited with ``<ref>[n]</ref>``) when retrieval found
any, otherwise the context a RAG prompt put in the conversation (LlamaIndex's default template,
LangChain system- or user-turn context; see :mod:`.prompt_context`). Recalled long-term memories
come first. With nothing to quote from it echoes the turn, saying what it is.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from anyio import to_thread

from langchain_zilliz_bailian.server.answer import (
    context_answer,
    echo_answer,
    rag_answer,
    split_deltas,
)
from langchain_zilliz_bailian.server.prompt_context import read_prompt
from langchain_zilliz_bailian.server.responder import Delta, Turn, Usage
from langchain_zilliz_bailian.server.text import TokenTally, count_tokens

MODEL_ID = "local-extractive-rag"


def _memory_part(turn: Turn) -> str:
    if not turn.memories:
        return ""
    quoted = " ".join(f'"{fact}"' for fact in turn.memories)
    return f"You told me earlier: {quoted} "


def offline_text(turn: Turn) -> str:
    """The whole answer to ``turn`` (deterministic)."""
    prompt = read_prompt(turn.query, turn.history)
    follow = turn.retrieval_query if turn.retrieval_query != turn.query else ""
    memory = _memory_part(turn)
    if turn.passages:
        text, _ = rag_answer(prompt.question, turn.passages, fallback=follow)
        return memory + text
    answer = context_answer(prompt.question, prompt.passages, fallback=follow)
    if answer is not None:
        return memory + answer
    if memory:
        return memory.rstrip()
    if prompt.has_block:
        return (
            f'The context I was given does not answer "{prompt.question}". (Local offline '
            "responder: it quotes sentences of the context; configure a model for the app to "
            "generate answers.)"
        )
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


def _deltas(turn: Turn) -> list[Delta]:
    """The answer's pieces, each with the usage so far."""
    read = input_tokens(turn)
    emitted = TokenTally()
    deltas = []
    for piece in split_deltas(offline_text(turn)):
        deltas.append(Delta(piece, Usage(MODEL_ID, read, emitted.add(piece))))
    return deltas


class OfflineResponder:
    """Streams :func:`offline_text` in small deltas, ``interval_ms`` apart."""

    def __init__(self, interval_ms: int = 5) -> None:
        self.interval_ms = interval_ms

    async def respond(self, turn: Turn) -> AsyncIterator[Delta]:
        """Yield the extractive answer in pieces with cumulative usage (computed in a worker
        thread: a long prompt costs seconds of CPU that must not stall the event loop)."""
        deltas = await to_thread.run_sync(_deltas, turn)
        for number, delta in enumerate(deltas, start=1):
            yield delta
            if number < len(deltas) and self.interval_ms:
                await asyncio.sleep(self.interval_ms / 1000)
