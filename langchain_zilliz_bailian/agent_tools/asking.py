"""A Bailian app as an agent's tool: ask it a question, optionally in one ongoing session.

An app cannot be described through the API, so its tool is named after its id (or the name the
caller gives) and described by the caller's words plus what every app does. With
``keep_session`` the conversation remembers the ``session_id`` each answer returns and sends it
with the next question, so follow-ups reach the app's server-side history; the memory belongs to
one :class:`AppConversation`, that is to one framework tool instance.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, Field

from langchain_zilliz_bailian.agent_tools.names import tool_name, unique_names
from langchain_zilliz_bailian.bailian import AppCompletion, AppOptions
from langchain_zilliz_bailian.bailian.settings import AppSettings
from langchain_zilliz_bailian.errors import InvalidInputError

__all__ = ["AppConversation", "AppTool", "AskArgs", "app_tools", "format_answer"]


class AskArgs(BaseModel):
    """The arguments a model gives an app tool."""

    question: str = Field(min_length=1, description="The question, in natural language.")
    session_id: str | None = Field(
        default=None,
        description="Optional: the session_id of an earlier answer, to ask a follow-up in that "
        "conversation. Leave it out to start (or, if the tool keeps one, continue) a session.",
    )


@dataclass(frozen=True)
class AppTool:
    """One app as a tool: what the model is told, and the app's settings (shared connection)."""

    app: AppSettings
    name: str
    description: str
    keep_session: bool = False

    def conversation(self) -> AppConversation:
        """A new conversation with the app (a framework tool instance holds one)."""
        return AppConversation(self.app, keep_session=self.keep_session)


class AppConversation:
    """Questions to one app; with ``keep_session``, each continues the session of the last."""

    def __init__(self, app: AppSettings, *, keep_session: bool = False) -> None:
        self.app = app
        self.keep_session = keep_session
        #: The session the next question continues (kept only with ``keep_session``).
        self.session_id: str | None = None
        self._lock = threading.Lock()

    def options(self, question: str, session_id: str | None = None) -> AppOptions:
        """The call's options; a bad question or session id is an :class:`InvalidInputError`."""
        if not isinstance(question, str) or not question.strip():
            raise InvalidInputError(f"question must be a non-empty string, got {question!r}.")
        if session_id is not None and not isinstance(session_id, str):
            raise InvalidInputError(f"session_id must be a string, got {session_id!r}.")
        given = (session_id or "").strip() or None  # models often send "" for "none"
        session = given or (self.session_id if self.keep_session else None)
        return self.app.call_options({}, {"session_id": session} if session else {})

    def _remember(self, completion: AppCompletion) -> AppCompletion:
        if self.keep_session and completion.session_id:
            with self._lock:
                self.session_id = completion.session_id
        return completion

    def ask(self, question: str, session_id: str | None = None) -> tuple[str, dict[str, Any]]:
        """The answer for a model (:func:`format_answer`) and the app's answer metadata."""
        options = self.options(question, session_id)
        completion = self._remember(self.app.client.call(question, **options))
        return format_answer(completion), self.app.answer_metadata(completion, options)

    async def aask(
        self, question: str, session_id: str | None = None
    ) -> tuple[str, dict[str, Any]]:
        """Async twin of :meth:`ask`."""
        options = self.options(question, session_id)
        completion = self._remember(await self.app.client.acall(question, **options))
        return format_answer(completion), self.app.answer_metadata(completion, options)


def format_answer(completion: AppCompletion) -> str:
    """The answer's text, its numbered sources and the session to continue, for a model."""
    parts = [completion.text.strip() or "(The app gave an empty answer.)"]
    sources: list[str] = []
    for ref in completion.doc_references:
        label = ref.title or ref.doc_name or ref.doc_id or "untitled"
        where = f" ({ref.doc_name})" if ref.doc_name and ref.doc_name != label else ""
        sources.append(f"[{ref.index_id or len(sources) + 1}] {label}{where}")
    if sources:
        parts.append("Sources:\n" + "\n".join(sources))
    if completion.session_id:
        parts.append(f"session_id: {completion.session_id}")
    return "\n\n".join(parts)


def _description(app_id: str, about: str | None, keep_session: bool) -> str:
    lines = [f"Ask the Bailian app {app_id} a question."]
    if about:
        lines.append(about.strip())
    lines.append(
        "The app answers in natural language from its own knowledge bases, plugins and tools, "
        "citing its sources."
    )
    lines.append(
        "Follow-up questions continue the same conversation."
        if keep_session
        else "To ask a follow-up, pass the session_id its last answer gave."
    )
    return " ".join(lines)


def app_tools(
    apps: Sequence[AppSettings],
    *,
    descriptions: Mapping[str, str] | None = None,
    names: Mapping[str, str] | None = None,
    keep_sessions: bool = False,
    taken: Sequence[str] = (),
) -> list[AppTool]:
    """One tool an app: named ``ask_<name or app id>``, unique among them and ``taken``."""
    descriptions, names = descriptions or {}, names or {}
    for label, given in (("descriptions", descriptions), ("names", names)):
        unknown = set(given) - {app.app_id for app in apps}
        if unknown:
            raise InvalidInputError(f"{label} names app ids not given: {sorted(unknown)}.")
    raw = [tool_name(names.get(a.app_id, a.app_id), prefix="ask", fallback=a.app_id) for a in apps]
    unique = unique_names(raw, taken=taken)
    return [
        AppTool(
            app,
            name,
            _description(app.app_id, descriptions.get(app.app_id), keep_sessions),
            keep_sessions,
        )
        for app, name in zip(apps, unique, strict=True)
    ]
