"""``BailianAppLLM``: a Bailian (DashScope) app as a LlamaIndex chat LLM, natively async.

The app, connection and option fields, their checks, the client (``total_timeout`` included),
``close``/``aclose`` and the answer-metadata rule come from the framework-free
:class:`~langchain_zilliz_bailian.bailian.settings.AppSettings`; this class adds LlamaIndex's
fields and maps types. Streams hand on each delta as it arrives (``delta`` is always set, ``text``
/ ``message.content`` is cumulative) and end with one response that carries
:func:`~langchain_zilliz_bailian.bailian.settings.answer_metadata` (session and request ids,
cited documents, usage, thoughts) in ``additional_kwargs`` (and the whole result in ``raw``),
with the answer's citations as data (:func:`citation_kwargs`; the text keeps its markers).
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Callable, Generator, Sequence
from typing import Any, Generic, TypeVar, cast

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
from llama_index.core.llms.callbacks import llm_chat_callback, llm_completion_callback
from llama_index.core.llms.llm import LLM

from langchain_zilliz_bailian.bailian import AppCompletion, AppOptions, AppStream, AsyncAppStream
from langchain_zilliz_bailian.bailian.cited_answers import parse_citations
from langchain_zilliz_bailian.bailian.settings import AppSettings, usage_of
from llama_index_ext._app_request import IGNORED_KEYS, chat_request

__all__ = ["BailianAppLLM"]

_F = TypeVar("_F", bound=Callable[..., Any])
_R = TypeVar("_R", ChatResponse, CompletionResponse)
#: Builds one response from (cumulative text, delta, ``raw`` and ``additional_kwargs`` or {}).
_Make = Callable[[str, str | None, dict[str, Any]], _R]


def _chat_callback(method: _F) -> _F:
    """``llm_chat_callback()``, typed: callbacks, instrumentation and rate limiting."""
    return cast(_F, llm_chat_callback()(method))


def _completion_callback(method: _F) -> _F:
    """``llm_completion_callback()``, typed."""
    return cast(_F, llm_completion_callback()(method))


def _chat_response(text: str, delta: str | None, extras: dict[str, Any]) -> ChatResponse:
    message = ChatMessage(role=MessageRole.ASSISTANT, content=text)
    return ChatResponse(message=message, delta=delta, **extras)


def _completion_response(
    text: str, delta: str | None, extras: dict[str, Any]
) -> CompletionResponse:
    return CompletionResponse(text=text, delta=delta, **extras)


def citation_kwargs(completion: AppCompletion) -> dict[str, Any]:
    """``citations`` (one dict per cited id: span, title, url, ids, cited text) and
    ``text_without_markers`` (the text the spans index); the text itself keeps its markers."""
    answer = parse_citations(completion.text, completion.doc_references)
    return {
        "citations": [citation.as_dict() for citation in answer.citations],
        "text_without_markers": answer.text,
    }


class _Reply(Generic[_R]):
    """One answer as responses: one per non-empty delta, then the closing one (``delta=""``)
    with ``raw`` and the answer's metadata."""

    def __init__(self, llm: BailianAppLLM, options: AppOptions, make: _Make[_R]) -> None:
        self._llm, self._options = llm, options
        self._make: _Make[_R] = make
        self._text = ""

    def piece(self, delta: str) -> list[_R]:
        if not delta:
            return []
        self._text += delta
        return [self._make(self._text, delta, {})]

    def whole(self, completion: AppCompletion, delta: str | None = "") -> _R:
        raw = {
            **completion.model_dump(mode="json", exclude_none=True),
            "usage": usage_of(completion),
        }
        metadata = {
            **self._llm.answer_metadata(completion, self._options),
            **citation_kwargs(completion),
        }
        return self._make(completion.text, delta, {"raw": raw, "additional_kwargs": metadata})


def _iter_responses(stream: AppStream, reply: _Reply[_R]) -> Generator[_R, None, None]:
    with stream:
        for chunk in stream:
            yield from reply.piece(chunk.delta)
        completion = stream.completion
    yield reply.whole(completion)


async def _aiter_responses(stream: AsyncAppStream, reply: _Reply[_R]) -> AsyncGenerator[_R, None]:
    """Async twin of :func:`_iter_responses`."""
    async with stream:
        async for chunk in stream:
            for response in reply.piece(chunk.delta):
                yield response
        completion = stream.completion
    yield reply.whole(completion)


class BailianAppLLM(AppSettings, LLM):
    """A Bailian app (agent, RAG or workflow) as a LlamaIndex LLM; every method natively async.

    ``app_id`` defaults to ``$DASHSCOPE_APP_ID``, ``api_key`` to ``$DASHSCOPE_API_KEY`` and
    ``base_url`` to ``$DASHSCOPE_HTTP_BASE_URL`` (``/api/v1`` included). The key never appears
    in ``repr``, ``to_dict``, ``to_json`` or the payload sent to callbacks. ``total_timeout``
    caps a whole call or stream, retries included; ``close``/``aclose`` or ``with`` /
    ``async with`` close the connection pool.

    Example:
        .. code-block:: python

            from llama_index.core import Settings
            from llama_index_ext import BailianAppLLM

            Settings.llm = BailianAppLLM(app_id="...", rag_options={"pipeline_ids": ["..."]})
    """

    additional_kwargs: dict[str, Any] = Field(
        default_factory=dict, description="Further `parameters` sent as given."
    )
    context_window: int = Field(
        default=32768, gt=0, description="Token budget LlamaIndex packs prompts into."
    )
    num_output: int = Field(default=1024, gt=0, description="Tokens reserved for the answer.")

    @classmethod
    def class_name(cls) -> str:
        return "BailianAppLLM"

    @property
    def metadata(self) -> LLMMetadata:
        return LLMMetadata(
            context_window=self.context_window,
            num_output=self.num_output,
            is_chat_model=True,
            is_function_calling_model=False,
            model_name=self.model_name,
            system_role=MessageRole.SYSTEM,
        )

    # -- requests -------------------------------------------------------------------------------

    def _options(self, kwargs: dict[str, Any]) -> AppOptions:
        return self.call_options(self.additional_kwargs, kwargs, ignored=IGNORED_KEYS)

    def _chat_request(
        self, messages: Sequence[ChatMessage], kwargs: dict[str, Any]
    ) -> tuple[str | None, _Reply[ChatResponse], AppOptions]:
        prompt, options = chat_request(messages, self._options(kwargs))
        return prompt, _Reply(self, options, _chat_response), options

    def _completion_request(
        self, prompt: str, formatted: bool, kwargs: dict[str, Any]
    ) -> tuple[str, _Reply[CompletionResponse], AppOptions]:
        if not formatted and self.completion_to_prompt is not None:
            prompt = self.completion_to_prompt(prompt)
        options = self._options(kwargs)
        return prompt, _Reply(self, options, _completion_response), options

    # -- chat -----------------------------------------------------------------------------------

    @_chat_callback
    def chat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponse:
        prompt, reply, options = self._chat_request(messages, kwargs)
        return reply.whole(self.client.call(prompt, **options), None)

    @_chat_callback
    async def achat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponse:
        prompt, reply, options = self._chat_request(messages, kwargs)
        return reply.whole(await self.client.acall(prompt, **options), None)

    @_chat_callback
    def stream_chat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponseGen:
        prompt, reply, options = self._chat_request(messages, kwargs)
        return _iter_responses(self.client.stream(prompt, **options), reply)

    @_chat_callback
    async def astream_chat(
        self, messages: Sequence[ChatMessage], **kwargs: Any
    ) -> ChatResponseAsyncGen:
        prompt, reply, options = self._chat_request(messages, kwargs)
        return _aiter_responses(self.client.astream(prompt, **options), reply)

    # -- completion -----------------------------------------------------------------------------

    @_completion_callback
    def complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> CompletionResponse:
        text, reply, options = self._completion_request(prompt, formatted, kwargs)
        return reply.whole(self.client.call(text, **options), None)

    @_completion_callback
    async def acomplete(
        self, prompt: str, formatted: bool = False, **kwargs: Any
    ) -> CompletionResponse:
        text, reply, options = self._completion_request(prompt, formatted, kwargs)
        return reply.whole(await self.client.acall(text, **options), None)

    @_completion_callback
    def stream_complete(
        self, prompt: str, formatted: bool = False, **kwargs: Any
    ) -> CompletionResponseGen:
        text, reply, options = self._completion_request(prompt, formatted, kwargs)
        return _iter_responses(self.client.stream(text, **options), reply)

    @_completion_callback
    async def astream_complete(
        self, prompt: str, formatted: bool = False, **kwargs: Any
    ) -> CompletionResponseAsyncGen:
        text, reply, options = self._completion_request(prompt, formatted, kwargs)
        return _aiter_responses(self.client.astream(text, **options), reply)
