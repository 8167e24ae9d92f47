"""Bailian (DashScope) app completion: ``POST /api/v1/apps/{app_id}/completion``, JSON and SSE.

Every app id is served by one built-in RAG app: it searches the pipelines named in
``parameters.rag_options.pipeline_ids`` (or the server's default list), answers extractively with
``<ref>[n]</ref>`` markers matching ``doc_references``, and keeps ``session_id`` history in Milvus
(metadata kind ``session``). Shapes and SSE bytes follow the recorded real exchanges.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from anyio import to_thread

from langchain_zilliz_bailian.server.answer import (
    MARKER_RE,
    Passage,
    echo_answer,
    rag_answer,
    split_deltas,
)
from langchain_zilliz_bailian.server.errors import (
    BailianError,
    ZillizError,
    invalid_parameter,
    new_request_id,
)
from langchain_zilliz_bailian.server.expr import ExpressionError, all_of, field_equals
from langchain_zilliz_bailian.server.faults import Decision
from langchain_zilliz_bailian.server.ids import IdKind, InvalidIdError, check_id, new_session_id
from langchain_zilliz_bailian.server.pipeline_runs import PipelineService
from langchain_zilliz_bailian.server.sse import DROP, _Drop, frame
from langchain_zilliz_bailian.server.text import count_tokens

MODEL_ID = "local-extractive-rag"
MAX_SESSION_TURNS = 20
TOP_K = 5
MIN_SCORE = 0.05
ROLES = ("system", "user", "assistant")


@dataclass
class Completion:
    """Everything needed to render one answer, as JSON or as a stream."""

    request_id: str
    session_id: str
    text: str
    input_tokens: int
    references: list[dict[str, Any]] = field(default_factory=list)
    thoughts: list[dict[str, Any]] | None = None


@dataclass
class ParsedRequest:
    """A validated completion request."""

    prompt: str
    history: list[dict[str, str]]
    session_id: str | None
    use_session_history: bool
    incremental: bool
    has_thoughts: bool
    pipeline_ids: list[str]
    filters: dict[str, Any]


def _checked(kind: IdKind, value: object, where: str) -> str:
    """:func:`.ids.check_id` answering a malformed id with 400 ``InvalidParameter``."""
    try:
        return check_id(kind, value)
    except InvalidIdError as exc:
        raise invalid_parameter(f"{where}: {exc.message}") from None


def _check_urls(value: object, where: str) -> None:
    """``image_list``/``file_list``: absent, or an array of http(s) URLs. The built-in app has no
    vision and reads neither; they are only checked, so clients can send them."""
    if value is None:
        return
    if not isinstance(value, list) or not all(
        isinstance(url, str) and url.startswith(("http://", "https://")) for url in value
    ):
        raise invalid_parameter(f"{where} must be an array of http(s) URLs.")


class AppService:
    """The built-in RAG app behind every app id."""

    def __init__(
        self,
        pipelines: PipelineService,
        default_pipeline_ids: list[str] | None = None,
        stream_interval_ms: int = 5,
    ) -> None:
        self.pipelines = pipelines
        self.storage = pipelines.storage
        self.default_pipeline_ids = list(default_pipeline_ids or [])
        self.stream_interval_ms = stream_interval_ms

    # -- parsing -----------------------------------------------------------------------------------

    def parse(self, app_id: str, body: Any, streaming: bool) -> ParsedRequest:
        """Validate the request like the real service (B6, B19, B20, B23, B25)."""
        _checked("app", app_id, "app id")
        if not isinstance(body, dict):
            raise invalid_parameter("The request body must be a JSON object.")
        inp = body.get("input")
        params = body.get("parameters") or {}
        if inp is not None and not isinstance(inp, dict):
            raise invalid_parameter("input must be an object.")
        if not isinstance(params, dict):
            raise invalid_parameter("parameters must be an object.")
        inp = inp or {}
        prompt = inp.get("prompt")
        messages = inp.get("messages")
        if prompt is not None and not isinstance(prompt, str):
            raise invalid_parameter("input.prompt must be a string.")
        if (not prompt) and not messages:
            raise invalid_parameter('Either "prompt" or "messages" must exist')
        history: list[dict[str, str]] = []
        if messages is not None:
            if not isinstance(messages, list):
                raise invalid_parameter("input.messages must be an array.")
            for msg in messages:
                if (
                    not isinstance(msg, dict)
                    or msg.get("role") not in ROLES
                    or not isinstance(msg.get("content"), str)
                ):
                    raise invalid_parameter(
                        "Every message needs a role (system, user or assistant) and string content."
                    )
                history.append({"role": msg["role"], "content": msg["content"]})
        if prompt:
            history.append({"role": "user", "content": prompt})
        if not history or history[-1]["role"] != "user":
            raise invalid_parameter("The last message must come from the user.")
        query = history.pop()["content"]
        session_id = inp.get("session_id")
        if session_id is not None and session_id != "":
            # A plain token, looked up exactly; anything else is refused before it reaches Milvus.
            _checked("session", session_id, "input.session_id")
        if inp.get("memory_id") is not None:
            _checked("memory", inp["memory_id"], "input.memory_id")
        for key in ("image_list", "file_list"):
            _check_urls(inp.get(key), f"input.{key}")
        incremental = params.get("incremental_output", False)
        if not isinstance(incremental, bool):
            raise invalid_parameter("parameters.incremental_output must be a boolean.")
        if incremental and not streaming:
            raise invalid_parameter("parameter incremental_output only support stream call")
        has_thoughts = params.get("has_thoughts", False)
        if not isinstance(has_thoughts, bool):
            raise invalid_parameter("parameters.has_thoughts must be a boolean.")
        rag = params.get("rag_options") or {}
        if not isinstance(rag, dict):
            raise invalid_parameter("parameters.rag_options must be an object.")
        pipeline_ids = rag.get("pipeline_ids")
        if pipeline_ids is None:
            pipeline_ids = self.default_pipeline_ids
        if not isinstance(pipeline_ids, list) or not all(isinstance(p, str) for p in pipeline_ids):
            raise invalid_parameter("rag_options.pipeline_ids must be an array of strings.")
        for pid in pipeline_ids:
            _checked("pipeline", pid, "rag_options.pipeline_ids")
        filters: dict[str, Any] = {}
        for key in ("metadata_filter", "structured_filter"):
            value = rag.get(key)
            if value is None:
                continue
            if not isinstance(value, dict):
                raise invalid_parameter(f"rag_options.{key} must be an object.")
            filters.update(value)
        return ParsedRequest(
            prompt=query,
            history=history,
            session_id=session_id or None,
            use_session_history=messages is None,
            incremental=incremental,
            has_thoughts=has_thoughts,
            pipeline_ids=pipeline_ids,
            filters=filters,
        )

    # -- answering ---------------------------------------------------------------------------------

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

    def _filter_expression(self, collection: str, filters: dict[str, Any]) -> str:
        """``rag_options`` filters become ``field == value`` terms (only for existing fields)."""
        fields = self.pipelines.collection_fields(collection)
        clauses = []
        for key, value in filters.items():
            if key not in fields or isinstance(value, dict | list) or value is None:
                continue
            try:
                clauses.append(field_equals(key, value))
            except ExpressionError as exc:
                raise invalid_parameter(f"rag_options filter {key!r}: {exc}.") from None
        return all_of(*clauses)

    def _targets(self, pipeline_ids: list[str]) -> list[tuple[str, str, str]]:
        """(pipeline_id, collection, kind) for each SEARCH or INGESTION text/doc pipeline."""
        targets = []
        for pid in pipeline_ids:
            try:
                pipeline = self.pipelines.describe(pid)
            except ZillizError:
                raise invalid_parameter(f"Unknown knowledge base pipeline id {pid!r}.") from None
            fn = next(f for f in pipeline["functions"] if f["action"] != "PRESERVE")
            kinds = {
                "SEARCH_TEXT": "text",
                "INDEX_TEXT": "text",
                "SEARCH_DOC_CHUNK": "doc",
                "INDEX_DOC": "doc",
            }
            if fn["action"] not in kinds:
                raise invalid_parameter(
                    f"Pipeline {pid} ({fn['action']}) cannot be used for retrieval; pass a "
                    "SEARCH_TEXT or SEARCH_DOC_CHUNK pipeline."
                )
            collection = fn.get("collectionName") or pipeline["collectionName"]
            targets.append((pid, collection, kinds[fn["action"]]))
        return targets

    def _retrieve(self, query: str, req: ParsedRequest) -> list[Passage]:
        found: list[tuple[float, dict[str, Any], str]] = []
        for pid, collection, kind in self._targets(req.pipeline_ids):
            expr = self._filter_expression(collection, req.filters)
            try:
                results, _ = self.pipelines.search_collection(
                    collection, kind, query, TOP_K, 0, [], expr
                )
            except ZillizError as exc:
                raise BailianError("InvalidParameter", f"Retrieval failed: {exc.message}") from None
            for item in results:
                item["_kind"] = kind
                found.append((float(item["distance"]), item, pid))
        found.sort(key=lambda f: -f[0])
        passages = []
        for rank, (score, item, pid) in enumerate(found[:TOP_K], start=1):
            if score < MIN_SCORE:
                continue
            if item["_kind"] == "doc":
                text = item.get("chunk_text") or ""
                doc_name = item.get("doc_name") or ""
                headers = [ln.lstrip("# ") for ln in text.splitlines() if ln.startswith("#")]
                title = headers[-1] if headers else doc_name
                doc_id = f"{pid}/{doc_name}"
            else:
                text = item.get("text") or ""
                doc_name = title = text.split("\n", 1)[0][:64]
                doc_id = f"{pid}/{item['id']}"
            passages.append(Passage(str(rank), text, doc_name, title, doc_id, score))
        return passages

    def answer(self, req: ParsedRequest) -> Completion:
        """Blocking: load history, retrieve, compose the answer (called in a worker thread)."""
        request_id = new_request_id()
        session_id = req.session_id or new_session_id()
        history = list(req.history)
        if req.use_session_history and req.session_id:
            history = self._session_history(req.session_id)
        context_tokens = sum(count_tokens(m["content"]) for m in history) + count_tokens(req.prompt)
        thoughts: list[dict[str, Any]] | None = None
        references: list[dict[str, Any]] = []
        if req.pipeline_ids:
            passages = self._retrieve(req.prompt, req)
            text, cited = rag_answer(req.prompt, passages)
            context_tokens += sum(count_tokens(p.text) for p in passages)
            by_id = {p.index_id: p for p in passages}
            for index_id in sorted(cited, key=int):
                p = by_id[index_id]
                references.append(
                    {
                        "index_id": p.index_id,
                        "title": p.title,
                        "doc_id": p.doc_id,
                        "doc_name": p.doc_name,
                        "text": p.text,
                        "images": [],
                    }
                )
            if req.has_thoughts:
                observation = [
                    {
                        "content": p.text,
                        "dataId": p.doc_id,
                        "dataName": p.doc_name,
                        "display": True,
                        "id": p.doc_id,
                        "images": [],
                        "referenceIndex": int(p.index_id),
                        "score": p.score,
                        "title": p.title,
                        "webSearch": False,
                    }
                    for p in passages
                ]
                thoughts = [
                    {
                        "action_input_stream": "{}",
                        "action_type": "agentRag",
                        "observation": json.dumps(
                            observation, ensure_ascii=False, separators=(",", ":")
                        ),
                        "action_name": "知识检索",
                        "action": "rag",
                        "arguments": "{}",
                    }
                ]
        else:
            previous = next((m["content"] for m in reversed(history) if m["role"] == "user"), None)
            text = echo_answer(req.prompt, previous)
        return Completion(request_id, session_id, text, context_tokens, references, thoughts)

    # -- rendering ---------------------------------------------------------------------------------

    @staticmethod
    def _usage(completion: Completion, text: str) -> dict[str, Any]:
        return {
            "models": [
                {
                    "input_tokens": completion.input_tokens,
                    "output_tokens": count_tokens(text),
                    "model_id": MODEL_ID,
                }
            ]
        }

    def json_body(self, c: Completion) -> dict[str, Any]:
        """Non-stream response body (key order as in the recordings)."""
        output: dict[str, Any] = {}
        if c.thoughts is not None:
            output["thoughts"] = c.thoughts
        output.update({"finish_reason": "stop", "session_id": c.session_id})
        if c.references:
            output["doc_references"] = c.references
        output["text"] = c.text
        return {"output": output, "usage": self._usage(c, c.text), "request_id": c.request_id}

    async def events(
        self, c: Completion, incremental: bool, decision: Decision, user_turn: str
    ) -> AsyncIterator[bytes | _Drop]:
        """SSE events: deltas with ``finish_reason`` "null", then a "stop" event; faults applied."""
        deltas = split_deltas(c.text)
        emitted = ""
        refs_visible = False
        interval = self.stream_interval_ms / 1000
        for event_id, delta in enumerate([*deltas, None], start=1):
            if decision.drop_after is not None and event_id > decision.drop_after:
                yield DROP
                return
            if decision.stream_error_after is not None and event_id > decision.stream_error_after:
                yield frame(
                    event_id,
                    {
                        "request_id": c.request_id,
                        "code": "DataInspectionFailed",
                        "message": "Output data may contain inappropriate content.",
                    },
                    event="error",
                    status=400,
                )
                return
            finished = delta is None
            emitted += delta or ""
            refs_visible = refs_visible or "</ref>" in emitted or finished
            output: dict[str, Any] = {
                "session_id": c.session_id,
                "finish_reason": "stop" if finished else "null",
                "text": ("" if finished else delta) if incremental else emitted,
            }
            if c.thoughts is not None:
                output["thoughts"] = c.thoughts
            if c.references and refs_visible:
                output["doc_references"] = c.references
            body = {"output": output, "usage": self._usage(c, emitted), "request_id": c.request_id}
            if finished:
                # Saved before the stop event goes out, so an immediate follow-up turn sees it.
                await to_thread.run_sync(self.save_turn, c.session_id, user_turn, c.text)
                yield frame(event_id, body)
                return
            yield frame(event_id, body)
            await asyncio.sleep(interval)
