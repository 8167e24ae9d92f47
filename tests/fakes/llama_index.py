"""Scripted Bailian answers (JSON and SSE bytes), recorders for LlamaIndex events and a
scripted function-calling LLM (the brain of the agent tests)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import httpx
from llama_index.core.base.llms.types import (
    ChatMessage,
    ChatResponse,
    ChatResponseAsyncGen,
    ChatResponseGen,
    CompletionResponse,
    CompletionResponseAsyncGen,
    CompletionResponseGen,
    LLMMetadata,
    MessageRole,
)
from llama_index.core.bridge.pydantic import Field
from llama_index.core.callbacks.base_handler import BaseCallbackHandler
from llama_index.core.callbacks.schema import CBEventType
from llama_index.core.instrumentation.event_handlers import BaseEventHandler
from llama_index.core.instrumentation.events import BaseEvent
from llama_index.core.llms.function_calling import FunctionCallingLLM
from llama_index.core.llms.llm import ToolSelection

APP_ID = "app0123456789"
BASE_URL = "https://dashscope.test/api/v1"
SECRET = "sk-llama-secret-0123456789"
USAGE = {"models": [{"model_id": "qwen-plus", "input_tokens": 12, "output_tokens": 5}]}
REFS = [{"index_id": "1", "doc_name": "lite.md", "title": "Storage", "text": "Milvus Lite ..."}]


def output(text: str, *, finish: str = "stop", **extra: Any) -> dict[str, Any]:
    return {"session_id": "sess-1", "finish_reason": finish, "text": text, **extra}


def json_answer(text: str, **extra: Any) -> httpx.Response:
    """A non-streamed app answer."""
    body = {"output": output(text, **extra), "usage": USAGE, "request_id": "req-1"}
    return httpx.Response(200, json=body)


def frames(deltas: Iterable[str], **final: Any) -> Iterator[bytes]:
    """SSE events in DashScope's layout: one per delta, then the closing ``stop`` event."""
    n = 0
    for n, delta in enumerate(deltas, start=1):
        data = {"output": output(delta, finish="null"), "usage": USAGE, "request_id": "req-1"}
        yield f"id:{n}\nevent:result\n:HTTP_STATUS/200\ndata:{json.dumps(data)}\n\n".encode()
    data = {"output": output("", **final), "usage": USAGE, "request_id": "req-1"}
    yield f"id:{n + 1}\nevent:result\n:HTTP_STATUS/200\ndata:{json.dumps(data)}\n\n".encode()


def sse_answer(deltas: Iterable[str], **final: Any) -> httpx.Response:
    """A streamed app answer (the whole body at once)."""
    return httpx.Response(
        200,
        headers={"content-type": "text/event-stream;charset=UTF-8"},
        content=b"".join(frames(deltas, **final)),
    )


class EventLog(BaseEventHandler):
    """Records every instrumentation event's class name (and the events themselves)."""

    events: list[BaseEvent] = []

    @classmethod
    def class_name(cls) -> str:
        return "EventLog"

    def handle(self, event: BaseEvent, **kwargs: Any) -> None:
        self.events.append(event)

    def names(self) -> list[str]:
        return [type(e).__name__ for e in self.events]


class CallbackLog(BaseCallbackHandler):
    """A legacy CallbackManager handler that records (phase, event type, payload)."""

    def __init__(self) -> None:
        super().__init__(event_starts_to_ignore=[], event_ends_to_ignore=[])
        self.records: list[tuple[str, CBEventType, dict[str, Any]]] = []

    def on_event_start(self, event_type, payload=None, event_id="", parent_id="", **kwargs):
        self.records.append(("start", event_type, dict(payload or {})))
        return event_id

    def on_event_end(self, event_type, payload=None, event_id="", **kwargs):
        self.records.append(("end", event_type, dict(payload or {})))

    def start_trace(self, trace_id=None):
        pass

    def end_trace(self, trace_id=None, trace_map=None):
        pass


class ScriptedToolCaller(FunctionCallingLLM):
    """A function-calling LLM that follows a script: each user turn gets the next scripted tool
    call; once a tool answered, the final answer repeats the tool's output after ``Answer:``.

    ``offered`` records the tool names each call was given, ``calls`` the calls it made.
    """

    script: list[tuple[str, dict[str, Any]]] = Field(default_factory=list)
    offered: list[list[str]] = Field(default_factory=list)
    calls: list[str] = Field(default_factory=list)

    @property
    def metadata(self) -> LLMMetadata:
        return LLMMetadata(is_function_calling_model=True, model_name="scripted")

    def _prepare_chat_with_tools(
        self,
        tools: Sequence[Any],
        user_msg: str | ChatMessage | None = None,
        chat_history: list[ChatMessage] | None = None,
        verbose: bool = False,
        allow_parallel_tool_calls: bool = False,
        tool_required: bool = False,
        **kwargs: Any,
    ) -> dict[str, Any]:
        self.offered.append([tool.metadata.name for tool in tools])
        messages = list(chat_history or [])
        if user_msg is not None:
            messages.append(
                user_msg if isinstance(user_msg, ChatMessage) else ChatMessage(content=user_msg)
            )
        return {"messages": messages}

    def get_tool_calls_from_response(
        self, response: ChatResponse, error_on_no_tool_call: bool = True, **kwargs: Any
    ) -> list[ToolSelection]:
        return list(response.message.additional_kwargs.get("tool_calls", []))

    def _reply(self, messages: Sequence[ChatMessage]) -> ChatResponse:
        last = messages[-1]
        if last.role == MessageRole.TOOL or not self.script:
            return ChatResponse(
                message=ChatMessage(role=MessageRole.ASSISTANT, content=f"Answer: {last.content}")
            )
        name, args = self.script.pop(0)
        self.calls.append(name)
        call = ToolSelection(tool_id=f"call-{len(self.calls)}", tool_name=name, tool_kwargs=args)
        message = ChatMessage(
            role=MessageRole.ASSISTANT, content="", additional_kwargs={"tool_calls": [call]}
        )
        return ChatResponse(message=message)

    def chat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponse:
        return self._reply(messages)

    async def achat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponse:
        return self._reply(messages)

    def stream_chat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponseGen:
        reply = self._reply(messages)
        reply.delta = reply.message.content or ""

        def gen() -> ChatResponseGen:
            yield reply

        return gen()

    async def astream_chat(
        self, messages: Sequence[ChatMessage], **kwargs: Any
    ) -> ChatResponseAsyncGen:
        reply = self._reply(messages)
        reply.delta = reply.message.content or ""

        async def gen() -> ChatResponseAsyncGen:
            yield reply

        return gen()

    def complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> CompletionResponse:
        raise NotImplementedError("chat only")

    async def acomplete(
        self, prompt: str, formatted: bool = False, **kwargs: Any
    ) -> CompletionResponse:
        raise NotImplementedError("chat only")

    def stream_complete(
        self, prompt: str, formatted: bool = False, **kwargs: Any
    ) -> CompletionResponseGen:
        raise NotImplementedError("chat only")

    async def astream_complete(
        self, prompt: str, formatted: bool = False, **kwargs: Any
    ) -> CompletionResponseAsyncGen:
        raise NotImplementedError("chat only")
