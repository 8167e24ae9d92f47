"""Turning the app's SSE events into text deltas and one assembled result, with no I/O.

The rules come from the service's quirks: text is incremental when we ask for it but may arrive
cumulative anyway (then it is diffed, never duplicated); ``doc_references`` and ``thoughts``
repeat in full and replace what came before; ``usage`` is cumulative, so the last value wins;
``finish_reason`` is the string ``"null"`` until the end; ``session_id`` is kept when non-empty,
``request_id`` from the first event that has one. Nothing is held back: each event's delta is
returned by :meth:`StreamAssembler.feed` as soon as the event is fed.
"""

from __future__ import annotations

import json
import logging
import warnings
from typing import Any, Literal

from pydantic import ValidationError

from langchain_zilliz_bailian._sse import SSEvent
from langchain_zilliz_bailian.bailian._errors import error_from_data, error_from_event
from langchain_zilliz_bailian.bailian.models import (
    AppCompletion,
    AppResponse,
    AppStreamChunk,
    AppUsage,
    DocReference,
    Thought,
    WorkflowMessage,
)
from langchain_zilliz_bailian.errors import ResponseFormatError

__all__ = ["CumulativeStreamWarning", "StreamAssembler"]

logger = logging.getLogger("langchain_zilliz_bailian")

#: Event names that carry a result (``message`` is what an unnamed event is called).
_RESULT_EVENTS = frozenset({"result", "message", "data"})


class CumulativeStreamWarning(UserWarning):
    """The server sent cumulative text where deltas were asked for, or rewrote earlier text."""


def _common_prefix_length(a: str, b: str) -> int:
    n = min(len(a), len(b))
    i = 0
    while i < n and a[i] == b[i]:
        i += 1
    return i


class StreamAssembler:
    """Feed it events in order; it returns each event's delta and keeps the assembled state.

    ``incremental`` says what was asked for: ``True`` (``incremental_output: true``) expects
    deltas but switches to diffing when the second text event repeats the first (a server that
    ignored the flag); ``False`` diffs from the start.
    """

    def __init__(self, *, incremental: bool = True, header_request_id: str | None = None) -> None:
        self._mode: Literal["incremental", "cumulative"] | None = (
            None if incremental else "cumulative"
        )
        self._parts: list[str] = []
        self._delivered = ""  # only tracked until the mode is known
        self._server_text = ""  # the last cumulative text the server sent
        self.header_request_id = header_request_id
        self.request_id: str | None = None
        self.session_id: str | None = None
        self.finish_reason: str | None = None
        self.thoughts: list[Thought] = []
        self.doc_references: list[DocReference] = []
        self.workflow_message: WorkflowMessage | None = None
        self.usage: AppUsage = AppUsage()
        self.extra: dict[str, Any] = {}
        self.events = 0

    @property
    def done(self) -> bool:
        """Whether the finishing event (any ``finish_reason`` but ``"null"``) has arrived."""
        return self.finish_reason is not None

    @property
    def text(self) -> str:
        """All text handed on so far."""
        return "".join(self._parts)

    @property
    def completion(self) -> AppCompletion:
        """The result assembled so far (complete once :attr:`done`)."""
        return AppCompletion(
            text=self.text,
            finish_reason=self.finish_reason,
            session_id=self.session_id,
            thoughts=list(self.thoughts),
            doc_references=list(self.doc_references),
            workflow_message=self.workflow_message,
            usage=self.usage,
            request_id=self.request_id or self.header_request_id,
            header_request_id=self.header_request_id,
            **{k: v for k, v in self.extra.items() if k not in AppCompletion.model_fields},
        )

    # -- feeding ------------------------------------------------------------------------------

    def feed(self, event: SSEvent) -> AppStreamChunk | None:
        """Apply one event; return its chunk, ``None`` for events to skip, or raise its error."""
        if event.event == "error" or (event.status is not None and event.status >= 400):
            raise error_from_event(event, header_request_id=self.header_request_id)
        if event.event not in _RESULT_EVENTS or event.data.strip() in ("", "[DONE]"):
            logger.debug("Skipping SSE event %r", event.event)
            return None
        data = self._json(event)
        if data.get("code"):
            raise error_from_data(
                data,
                status_code=event.status,
                header_request_id=self.header_request_id,
                body=event.data,
            )
        return self.feed_response(self._validate(data, event), event_id=event.id or None)

    def feed_response(
        self, response: AppResponse, *, event_id: str | None = None
    ) -> AppStreamChunk:
        """Apply one parsed event (or a whole JSON answer) and return its chunk."""
        self.events += 1
        if response.request_id and not self.request_id:
            self.request_id = response.request_id
        if response.usage is not None and response.usage.models:
            self.usage = response.usage
        output = response.output
        delta = ""
        finish_reason = None
        if output is not None:
            finish_reason = output.finish_reason
            if output.session_id:
                self.session_id = output.session_id
            if output.thoughts:
                self.thoughts = list(output.thoughts)
            if output.doc_references:
                self.doc_references = list(output.doc_references)
            if output.workflow_message is not None:
                self.workflow_message = output.workflow_message
            self.extra.update(output.model_extra or {})
            delta = self._delta(output.text or "", final=finish_reason is not None)
            if finish_reason is not None:
                self.finish_reason = finish_reason
        return AppStreamChunk(
            delta=delta,
            done=finish_reason is not None,
            finish_reason=finish_reason,
            event_id=event_id,
            event=response,
        )

    # -- text ---------------------------------------------------------------------------------

    def _delta(self, text: str, *, final: bool) -> str:
        if not text:
            return ""
        if self._mode is None:
            if not self._delivered:
                self._delivered = text
                self._server_text = text
                self._parts.append(text)
                return text
            if text.startswith(self._delivered) and len(text) > len(self._delivered):
                self._mode = "cumulative"
                warnings.warn(
                    "The app sent cumulative text although incremental output was requested; "
                    "turning it into deltas.",
                    CumulativeStreamWarning,
                    stacklevel=4,
                )
            else:
                self._mode = "incremental"
                self._delivered = ""
        if self._mode == "incremental":
            if final and len(self._parts) > 1 and text == self.text:
                # A closing event that repeats the whole answer is a recap, not new text.
                return ""
            self._parts.append(text)
            return text
        previous = self._server_text
        self._server_text = text
        if text.startswith(previous):
            delta = text[len(previous) :]
        else:
            delta = text[_common_prefix_length(previous, text) :]
            warnings.warn(
                "The app rewrote text it had already sent; handing on only the part after "
                "what the two versions share.",
                CumulativeStreamWarning,
                stacklevel=4,
            )
        if delta:
            self._parts.append(delta)
        return delta

    # -- parsing ------------------------------------------------------------------------------

    def _json(self, event: SSEvent) -> dict[str, Any]:
        try:
            data = json.loads(event.data)
        except ValueError:
            data = None
        if not isinstance(data, dict):
            raise ResponseFormatError(
                f"Stream event {event.id or '?'} is not a JSON object: {event.data[:200]!r}",
                status_code=event.status,
                request_id=self.request_id or self.header_request_id,
                body=event.data,
            )
        return data

    def _validate(self, data: dict[str, Any], event: SSEvent) -> AppResponse:
        try:
            return AppResponse.model_validate(data)
        except ValidationError as exc:
            raise ResponseFormatError(
                f"Unexpected shape of stream event {event.id or '?'}: {exc.errors()[0]['msg']}",
                status_code=event.status,
                request_id=self.request_id or self.header_request_id,
                body=event.data,
            ) from exc
