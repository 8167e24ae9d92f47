"""Bailian (DashScope) app completion: ``POST /api/v1/apps/{app_id}/completion``, JSON and SSE.

The app id is resolved through the :class:`~.apps.AppCatalog` (unknown ids: 404 ``NotFound``).
A turn loads the conversation (``messages``, or the stored ``session_id`` history), retrieves from
the app's knowledge bases (or ``rag_options.pipeline_ids``) with a conversation-aware query,
recalls ``memory_id`` facts, then hands a :class:`~.responder.Turn` to the app's responder and
renders its deltas as JSON or SSE; cited passages become ``doc_references``. Shapes and SSE bytes
follow the recorded real exchanges.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from anyio import to_thread

from langchain_zilliz_bailian.server.answer import MARKER_RE, Passage
from langchain_zilliz_bailian.server.apps import AppCatalog, AppSpec, AppSpecError, UnknownAppError
from langchain_zilliz_bailian.server.bailian_request import ParsedRequest, checked_id, parse_request
from langchain_zilliz_bailian.server.conversation import retrieval_query
from langchain_zilliz_bailian.server.errors import BailianError, internal_error, new_request_id
from langchain_zilliz_bailian.server.faults import Decision
from langchain_zilliz_bailian.server.generation import ChatModelClient
from langchain_zilliz_bailian.server.ids import check_id, new_session_id
from langchain_zilliz_bailian.server.memory import LongTermMemory
from langchain_zilliz_bailian.server.model_responder import ModelResponder
from langchain_zilliz_bailian.server.offline_responder import MODEL_ID, OfflineResponder
from langchain_zilliz_bailian.server.pipeline_runs import PipelineService
from langchain_zilliz_bailian.server.prompt_context import read_prompt
from langchain_zilliz_bailian.server.responder import (
    Delta,
    Responder,
    Turn,
    Usage,
    choose_responder,
)
from langchain_zilliz_bailian.server.retrieval import KnowledgeSearch
from langchain_zilliz_bailian.server.sse import DROP, _Drop, frame
from langchain_zilliz_bailian.server.thoughts import (
    memory_thought,
    reasoning_thought,
    retrieval_thought,
)
from langchain_zilliz_bailian.server.workflows import WorkflowRun, fill_prompt

__all__ = ["AppService", "Completion", "ParsedRequest", "cited_references", "doc_reference"]

MAX_SESSION_TURNS = 20
logger = logging.getLogger("langchain_zilliz_bailian.server")


@dataclass
class Completion:
    """One prepared turn: the responder's input plus what the response carries besides text."""

    request_id: str
    session_id: str
    turn: Turn
    thoughts: list[dict[str, Any]] | None = None
    memory_id: str | None = None
    #: The full answer, once the responder has finished.
    text: str = ""
    usage: Usage | None = None
    references: list[dict[str, Any]] = field(default_factory=list)
    #: A workflow app's run (start values, node messages); None for other apps.
    workflow: WorkflowRun | None = None
    #: ``has_thoughts`` was asked for, and a thinking model's reasoning so far.
    has_thoughts: bool = False
    reasoning: str = ""

    def all_thoughts(self) -> list[dict[str, Any]] | None:
        """The thoughts to send: retrieval and memory, then the model's reasoning if any."""
        if not (self.has_thoughts and self.reasoning):
            return self.thoughts
        return [*(self.thoughts or []), reasoning_thought(self.reasoning)]


def doc_reference(p: Passage) -> dict[str, Any]:
    """A passage as a ``doc_references`` entry (the documented fields the server can fill)."""
    ref: dict[str, Any] = {
        "index_id": p.index_id,
        "title": p.title,
        "doc_id": p.doc_id,
        "doc_name": p.doc_name,
        "text": p.text,
        "images": [],
    }
    if p.doc_url:
        ref["doc_url"] = p.doc_url
    if p.page_number:
        ref["page_number"] = list(p.page_number)
    return ref


def cited_references(text: str, passages: list[Passage]) -> list[dict[str, Any]]:
    """The passages cited by complete ``<ref>[n]</ref>`` markers in ``text``, by index."""
    cited = {m.group(0)[6:-7] for m in MARKER_RE.finditer(text)}
    return [doc_reference(p) for p in passages if p.index_id in cited]


class AppService:
    """Answers completion requests for the apps of the catalog."""

    def __init__(
        self,
        pipelines: PipelineService,
        catalog: AppCatalog,
        stream_interval_ms: int = 5,
        offline: Responder | None = None,
    ) -> None:
        self.pipelines = pipelines
        self.storage = pipelines.storage
        self.catalog = catalog
        self.knowledge = KnowledgeSearch(pipelines)
        self.memory = LongTermMemory(self.storage)
        self.offline: Responder = offline or OfflineResponder(stream_interval_ms)
        #: One connection pool for every app's model endpoint (closed by :meth:`aclose`).
        self.models = ChatModelClient()
        self.model_responder: Responder = ModelResponder(self.models)

    async def aclose(self) -> None:
        """Close the model endpoints' connection pool."""
        await self.models.aclose()

    # -- parsing -----------------------------------------------------------------------------------

    def app(self, app_id: str) -> AppSpec:
        """The app answering ``app_id``: 400 for a malformed id, 404 ``NotFound`` if undefined."""
        checked_id("app", app_id, "app id")
        try:
            return self.catalog.resolve(app_id)
        except UnknownAppError as exc:
            raise BailianError(
                "NotFound",
                f"{exc} Define it with `zilliz-bailian apps create` or the server's "
                "--default-app-id.",
                404,
            ) from None
        except AppSpecError as exc:
            raise BailianError("InternalError", exc.message, 500) from None

    def parse(self, app_id: str, body: Any, streaming: bool) -> ParsedRequest:
        """Validate the request like the real service (B6, B19, B20, B23, B25)."""
        self.app(app_id)
        return parse_request(app_id, body, streaming)

    # -- preparing ---------------------------------------------------------------------------------

    def _session_history(self, session_id: str) -> list[dict[str, str]]:
        record = self.storage.get_meta("session", session_id)
        history: list[dict[str, str]] = []
        for turn in (record or {}).get("turns", []):
            history.append({"role": "user", "content": turn["user"]})
            history.append({"role": "assistant", "content": turn["assistant"]})
        return history

    def save_turn(self, session_id: str, user: str, assistant: str) -> None:
        """Append one exchange to the stored session (keeping the last 20 turns), atomically:
        concurrent turns of one session each keep theirs."""
        turn = {"user": user[:1500], "assistant": MARKER_RE.sub("", assistant)[:1500]}

        def append(record: dict[str, Any] | None) -> dict[str, Any]:
            turns = (record or {"turns": []})["turns"][-(MAX_SESSION_TURNS - 1) :]
            return {"turns": [*turns, turn], "updated": int(time.time() * 1000)}

        self.storage.update_meta("session", check_id("session", session_id), append)

    def prepare(self, req: ParsedRequest) -> Completion:
        """Blocking: load history, retrieve, recall memories (called in a worker thread)."""
        app = self.app(req.app_id)
        workflow = None
        if app.type == "workflow":
            workflow = WorkflowRun.begin(
                app.parameters, req.biz_params, req.prompt, req.flow_stream_mode, req.incremental
            )
            app = app.model_copy(
                update={"system_prompt": fill_prompt(app.system_prompt, workflow.values)}
            )
        session_id = req.session_id or new_session_id()
        history = list(req.history)
        if req.use_session_history and req.session_id:
            history = self._session_history(req.session_id)
        pipeline_ids = req.pipeline_ids if req.pipeline_ids is not None else app.pipeline_ids
        # A RAG prompt's own context is not searched with: only its question is.
        query = retrieval_query(read_prompt(req.prompt, history).question, history)
        passages: list[Passage] = []
        thoughts: list[dict[str, Any]] = []
        if pipeline_ids:
            passages = self.knowledge.search(query, pipeline_ids, req.filters, app.retrieval)
            thoughts.append(retrieval_thought(passages))
        memories: list[str] = []
        memory_id = req.memory_id if app.memory else None
        if memory_id:
            memories = self.memory.recall(memory_id, req.prompt)
            thoughts.append(memory_thought(memory_id, req.prompt, memories))
        turn = Turn(app, req.prompt, history, passages, memories, query, req.sampling)
        return Completion(
            new_request_id(),
            session_id,
            turn,
            thoughts if req.has_thoughts and thoughts else None,
            memory_id,
            workflow=workflow,
            has_thoughts=req.has_thoughts,
        )

    def finish(self, c: Completion) -> None:
        """Blocking: store the exchange in the session and the user's facts in long-term memory."""
        self.save_turn(c.session_id, c.turn.query, c.text)
        if c.memory_id:
            self.memory.remember(c.memory_id, c.turn.query)

    async def store(self, c: Completion) -> None:
        """:meth:`finish` in a worker thread; a failure to store is a 500 ``InternalError``
        (logged), so the client learns its turn was not kept instead of seeing a cut stream."""
        try:
            await to_thread.run_sync(self.finish, c)
        except BailianError:
            raise
        except Exception:
            logger.exception("storing a completed turn failed")
            raise internal_error(
                "An internal error has occured: the turn could not be stored in the session."
            ) from None

    # -- answering ---------------------------------------------------------------------------------

    def deltas(self, c: Completion) -> AsyncIterator[Delta]:
        """The app's responder answering the prepared turn."""
        return choose_responder(c.turn.app, self.offline, self.model_responder).respond(c.turn)

    async def collect(self, c: Completion) -> Completion:
        """Run the responder to the end (JSON responses) and store the turn."""
        async for delta in self.deltas(c):
            c.text += delta.text
            c.reasoning += delta.reasoning
            c.usage = delta.usage or c.usage
        c.references = cited_references(c.text, c.turn.passages)
        await self.store(c)
        return c

    # -- rendering ---------------------------------------------------------------------------------

    @staticmethod
    def _usage(c: Completion) -> dict[str, Any]:
        if c.workflow is not None:
            return {}  # as real workflow apps report it
        usage = c.usage
        if usage is None:
            usage = Usage(MODEL_ID, 0, 0)
        return {
            "models": [
                {
                    "input_tokens": usage.input_tokens,
                    "output_tokens": usage.output_tokens,
                    "model_id": usage.model_id,
                }
            ]
        }

    def json_body(self, c: Completion) -> dict[str, Any]:
        """Non-stream response body (key order as in the recordings)."""
        output: dict[str, Any] = {}
        thoughts = c.all_thoughts()
        if thoughts is not None:
            output["thoughts"] = thoughts
        output.update({"finish_reason": "stop", "session_id": c.session_id})
        if c.references:
            output["doc_references"] = c.references
        output["text"] = c.text
        return {"output": output, "usage": self._usage(c), "request_id": c.request_id}

    def _event_body(
        self, c: Completion, text: str, finished: bool, node: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        """One stream event's data; ``node`` is a workflow node's message."""
        output: dict[str, Any] = {
            "session_id": c.session_id,
            "finish_reason": "stop" if finished else "null",
            "text": text,
        }
        thoughts = c.all_thoughts()
        if thoughts is not None:
            output["thoughts"] = thoughts
        refs = cited_references(c.text, c.turn.passages)
        if refs:
            output["doc_references"] = refs
        if node is not None:
            output["workflow_message"] = node
        return {"output": output, "usage": self._usage(c), "request_id": c.request_id}

    async def _bodies(
        self, c: Completion, deltas: AsyncIterator[Delta], incremental: bool, first: Delta | None
    ) -> AsyncIterator[tuple[dict[str, Any], bool]]:
        """(event data, is the stop event): a workflow's opening nodes, one event per text delta
        (a text-less delta only updates usage; reasoning, asked for with ``has_thoughts``, gets
        a text-less event with the reasoning thought so far), a workflow's closing nodes, the stop
        event."""
        run = c.workflow
        for opening in run.opening(c.turn.passages) if run else []:
            yield self._event_body(c, "", False, opening), False

        async def source() -> AsyncIterator[Delta]:
            if first is not None:
                yield first
            async for delta in deltas:
                yield delta

        async for delta in source():
            c.usage = delta.usage or c.usage
            if delta.reasoning and c.has_thoughts:
                c.reasoning += delta.reasoning
                yield self._event_body(c, "" if incremental else c.text, False), False
            if not delta.text:
                continue
            c.text += delta.text
            node = run.generating(delta.text, c.text) if run else None
            yield self._event_body(c, delta.text if incremental else c.text, False, node), False
        rest = "" if incremental else c.text
        closing = run.closing(c.text) if run else []
        for closed in closing[:-1]:
            yield self._event_body(c, rest, False, closed), False
        yield self._event_body(c, rest, True, closing[-1] if closing else None), True

    async def events(
        self,
        c: Completion,
        deltas: AsyncIterator[Delta],
        incremental: bool,
        decision: Decision,
        first: Delta | None = None,
    ) -> AsyncIterator[bytes | _Drop]:
        """SSE events: deltas with ``finish_reason`` "null", then a "stop" event; faults applied.
        ``first`` is a delta already taken from ``deltas`` (to answer early errors as envelopes).
        Any failure after the head was sent (the responder, storing the turn) ends the stream
        with one ``event:error`` frame in the Bailian envelope, never a cut connection."""
        event_id = 0  # the id of the last event sent
        try:
            async for body, finished in self._bodies(c, deltas, incremental, first):
                if decision.drop_after is not None and event_id >= decision.drop_after:
                    yield DROP
                    return
                if (
                    decision.stream_error_after is not None
                    and event_id >= decision.stream_error_after
                ):
                    err = BailianError(
                        "DataInspectionFailed", "Output data may contain inappropriate content."
                    )
                    yield frame(event_id + 1, err.body(c.request_id), event="error", status=400)
                    return
                if finished:
                    # Saved before the stop event goes out, so an immediate follow-up turn sees it.
                    await self.store(c)
                event_id += 1
                yield frame(event_id, body)
        except BailianError as exc:
            yield frame(event_id + 1, exc.body(c.request_id), event="error", status=exc.status)
        except Exception:
            logger.exception("unexpected error in a completion stream")
            err = internal_error()
            yield frame(event_id + 1, err.body(c.request_id), event="error", status=err.status)
