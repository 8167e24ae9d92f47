"""``BailianAppLLM``: a Bailian (DashScope) app as a LlamaIndex chat LLM, natively async.

Every call goes through the shared :class:`BailianAppClient`. Streams hand on each delta as it
arrives (``delta`` is always set, ``text`` / ``message.content`` is cumulative) and end with one
response that carries the app's session id, request id, cited documents, thoughts and usage in
``additional_kwargs`` (and the whole result in ``raw``).
"""

from __future__ import annotations

import os
import threading
from collections.abc import AsyncGenerator, Callable, Generator, Sequence
from typing import TYPE_CHECKING, Any, TypeVar, cast

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
from llama_index.core.bridge.pydantic import Field, PrivateAttr, SecretStr, model_validator
from llama_index.core.llms.callbacks import llm_chat_callback, llm_completion_callback
from llama_index.core.llms.llm import LLM

from langchain_zilliz_bailian._http.checks import (
    check_base_url,
    check_client_options,
    check_id,
    insecure_url_reported,
    typed_construction,
)
from langchain_zilliz_bailian.bailian import (
    AppCompletion,
    AppOptions,
    AppStream,
    AsyncAppStream,
    BailianAppClient,
)
from langchain_zilliz_bailian.bailian._constants import (
    API_KEY_ENV,
    APP_ID_ENV,
    BASE_URL_ENV,
    DEFAULT_BASE_URL,
)
from langchain_zilliz_bailian.bailian.conversation import instance_options
from langchain_zilliz_bailian.errors import InvalidInputError
from llama_index_ext._app_request import app_options, chat_request

__all__ = ["BailianAppLLM", "response_metadata"]

#: Guards lazy client creation; module-level so instances stay copyable and picklable.
_CLIENT_LOCK = threading.Lock()
_F = TypeVar("_F", bound=Callable[..., Any])
_R = TypeVar("_R", ChatResponse, CompletionResponse)
#: Builds one response from (cumulative text, delta, the finished result or None).
_Make = Callable[[str, str | None, AppCompletion | None], _R]


def _chat_callback(method: _F) -> _F:
    """``llm_chat_callback()``, typed: callbacks, instrumentation and rate limiting."""
    return cast(_F, llm_chat_callback()(method))


def _completion_callback(method: _F) -> _F:
    """``llm_completion_callback()``, typed."""
    return cast(_F, llm_completion_callback()(method))


def _env_key() -> SecretStr | None:
    value = os.environ.get(API_KEY_ENV)
    return SecretStr(value) if value else None


def _usage(completion: AppCompletion) -> dict[str, Any]:
    """Token counts under the names LlamaIndex's token counter reads, plus the per-model list."""
    usage = completion.usage
    if not usage.models:
        return {}
    return {
        "input_tokens": usage.input_tokens,
        "output_tokens": usage.output_tokens,
        "total_tokens": usage.total_tokens,
        "models": [model.model_dump(exclude_none=True) for model in usage.models],
    }


def response_metadata(completion: AppCompletion, model_name: str) -> dict[str, Any]:
    """``additional_kwargs`` of an answer: session, request, references, thoughts, usage."""
    metadata: dict[str, Any] = {
        "model_name": completion.usage.model_id or model_name,
        "session_id": completion.session_id,
        "request_id": completion.request_id,
        "finish_reason": completion.finish_reason,
        "doc_references": [ref.model_dump(exclude_none=True) for ref in completion.doc_references],
        "usage": _usage(completion),
    }
    if completion.thoughts:
        metadata["thoughts"] = [t.model_dump(exclude_none=True) for t in completion.thoughts]
    return metadata


def _raw(completion: AppCompletion) -> dict[str, Any]:
    return {**completion.model_dump(mode="json", exclude_none=True), "usage": _usage(completion)}


def _iter_responses(stream: AppStream, make: _Make[_R]) -> Generator[_R, None, None]:
    """One response per non-empty delta, then the closing one (``delta=""``) with metadata."""
    text = ""
    with stream:
        for chunk in stream:
            if chunk.delta:
                text += chunk.delta
                yield make(text, chunk.delta, None)
        completion = stream.completion
    yield make(completion.text, "", completion)


async def _aiter_responses(stream: AsyncAppStream, make: _Make[_R]) -> AsyncGenerator[_R, None]:
    """Async twin of :func:`_iter_responses`."""
    text = ""
    async with stream:
        async for chunk in stream:
            if chunk.delta:
                text += chunk.delta
                yield make(text, chunk.delta, None)
        completion = stream.completion
    yield make(completion.text, "", completion)


class BailianAppLLM(LLM):
    """A Bailian app (agent, RAG or workflow) as a LlamaIndex LLM; every method natively async.

    ``app_id`` defaults to ``$DASHSCOPE_APP_ID``, ``api_key`` to ``$DASHSCOPE_API_KEY`` and
    ``base_url`` to ``$DASHSCOPE_HTTP_BASE_URL`` (``/api/v1`` included). The key never appears
    in ``repr``, ``to_dict``, ``to_json`` or the payload sent to callbacks.

    Example:
        .. code-block:: python

            from llama_index.core import Settings
            from llama_index_ext import BailianAppLLM

            Settings.llm = BailianAppLLM(app_id="...", rag_options={"pipeline_ids": ["..."]})
    """

    app_id: str = Field(
        default_factory=lambda: os.environ.get(APP_ID_ENV, ""),
        description="The app's id ($DASHSCOPE_APP_ID).",
    )
    api_key: SecretStr | None = Field(
        default_factory=_env_key,
        exclude=True,
        repr=False,
        description="DashScope API key ($DASHSCOPE_API_KEY); region-bound, like the base URL.",
    )
    base_url: str = Field(
        default_factory=lambda: os.environ.get(BASE_URL_ENV) or DEFAULT_BASE_URL,
        description="Base URL, /api/v1 included ($DASHSCOPE_HTTP_BASE_URL).",
    )
    workspace: str | None = Field(default=None, description="Workspace id (ws_...).")
    session_id: str | None = Field(
        default=None,
        description="Server-side history: only the last user turn is sent, with this session.",
    )
    memory_id: str | None = Field(default=None, description="Long-term memory id.")
    biz_params: dict[str, Any] | None = Field(
        default=None, description="Workflow / agent start-node parameters."
    )
    rag_options: dict[str, Any] | None = Field(
        default=None, description="Knowledge-base options: pipeline_ids, file_ids, tags, ..."
    )
    has_thoughts: bool | None = Field(
        default=None, description="Ask for retrieval, plugin and reasoning steps (thoughts)."
    )
    flow_stream_mode: str | None = Field(default=None, description="Workflow stream mode.")
    temperature: float | None = None
    top_p: float | None = None
    top_k: int | None = None
    seed: int | None = None
    additional_kwargs: dict[str, Any] = Field(
        default_factory=dict, description="Further `parameters` sent as given."
    )
    context_window: int = Field(
        default=32768, gt=0, description="Token budget LlamaIndex packs prompts into."
    )
    num_output: int = Field(default=1024, gt=0, description="Tokens reserved for the answer.")
    timeout: float | None = Field(
        default=None, description="Read timeout in seconds (streams: longest silence)."
    )
    max_retries: int = Field(default=2, ge=0, description="Retries before any answer byte.")
    http_client: httpx.Client | None = Field(default=None, exclude=True, repr=False)
    http_async_client: httpx.AsyncClient | None = Field(default=None, exclude=True, repr=False)

    _client: BailianAppClient | None = PrivateAttr(default=None)

    if not TYPE_CHECKING:  # type checkers keep pydantic's typed signature

        def __init__(self, **data: Any) -> None:
            """Bad arguments raise :class:`InvalidInputError`, as the LangChain models do."""
            with typed_construction(type(self).__name__):
                super().__init__(**data)

    @model_validator(mode="after")
    def _check_config(self) -> BailianAppLLM:
        """Reject a missing or malformed app id, base URL or workspace before any request."""
        if not self.app_id:
            raise InvalidInputError(f"No app id: pass app_id=... or set {APP_ID_ENV}.")
        check_id("app_id", self.app_id)
        self.base_url = check_base_url(self.base_url, stacklevel=5)  # the user's line
        if self.workspace:
            check_id("workspace", self.workspace)
        check_client_options(
            timeout=self.timeout,
            max_retries=self.max_retries,
            http_client=self.http_client,
            http_async_client=self.http_async_client,
        )
        return self

    @classmethod
    def class_name(cls) -> str:
        return "BailianAppLLM"

    @property
    def model_name(self) -> str:
        """The name reported in ``metadata`` and callbacks."""
        return f"bailian-app-{self.app_id}"

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

    @property
    def client(self) -> BailianAppClient:
        """The app client, built on first use and reused (one connection pool per instance)."""
        if self._client is None:
            with _CLIENT_LOCK, insecure_url_reported():  # warned at construction
                if self._client is None:
                    self._client = BailianAppClient(
                        self.app_id,
                        api_key=self.api_key,
                        base_url=self.base_url,
                        workspace=self.workspace,
                        timeout=self.timeout,
                        max_retries=self.max_retries,
                        http_client=self.http_client,
                        http_async_client=self.http_async_client,
                    )
        return self._client

    # -- requests and responses -----------------------------------------------------------------

    def _options(self, kwargs: dict[str, Any]) -> AppOptions:
        return app_options(instance_options(self), self.additional_kwargs, kwargs)

    def _chat_request(
        self, messages: Sequence[ChatMessage], kwargs: dict[str, Any]
    ) -> tuple[str | None, AppOptions]:
        return chat_request(messages, self._options(kwargs))

    def _prompt(self, prompt: str, formatted: bool) -> str:
        if formatted or self.completion_to_prompt is None:
            return prompt
        return self.completion_to_prompt(prompt)

    def _chat_response(
        self, text: str, delta: str | None, completion: AppCompletion | None
    ) -> ChatResponse:
        message = ChatMessage(role=MessageRole.ASSISTANT, content=text)
        if completion is None:
            return ChatResponse(message=message, delta=delta)
        return ChatResponse(
            message=message,
            delta=delta,
            raw=_raw(completion),
            additional_kwargs=response_metadata(completion, self.model_name),
        )

    def _completion_response(
        self, text: str, delta: str | None, completion: AppCompletion | None
    ) -> CompletionResponse:
        if completion is None:
            return CompletionResponse(text=text, delta=delta)
        return CompletionResponse(
            text=text,
            delta=delta,
            raw=_raw(completion),
            additional_kwargs=response_metadata(completion, self.model_name),
        )

    # -- chat -----------------------------------------------------------------------------------

    @_chat_callback
    def chat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponse:
        prompt, options = self._chat_request(messages, kwargs)
        completion = self.client.call(prompt, **options)
        return self._chat_response(completion.text, None, completion)

    @_chat_callback
    async def achat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponse:
        prompt, options = self._chat_request(messages, kwargs)
        completion = await self.client.acall(prompt, **options)
        return self._chat_response(completion.text, None, completion)

    @_chat_callback
    def stream_chat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponseGen:
        prompt, options = self._chat_request(messages, kwargs)
        return _iter_responses(self.client.stream(prompt, **options), self._chat_response)

    @_chat_callback
    async def astream_chat(
        self, messages: Sequence[ChatMessage], **kwargs: Any
    ) -> ChatResponseAsyncGen:
        prompt, options = self._chat_request(messages, kwargs)
        return _aiter_responses(self.client.astream(prompt, **options), self._chat_response)

    # -- completion -----------------------------------------------------------------------------

    @_completion_callback
    def complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> CompletionResponse:
        completion = self.client.call(self._prompt(prompt, formatted), **self._options(kwargs))
        return self._completion_response(completion.text, None, completion)

    @_completion_callback
    async def acomplete(
        self, prompt: str, formatted: bool = False, **kwargs: Any
    ) -> CompletionResponse:
        completion = await self.client.acall(
            self._prompt(prompt, formatted), **self._options(kwargs)
        )
        return self._completion_response(completion.text, None, completion)

    @_completion_callback
    def stream_complete(
        self, prompt: str, formatted: bool = False, **kwargs: Any
    ) -> CompletionResponseGen:
        stream = self.client.stream(self._prompt(prompt, formatted), **self._options(kwargs))
        return _iter_responses(stream, self._completion_response)

    @_completion_callback
    async def astream_complete(
        self, prompt: str, formatted: bool = False, **kwargs: Any
    ) -> CompletionResponseAsyncGen:
        stream = self.client.astream(self._prompt(prompt, formatted), **self._options(kwargs))
        return _aiter_responses(stream, self._completion_response)

    # -- lifecycle ------------------------------------------------------------------------------

    def close(self) -> None:
        """Close the connection pool (the LLM reopens it on demand)."""
        if self._client is not None:
            self._client.close()

    async def aclose(self) -> None:
        """Async twin of :meth:`close`."""
        if self._client is not None:
            await self._client.aclose()
