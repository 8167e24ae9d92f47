"""Turning the app's SSE events into text deltas and one assembled result, with no I/O.

The rules come from the Bailian contract (``docs/contract/bailian.md``): ``doc_references`` and
``thoughts`` repeat in full and replace what came before (B7); ``usage`` is cumulative, so the
last value wins (B9); ``finish_reason`` is the string ``"null"`` until the end (B1);
``session_id`` is kept when non-empty (B14), ``request_id`` from the first event that has one
(B13).

Text (B5). Without ``incremental_output`` every event repeats the whole text so far; with it,
events carry deltas and the last event has empty text, but a server may ignore the flag, and some
deltas look like cumulative text by chance (``"1"`` then ``"1. Milvus"``; ``"Ha"`` then ``"Ha"``;
a hundred ``"tok "`` in a row). A delta handed on cannot be taken back, so the assembler keeps the
last raw text the server sent (``R``) and the text handed on (``A``) and reads each non-empty
event text ``T`` like this:

* **Not asked for deltas** (``incremental=False``): every event is cumulative. The delta is
  ``T[len(R):]`` when ``T`` starts with ``R`` (nothing when ``T == R``); otherwise the server
  rewrote earlier text, and the part after the longest common prefix of ``R`` and ``T`` is
  handed on with a :class:`CumulativeStreamWarning`. Never ``str.replace``.
* **Asked for deltas**, while the mode is still open: the first text is handed on as it is (both
  readings agree). An event that does not start with ``R`` proves the stream incremental. An
  event that repeats ``R`` or extends it is ambiguous, and the deliberate choice is that, deltas
  having been asked for, it is **most likely a delta, not a repeat**: it is never dropped, only
  **held back until the next text event**, which settles it:

  - the next text does not start with the held one, or the stream ends with the empty final event
    (B5): incremental, and the held text is handed on as a delta (``"Ha"``, ``"Ha"``, ``"!"``);
  - the next text strictly extends the held one (two extensions in a row, or a repeat then
    growth): cumulative (``"Hello"``, ``"Hello"``, ``"Hello world"``);
  - the next text equals the held one: cumulative if the held text had grown (growth, then a
    repeat), incremental if it was itself a repeat (the same token three times: ``"tok "``...);
  - the final event carries text that repeats or extends the held one: cumulative, since an
    incremental stream ends with empty text and a cumulative one with the whole answer.

  A final event that is the first to repeat or extend ``R`` is read the same way: a repeat of the
  text so far is a closing recap and adds nothing, an extension is the cumulative whole answer.
* **Incremental, settled**: every text is appended, also one that starts with or equals the text
  so far, except a final event repeating the whole text (``T == A``, a closing recap).
* **Cumulative, settled** (warned once): as in the first case, the longest-common-prefix fallback
  included.

Hence the final text is the server's last cumulative text in cumulative streams and the
concatenation of the deltas in incremental streams, except for the patterns a cumulative stream
also produces, which are read as cumulative: before the mode is settled, a delta that extends the
previous one followed by a delta that extends or repeats it (``"1"``, ``"1. Milvus"``,
``"1. Milvus the"``), or a repeated delta followed by a longer one starting with it (``"Ha"``,
``"Ha"``, ``"Ha!"``). At most one event's text is ever held, only in this ambiguous spot. A stream
that breaks off while a delta is held back drops that delta rather than guess
(:attr:`StreamAssembler.holding` tells; the client's truncation and deadline errors say so).
Every other event's delta is returned by :meth:`StreamAssembler.feed` as soon as the event is fed.
"""

from __future__ import annotations

import json
import logging
import warnings
from typing import Any, Literal

from pydantic import ValidationError

from langchain_zilliz_bailian._http.sse import SSEvent
from langchain_zilliz_bailian.bailian.envelope import error_from_data, error_from_event
from langchain_zilliz_bailian.bailian.models import (
    AppCompletion,
    AppResponse,
    AppStreamChunk,
    AppUsage,
    DocReference,
    Thought,
    WorkflowMessage,
)
from langchain_zilliz_bailian.errors import CumulativeStreamWarning, ResponseFormatError

__all__ = ["StreamAssembler"]

logger = logging.getLogger("langchain_zilliz_bailian")

#: Event names that carry a result (``message`` is what an unnamed event is called).
_RESULT_EVENTS = frozenset({"result", "message", "data"})


def _common_prefix_length(a: str, b: str) -> int:
    n = min(len(a), len(b))
    i = 0
    while i < n and a[i] == b[i]:
        i += 1
    return i


class StreamAssembler:
    """Feed it events in order; it returns each event's delta and keeps the assembled state.

    ``incremental`` says what was asked for: ``True`` (``incremental_output: true``) expects
    deltas but turns cumulative text into deltas once the stream shows it is cumulative;
    ``False`` reads every event as cumulative. The rules are in the module docstring.
    """

    def __init__(self, *, incremental: bool = True, header_request_id: str | None = None) -> None:
        self._mode: Literal["incremental", "cumulative"] | None = (
            None if incremental else "cumulative"
        )
        self._parts: list[str] = []
        self._length = 0  # of the text handed on
        self._server_text = ""  # the last non-empty text the server sent
        self._held: str | None = None  # an ambiguous text, read once the next text arrives
        self._held_repeat = False  # the held text repeated the previous one (rather than grew)
        self._warned = False
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
    def holding(self) -> bool:
        """Whether an ambiguous event's text is held back until the next text event."""
        return self._held is not None

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
        try:  # the usual event: parsed and validated in one pass
            response = AppResponse.model_validate_json(event.data)
        except ValidationError:
            response = None
        if response is None or response.code:  # read it again to say what is wrong
            data = self._json(event)
            if data.get("code"):
                raise error_from_data(
                    data,
                    status_code=event.status,
                    header_request_id=self.header_request_id,
                    body=event.data,
                )
            response = self._validate(data, event)
        return self.feed_response(response, event_id=event.id or None)

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
        if self._mode == "cumulative":
            return self._cumulative(text) if text else ""
        if self._mode == "incremental":
            return self._incremental(text, final=final) if text else ""
        held = self._held
        if held is not None:
            if not text:
                if not final:
                    return ""  # an event with thoughts only says nothing about the text
                self._held = None
                self._settle("incremental")  # an incremental stream ends with empty text (B5)
                return self._incremental(held)
            self._held = None
            if text.startswith(held) and (
                final or len(text) > len(held) or not self._held_repeat
            ):  # growth after a repeat or an extension, a repeat after growth, a closing text
                self._settle("cumulative")
                return self._cumulative(held) + self._cumulative(text)
            self._settle("incremental")  # not an extension, or the same text a third time
            return self._incremental(held) + self._incremental(text, final=final)
        if not text:
            return ""
        if not self._length:  # the first text reads the same either way
            return self._incremental(text)
        if not text.startswith(self._server_text):
            self._settle("incremental")
            return self._incremental(text, final=final)
        if final:
            if self._is_whole(text):
                return ""  # a closing recap: nothing new under either reading
            self._settle("cumulative")  # an incremental stream would end with empty text (B5)
            return self._cumulative(text)
        # "Ha" then "Ha", "1" then "1. Milvus": a delta, or the text so far? The next text says.
        self._held = text
        self._held_repeat = text == self._server_text
        return ""

    def _is_whole(self, text: str) -> bool:
        """Whether ``text`` is the whole text handed on so far (joined only when lengths match)."""
        return len(text) == self._length and text == self.text

    def _settle(self, mode: Literal["incremental", "cumulative"]) -> None:
        self._mode = mode
        if mode == "cumulative":
            self._warn_cumulative()

    def _warn_cumulative(self) -> None:
        if not self._warned:
            self._warned = True
            warnings.warn(
                "The app sent cumulative text although incremental output was requested; "
                "turning it into deltas.",
                CumulativeStreamWarning,
                stacklevel=2,
            )

    def _incremental(self, text: str, *, final: bool = False) -> str:
        """Append a delta, unless it is a final event repeating the whole text (a recap)."""
        if final and self._is_whole(text):
            return ""
        self._length += len(text)
        self._server_text = text
        self._parts.append(text)
        return text

    def _cumulative(self, text: str) -> str:
        """The part of a cumulative text that is new since the server's previous text."""
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
                stacklevel=2,
            )
        if delta:
            self._length += len(delta)
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
