"""LangChain content blocks as Bailian attachments: image and file blocks with URLs.

Read forms: the LangChain 1.x standard blocks (``{"type": "image", "url": ...}``,
``{"type": "file", "url": ...}``), the 0.3 ones (``"source_type": "url"``) and the OpenAI-style
``{"type": "image_url", "image_url": {"url": ...}}``. Inline data (``base64``, ``data:`` URLs,
``source_type: "base64"``, OpenAI ``file_data``) and provider file ids are refused; so is any other
non-text block. Which turns' attachments are sent is decided in the core
(:func:`~langchain_zilliz_bailian.bailian.media.turn_attachments`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from langchain_core.messages import BaseMessage

from langchain_zilliz_bailian.bailian.media import (
    Attachment,
    MediaKind,
    inline_data_error,
    media_url,
)
from langchain_zilliz_bailian.errors import InvalidInputError

__all__ = ["attachments", "block_attachment"]


def _url_of(block: Mapping[str, Any]) -> tuple[MediaKind, object]:
    """The kind and URL value of a media block; inline data and file ids are refused."""
    if block.get("type") == "image_url":
        value = block.get("image_url")
        return "image", value.get("url") if isinstance(value, Mapping) else value
    kind: MediaKind = "image" if block.get("type") == "image" else "file"
    openai_file = block.get("file")
    if (
        block.get("source_type") == "base64"
        or "base64" in block
        or (isinstance(openai_file, Mapping) and "file_data" in openai_file)
    ):
        raise inline_data_error(kind, f"The {kind} block")
    if block.get("url") is None:
        raise InvalidInputError(
            f"The {kind} block must carry a url: a Bailian app downloads {kind}s by URL "
            "(provider file ids and other sources cannot be sent)."
        )
    return kind, block["url"]


def block_attachment(block: Mapping[str, Any], role: str) -> Attachment:
    """The image or file a non-text block of a ``role`` turn refers to; else a typed error."""
    kind = block.get("type")
    if kind not in ("image", "file", "image_url"):
        raise InvalidInputError(
            f"Content blocks of type {kind!r} cannot be sent to an app; images and files go as "
            "URLs (image or file blocks, or image_list=[...] / file_list=[...])."
        )
    if role != "user":
        raise InvalidInputError(
            f"Images and files can be attached to human turns only, not to a {role} turn."
        )
    media, url = _url_of(block)
    return Attachment(media, media_url(media, url, f"The {media} block's url"))


def attachments(message: BaseMessage) -> list[Attachment]:
    """The attachments of a human turn, in block order (its text is read by ``_text``)."""
    if isinstance(message.content, str):
        return []
    return [
        block_attachment(block, "user")
        for block in message.content
        if isinstance(block, Mapping) and block.get("type") != "text"
    ]
