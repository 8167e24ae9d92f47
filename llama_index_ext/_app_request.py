"""LlamaIndex chat messages and call keywords as a Bailian app request (prompt + ``AppOptions``).

The rules match the LangChain ``ChatBailianApp``: system/user/assistant turns go out as
``input.messages`` (consecutive turns of one role merged); a lone user turn goes as ``prompt``;
with a ``session_id`` only the last user turn is sent and the server keeps the history.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from llama_index.core.base.llms.types import ChatMessage, MessageRole, TextBlock

from langchain_zilliz_bailian.bailian import AppOptions
from langchain_zilliz_bailian.errors import InvalidInputError

__all__ = ["app_options", "chat_request", "to_app_messages"]

#: LlamaIndex role values (strings, so roles newer than the installed core cost nothing).
_ROLES = {
    "system": "system",
    "developer": "system",
    "user": "user",
    "assistant": "assistant",
    "chatbot": "assistant",
    "model": "assistant",
}
#: Call keywords that are request options; other keywords are sent as ``parameters``.
_OPTION_KEYS = frozenset(AppOptions.__optional_keys__)
#: Keywords LlamaIndex components may pass that an app cannot use.
_IGNORED_KEYS = frozenset({"formatted", "stream", "max_tokens", "model", "tools", "tool_choice"})


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


def to_app_messages(messages: Sequence[ChatMessage]) -> list[dict[str, str]]:
    """``input.messages``: roles system/user/assistant, consecutive turns of one role merged."""
    turns: list[dict[str, str]] = []
    for message in messages:
        role = _role(message)
        content = _text(message, role)
        if turns and turns[-1]["role"] == role:
            turns[-1]["content"] += "\n\n" + content
        else:
            turns.append({"role": role, "content": content})
    return turns


def app_options(
    defaults: Mapping[str, Any], parameters: Mapping[str, Any], kwargs: Mapping[str, Any]
) -> AppOptions:
    """Instance ``defaults`` overlaid with call keywords; unknown keywords join ``parameters``."""
    options = dict(defaults)
    merged = dict(parameters)
    for key, value in kwargs.items():
        if key == "parameters":
            merged.update(value or {})
        elif key in _OPTION_KEYS:
            options[key] = value
        elif key not in _IGNORED_KEYS:
            merged[key] = value
    options["parameters"] = merged
    selected: AppOptions = {k: v for k, v in options.items() if v is not None}  # type: ignore[assignment]
    return selected


def chat_request(
    messages: Sequence[ChatMessage], options: AppOptions
) -> tuple[str | None, AppOptions]:
    """The prompt and options of a chat call (see the module docstring for the rules)."""
    if options.get("session_id"):
        last = next((m for m in reversed(messages) if m.role == MessageRole.USER), None)
        if last is None:
            raise InvalidInputError("With a session_id, the messages must hold a user turn.")
        return _text(last, "user"), options
    turns = to_app_messages(messages)
    if not turns:
        raise InvalidInputError("No messages to send to the app.")
    if len(turns) == 1 and turns[0]["role"] == "user":
        return turns[0]["content"], options
    return None, {**options, "messages": turns}
