"""LlamaIndex chat messages and call keywords as a Bailian app request (prompt + ``AppOptions``).

The rules match the LangChain ``ChatBailianApp``: system/user/assistant turns go out as
``input.messages`` (consecutive turns of one role merged); a lone user turn goes as ``prompt``;
with a ``session_id`` only the last user turn is sent and the server keeps the history.
``ImageBlock(url=...)`` and ``DocumentBlock(url=...)`` of the user turns sent become
``image_list``/``file_list`` (:mod:`langchain_zilliz_bailian.bailian.media`); inline data is
refused.
"""

from __future__ import annotations

from collections.abc import Sequence

from llama_index.core.base.llms.types import ChatMessage, DocumentBlock, ImageBlock, TextBlock

from langchain_zilliz_bailian.bailian import AppOptions
from langchain_zilliz_bailian.bailian.conversation import chat_request as core_chat_request
from langchain_zilliz_bailian.bailian.media import (
    Attachment,
    MediaKind,
    inline_data_error,
    media_url,
    turn_attachments,
)
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


def _attachment(block: object) -> Attachment | None:
    """The image or document a block refers to by URL (``None``: not such a block).

    Inline data (``image``/``data`` bytes, a local ``path``, a ``data:`` URL) is refused.
    """
    if isinstance(block, ImageBlock):
        kind: MediaKind = "image"
        inline = block.image is not None or block.path is not None
    elif isinstance(block, DocumentBlock):
        kind, inline = "file", block.data is not None or block.path is not None
    else:
        return None
    where = type(block).__name__
    if inline:
        raise inline_data_error(kind, where)
    if block.url is None:
        raise InvalidInputError(f"{where} needs a url: a Bailian app downloads {kind}s by URL.")
    return Attachment(kind, media_url(kind, str(block.url), f"{where}.url"))


def _text(message: ChatMessage, role: str) -> str:
    """The text blocks joined as ``ChatMessage.content`` joins them. A user turn's image and
    document blocks are checked here (URLs only) and sent as ``image_list``/``file_list``;
    other blocks of a user or system turn are refused (an assistant's are skipped)."""
    parts: list[str] = []
    for block in message.blocks:
        if isinstance(block, TextBlock):
            parts.append(block.text)
        elif role == "assistant":
            continue
        elif _attachment(block) is None:
            raise InvalidInputError(
                f"Content blocks of type {type(block).__name__} cannot be sent to an app; images "
                "and files go as URLs (ImageBlock(url=...), DocumentBlock(url=...), or "
                "image_list=[...] / file_list=[...])."
            )
        elif role != "user":
            raise InvalidInputError(
                f"Images and files can be attached to user turns only, not to a {role} turn."
            )
    return "\n".join(parts)


def _attachments(message: ChatMessage) -> list[Attachment]:
    """A user turn's image and document URLs, in block order."""
    found = (_attachment(block) for block in message.blocks)
    return [item for item in found if item is not None]


def chat_request(
    messages: Sequence[ChatMessage], options: AppOptions
) -> tuple[str | None, AppOptions]:
    """The prompt and options of a chat call (the shared rules of the core), with the image and
    document URLs of the turns sent first in ``image_list``/``file_list``."""
    prompt, options = core_chat_request(
        messages, options, role=_role, text=lambda message: _text(message, _role(message))
    )
    return prompt, turn_attachments(messages, options, role=_role, attachments=_attachments)
