"""Pydantic models of what the app completion API returns, tolerant of keys we do not know yet.

Every model allows extra keys (the service adds fields without notice) and types loosely where
real responses vary: thoughts carry JSON inside strings, ``index_id`` may arrive as a number,
``usage`` may be ``{}``. ``finish_reason`` is normalised: the string ``"null"`` means "not yet".
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

__all__ = [
    "AppCompletion",
    "AppOutput",
    "AppResponse",
    "AppStreamChunk",
    "AppUsage",
    "DocReference",
    "ModelUsage",
    "Thought",
    "WorkflowMessage",
    "citations",
    "normalize_finish_reason",
]

_NOT_FINISHED = ("", "null", "none")
_CITATION = re.compile(r"<ref>((?:\[[^\]<>]*\])+)</ref>")
_INDEX = re.compile(r"\[([^\]<>]*)\]")


def normalize_finish_reason(value: object) -> str | None:
    """``None`` while generating (``None``, ``""`` or the string ``"null"``), else the reason."""
    if value is None:
        return None
    text = str(value)
    return None if text.strip().lower() in _NOT_FINISHED else text


def citations(text: str) -> list[str]:
    """The ``index_id`` values cited by ``<ref>[1][4]</ref>`` markers in ``text``, in order, once.

    Run it on assembled text: a marker may be split across stream events (``<ref>[4]</`` +
    ``ref>``), so a single delta can hold half of one.
    """
    seen: dict[str, None] = {}
    for marker in _CITATION.finditer(text):
        for index in _INDEX.findall(marker.group(1)):
            seen.setdefault(index.strip(), None)
    return list(seen)


class _Loose(BaseModel):
    """Base for response models: unknown keys are kept (``model_extra``), never rejected."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)


class ModelUsage(_Loose):
    """Tokens one model used for the call (an app may call several models)."""

    model_id: str | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None


class AppUsage(_Loose):
    """``usage``: one entry per model; empty when the app reports none (``"usage": {}``)."""

    models: list[ModelUsage] = Field(default_factory=list)

    @field_validator("models", mode="before")
    @classmethod
    def _none_is_empty(cls, value: object) -> object:
        return [] if value is None else value

    @property
    def input_tokens(self) -> int:
        """Input tokens summed over the models."""
        return sum(m.input_tokens or 0 for m in self.models)

    @property
    def output_tokens(self) -> int:
        """Output tokens summed over the models."""
        return sum(m.output_tokens or 0 for m in self.models)

    @property
    def total_tokens(self) -> int:
        """Input plus output tokens over all models."""
        return self.input_tokens + self.output_tokens

    @property
    def model_id(self) -> str | None:
        """The first model's id, the one that usually wrote the answer."""
        return next((m.model_id for m in self.models if m.model_id), None)


class Thought(_Loose):
    """One retrieval, plugin, memory or reasoning step; several values are JSON inside strings."""

    thought: str | None = None
    action_type: str | None = None
    action_name: str | None = None
    action: str | None = None
    action_input_stream: Any = None
    action_input: Any = None
    observation: Any = None
    response: Any = None
    arguments: Any = None


class DocReference(_Loose):
    """A cited source; ``index_id`` matches ``x`` in the ``<ref>[x]</ref>`` markers of the text."""

    index_id: str | None = None
    title: str | None = None
    doc_id: str | None = None
    doc_name: str | None = None
    doc_url: str | None = None
    text: str | None = None
    biz_id: str | None = None
    images: list[Any] = Field(default_factory=list)
    page_number: list[Any] = Field(default_factory=list)

    @field_validator("index_id", "doc_id", "biz_id", mode="before")
    @classmethod
    def _id_as_text(cls, value: object) -> object:
        return (
            str(value) if isinstance(value, int | float) and not isinstance(value, bool) else value
        )

    @field_validator("images", "page_number", mode="before")
    @classmethod
    def _none_is_empty(cls, value: object) -> object:
        return [] if value is None else value


class WorkflowMessage(_Loose):
    """A workflow node's message (with ``flow_stream_mode="message_format_plus"``)."""

    node_id: str | None = None
    node_name: str | None = None
    node_type: str | None = None
    node_status: str | None = None
    node_is_completed: bool | None = None
    node_msg_seq_id: int | None = None
    message: dict[str, Any] | None = None
    parent_node_id: str | None = None


class AppOutput(_Loose):
    """``output`` of one response or stream event."""

    text: str | None = None
    finish_reason: str | None = None
    session_id: str | None = None
    thoughts: list[Thought] | None = None
    doc_references: list[DocReference] | None = None
    workflow_message: WorkflowMessage | None = None

    @field_validator("finish_reason", mode="before")
    @classmethod
    def _normalize(cls, value: object) -> str | None:
        return normalize_finish_reason(value)


class AppResponse(_Loose):
    """One JSON response, or the data of one stream event, as the server sent it."""

    output: AppOutput | None = None
    usage: AppUsage | None = None
    request_id: str | None = None
    code: str | None = None
    message: str | None = None

    @field_validator("usage", mode="before")
    @classmethod
    def _usage(cls, value: object) -> object:
        return None if value == {} else value


class AppCompletion(_Loose):
    """The result of one app call: the answer and everything the app reported about it.

    ``request_id`` is the first non-empty id from the body (the header's if the body had none);
    ``header_request_id`` is the ``x-request-id`` header, which can differ on streams.
    ``usage`` holds the last values the server reported (they are cumulative, never summed).
    """

    text: str = ""
    finish_reason: str | None = None
    session_id: str | None = None
    thoughts: list[Thought] = Field(default_factory=list)
    doc_references: list[DocReference] = Field(default_factory=list)
    workflow_message: WorkflowMessage | None = None
    usage: AppUsage = Field(default_factory=AppUsage)
    request_id: str | None = None
    header_request_id: str | None = None

    @classmethod
    def from_response(
        cls, response: AppResponse, *, header_request_id: str | None
    ) -> AppCompletion:
        """Build the result of a non-streamed call from its parsed JSON body."""
        output = response.output or AppOutput()
        return cls(
            text=output.text or "",
            finish_reason=output.finish_reason,
            session_id=output.session_id or None,
            thoughts=output.thoughts or [],
            doc_references=output.doc_references or [],
            workflow_message=output.workflow_message,
            usage=response.usage or AppUsage(),
            request_id=response.request_id or header_request_id,
            header_request_id=header_request_id,
            **{k: v for k, v in (output.model_extra or {}).items() if k not in cls.model_fields},
        )

    @property
    def citations(self) -> list[str]:
        """The ``index_id`` values the answer cites, in order of first mention."""
        return citations(self.text)


class AppStreamChunk(BaseModel):
    """One stream event turned into a text delta, with the event itself as the server sent it.

    ``delta`` is the new text only (possibly empty: events may carry only thoughts or a
    workflow message); ``done`` is true on the event that finished the answer.
    """

    delta: str
    done: bool = False
    finish_reason: str | None = None
    event_id: str | None = None
    event: AppResponse
