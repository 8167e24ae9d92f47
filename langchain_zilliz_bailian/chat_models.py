"""``ChatBailianApp``: a Bailian (DashScope) app as a LangChain chat model, with real streaming.

The app (agent, RAG or workflow) is called through :class:`BailianAppClient`. The message history
goes out as ``input.messages``; with a ``session_id`` only the last human turn is sent and the
server keeps the history. Answers carry the metadata of
:func:`~langchain_zilliz_bailian.bailian.settings.answer_metadata` (session and request ids, cited
documents, usage, thoughts) in ``response_metadata``. ``close``/``aclose`` or ``with`` /
``async with`` close the connection pool.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator, Sequence
from typing import Any, NoReturn

from langchain_core.callbacks import AsyncCallbackManagerForLLMRun, CallbackManagerForLLMRun
from langchain_core.language_models.chat_models import BaseChatModel
from langchain_core.messages import (
    AIMessage,
    AIMessageChunk,
    BaseMessage,
    ChatMessage,
    HumanMessage,
    SystemMessage,
)
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from pydantic import ConfigDict

from langchain_zilliz_bailian._bailian_lc import BailianAppMixin, StreamItem, usage_metadata
from langchain_zilliz_bailian._content_blocks import PROVIDER
from langchain_zilliz_bailian._lc_attachments import attachments, block_attachment
from langchain_zilliz_bailian.bailian import AppCompletion, AppOptions
from langchain_zilliz_bailian.bailian.conversation import chat_request
from langchain_zilliz_bailian.bailian.media import turn_attachments
from langchain_zilliz_bailian.errors import InvalidInputError, ToolCallingUnsupportedError

__all__ = ["ChatBailianApp"]

_ROLE_OF = {"human": "user", "user": "user", "ai": "assistant", "assistant": "assistant"}


def _role(message: BaseMessage) -> str:
    if isinstance(message, SystemMessage):
        return "system"
    if isinstance(message, HumanMessage):
        return "user"
    if isinstance(message, AIMessage):
        return "assistant"
    if isinstance(message, ChatMessage) and message.role in (*_ROLE_OF, "system"):
        return _ROLE_OF.get(message.role, "system")
    raise InvalidInputError(
        f"A Bailian app takes system, human and AI messages only, not {type(message).__name__} "
        "(apps run their own tools and plugins)."
    )


def _text(message: BaseMessage) -> str:
    """The message's text. Image and file blocks of a human turn are checked here (URLs only)
    and sent as ``image_list``/``file_list`` by ``_request``; other non-text blocks are refused
    (an AI turn's are skipped)."""
    if isinstance(message.content, str):
        return message.content
    role = _role(message)
    parts = []
    for block in message.content:
        if isinstance(block, str):
            parts.append(block)
        elif block.get("type") == "text":
            parts.append(str(block.get("text", "")))
        elif role != "assistant":
            block_attachment(block, role)
    return "".join(parts)


class ChatBailianApp(BailianAppMixin, BaseChatModel):
    """A Bailian app as a chat model: ``invoke``, ``stream`` and their async twins, all native.

    Example:
        .. code-block:: python

            from langchain_zilliz_bailian import ChatBailianApp

            app = ChatBailianApp(app_id="...")  # key from $DASHSCOPE_API_KEY
            for chunk in app.stream("What does Milvus Lite store?"):
                print(chunk.content, end="")
    """

    model_config = ConfigDict(
        populate_by_name=True, arbitrary_types_allowed=True, protected_namespaces=()
    )

    @property
    def _llm_type(self) -> str:
        return "bailian-app-chat"

    def _request(
        self, messages: Sequence[BaseMessage], kwargs: dict[str, Any]
    ) -> tuple[str | None, AppOptions]:
        """The prompt and options: the history as ``messages``, or the last turn with a session;
        the image and file URLs of the turns sent go first in ``image_list``/``file_list``."""
        prompt, options = chat_request(messages, self._app_options(kwargs), role=_role, text=_text)
        return prompt, turn_attachments(messages, options, role=_role, attachments=attachments)

    @staticmethod
    def _result(text: str, completion: AppCompletion, metadata: dict[str, Any]) -> ChatResult:
        """One answer, with its metadata, usage and ``llm_output``; ``content`` keeps the markers,
        ``content_blocks`` gives cited text and thoughts (``_content_blocks``)."""
        usage = usage_metadata(completion)
        message = AIMessage(
            content=text,
            response_metadata={**metadata, "model_provider": PROVIDER},
            usage_metadata=usage,
        )
        return ChatResult(
            generations=[ChatGeneration(message=message)],
            llm_output={"model_name": metadata["model_name"], "token_usage": dict(usage or {})},
        )

    @staticmethod
    def _chunk(item: StreamItem) -> ChatGenerationChunk:
        """A text piece (whole markers only), or the closing chunk: no text, the metadata and
        usage once, ``chunk_position="last"``. Every chunk names its ``model_provider``."""
        if isinstance(item, str):
            return ChatGenerationChunk(
                message=AIMessageChunk(content=item, response_metadata={"model_provider": PROVIDER})
            )
        completion, metadata = item
        return ChatGenerationChunk(
            message=AIMessageChunk(
                content="",
                response_metadata={**metadata, "model_provider": PROVIDER},
                usage_metadata=usage_metadata(completion),
                chunk_position="last",
            )
        )

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        return self._result(*self._complete(*self._request(messages, kwargs), stop))

    async def _agenerate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        return self._result(*await self._acomplete(*self._request(messages, kwargs), stop))

    def bind_tools(
        self,
        tools: Sequence[Any],
        *,
        tool_choice: str | None = None,
        **kwargs: Any,
    ) -> NoReturn:
        """Always raises :class:`ToolCallingUnsupportedError`: an app runs its own plugins and
        tools (configured in the Bailian console) and its API takes no tool definitions.

        ``with_structured_output`` comes here too, and is refused with its own explanation.
        """
        if "ls_structured_output_format" in kwargs:
            raise ToolCallingUnsupportedError(
                "ChatBailianApp cannot return structured output: with_structured_output needs "
                "tool calling, and the Bailian app API takes no tools or schemas. Ask the app for "
                "JSON in the prompt and parse its text (app | JsonOutputParser()), or use a "
                "tool-calling chat model for the structured step."
            )
        raise ToolCallingUnsupportedError(
            "ChatBailianApp cannot bind tools: a Bailian app runs its own plugins and tools "
            "(set up in the Bailian console), and its API takes no tool definitions. To use an "
            "app inside an agent, hand it to a tool-calling model as a tool: "
            "create_agent(model, tools=ZillizBailianToolkit(app_ids=[...]).get_tools()) "
            "(from langchain_zilliz_bailian.toolkits)."
        )

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        for item in self._stream_app(*self._request(messages, kwargs), stop):
            chunk = self._chunk(item)
            if run_manager and isinstance(item, str):
                run_manager.on_llm_new_token(item, chunk=chunk)
            yield chunk

    async def _astream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> AsyncIterator[ChatGenerationChunk]:
        async for item in self._astream_app(*self._request(messages, kwargs), stop):
            chunk = self._chunk(item)
            if run_manager and isinstance(item, str):
                await run_manager.on_llm_new_token(item, chunk=chunk)
            yield chunk
