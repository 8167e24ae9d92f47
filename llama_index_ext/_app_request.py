"""LlamaIndex chat messages and call keywords as a Bailian app request (prompt + ``AppOptions``).

The rules match the LangChain ``ChatBailianApp``: system/user/assistant turns go out as
``input.messages`` (consecutive turns of one role merged); a lone user turn goes as ``prompt``;
with a ``session_id`` only the last user turn is sent and the server keeps the history.
"""

from __future__ import annotations

from collections.abc import Sequence

from llama_index.core.base.llms.types import ChatMessage, TextBlock

from langchain_zilliz_bailian.bailian import AppOptions
from langchain_zilliz_bailian.bailian.conversation import chat_request as core_chat_request
from langchain_zilliz_bailian.errors import InvalidInputError

__all__ = ["IGNORED_KEYS", "chat_request"]

#: LlamaIndex role values (strings, so roles newer than the installed core cost nothing).
_ROLES = {
    "system": "system",
    "developer": "system",
    "user": "user",
    "assistant": "assistant",
    "chatbot": "assistant",
    "model": "assistant",
}
#: Keywords LlamaIndex components may pass that an app cannot use.
IGNORED_KEYS = frozenset({"formatted", "stream", "max_tokens", "model", "tools", "tool_choice"})


def _role(message: ChatMessage) -> str:
    value = str(getattr(message.role, "value", message.role))
    role = _ROLES.get(value)
    if role is None:
        raise InvalidInputError(
            f"A Bailian app takes system, user and assistant messages only, not {value!r} "
            "(apps run their own tools and plugins)."
        )
    return role


def _text(message: ChatMessage, role: str) -> str:
    """The text blocks joined as ``ChatMessage.content`` joins them; other blocks of a user or
    system turn are refused (an assistant's are skipped)."""
    parts: list[str] = []
    for block in message.blocks:
        if isinstance(block, TextBlock):
            parts.append(block.text)
        elif role != "assistant":
            raise InvalidInputError(
                f"Content blocks of type {type(block).__name__} cannot be sent to an app; pass "
                "image URLs with image_list=[...] and files with file_list=[...]."
            )
    return "\n".join(parts)


def chat_request(
    messages: Sequence[ChatMessage], options: AppOptions
) -> tuple[str | None, AppOptions]:
    """The prompt and options of a chat call (the shared rules of the core)."""
    return core_chat_request(
        messages, options, role=_role, text=lambda message: _text(message, _role(message))
    )
