"""The seam between an app and what writes its answer.

A :class:`Responder` gets one :class:`Turn` (the app, the conversation, the numbered passages
retrieved for it and any recalled long-term memories) and yields :class:`Delta` text pieces as
they are produced, each with the usage so far. The app service turns them into Bailian JSON or
SSE events; text may cite passage ``n`` with ``<ref>[n]</ref>`` and the cited passages become
``doc_references``. A responder raising :class:`~.errors.BailianError` before its first delta
gives an error envelope, after it an ``event:error`` frame.

:func:`choose_responder` picks one per app: the offline extractive responder unless the app has
a model endpoint (which an OpenAI-compatible responder answers).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Protocol

from langchain_zilliz_bailian.server.answer import Passage
from langchain_zilliz_bailian.server.apps import AppSpec


@dataclass(frozen=True)
class Usage:
    """Cumulative token usage of one model, as ``usage.models[]`` reports it."""

    model_id: str
    input_tokens: int
    output_tokens: int


@dataclass(frozen=True)
class Delta:
    """A piece of answer text and the usage so far (None: unchanged since the last delta);
    ``reasoning`` is a piece of a thinking model's reasoning (shown as a ``reasoning`` thought)."""

    text: str
    usage: Usage | None = None
    reasoning: str = ""


@dataclass(frozen=True)
class Turn:
    """Everything a responder may read to answer one user turn."""

    app: AppSpec
    #: The user turn being answered (the text of the last user message).
    query: str
    #: Earlier messages, oldest first (``role`` system/user/assistant, ``content``): the client's
    #: ``messages`` or the stored session; the app's own system prompt is in ``app``.
    history: list[dict[str, str]] = field(default_factory=list)
    #: Knowledge-base passages; ``index_id`` is the ``n`` of ``<ref>[n]</ref>``.
    passages: list[Passage] = field(default_factory=list)
    #: Facts recalled from the ``memory_id``'s long-term memory, most relevant first.
    memories: list[str] = field(default_factory=list)
    #: The query retrieval ran with (the turn, plus earlier user turns for a follow-up).
    retrieval_query: str = ""
    #: The request's ``temperature`` / ``top_p`` / ``seed`` (a model app passes them on).
    sampling: dict[str, float | int] = field(default_factory=dict)


class Responder(Protocol):
    """Writes the answer to one turn, streaming."""

    def respond(self, turn: Turn) -> AsyncIterator[Delta]:
        """Yield the answer as it is produced; raise ``BailianError`` on failure."""
        ...


def choose_responder(app: AppSpec, offline: Responder, model: Responder) -> Responder:
    """The responder for ``app``: ``model`` (OpenAI-compatible) when the app names a model
    endpoint, else ``offline``."""
    return model if app.model is not None else offline
