"""How a chat history and per-call keywords become one app request, for every framework.

The rules (shared by LangChain's ``ChatBailianApp`` and LlamaIndex's ``BailianAppLLM``): turns go
out as ``input.messages`` with roles system/user/assistant, consecutive turns of one role merged;
a lone user turn goes out as ``prompt`` (it also fills a workflow's ``query``); with a
``session_id`` only the last user turn is sent, because the server keeps the history.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from typing import Any, TypeVar

from langchain_zilliz_bailian.bailian.request import AppOptions
from langchain_zilliz_bailian.errors import InvalidInputError

__all__ = [
    "INSTANCE_OPTIONS",
    "OPTION_KEYS",
    "app_options",
    "chat_request",
    "instance_options",
    "merge_turns",
]

M = TypeVar("M")

#: Call keywords that are request options; any other keyword is sent as a ``parameters`` key.
OPTION_KEYS = frozenset(AppOptions.__optional_keys__)
#: Request options a framework class keeps as fields of the same name (its per-call defaults).
INSTANCE_OPTIONS = (
    "session_id",
    "memory_id",
    "biz_params",
    "rag_options",
    "has_thoughts",
    "flow_stream_mode",
    "temperature",
    "top_p",
    "top_k",
    "seed",
)


def instance_options(settings: object) -> dict[str, Any]:
    """The :data:`INSTANCE_OPTIONS` fields of a framework object, as call defaults."""
    return {name: getattr(settings, name) for name in INSTANCE_OPTIONS}


def merge_turns(turns: Sequence[tuple[str, str]]) -> list[dict[str, str]]:
    """``input.messages`` from ``(role, text)`` pairs, consecutive turns of one role merged."""
    merged: list[dict[str, str]] = []
    for role, content in turns:
        if merged and merged[-1]["role"] == role:
            merged[-1]["content"] += "\n\n" + content
        else:
            merged.append({"role": role, "content": content})
    return merged


def chat_request(
    messages: Sequence[M],
    options: AppOptions,
    *,
    role: Callable[[M], str],
    text: Callable[[M], str],
) -> tuple[str | None, AppOptions]:
    """The ``prompt`` and options of a chat call; ``role``/``text`` read a framework's message."""
    if options.get("session_id"):
        last = next((m for m in reversed(messages) if role(m) == "user"), None)
        if last is None:
            raise InvalidInputError("With a session_id, the messages must hold a user turn.")
        return text(last), options
    turns = merge_turns([(role(m), text(m)) for m in messages])
    if not turns:
        raise InvalidInputError("No messages to send to the app.")
    if len(turns) == 1 and turns[0]["role"] == "user":
        return turns[0]["content"], options
    return None, {**options, "messages": turns}


def app_options(
    defaults: Mapping[str, Any],
    parameters: Mapping[str, Any],
    kwargs: Mapping[str, Any],
    *,
    ignored: Collection[str] = (),
    ignored_prefixes: tuple[str, ...] = (),
) -> AppOptions:
    """Instance ``defaults`` overlaid with call keywords; unknown keywords join ``parameters``.

    ``ignored`` names keywords a framework passes that an app cannot use (``max_tokens``, ...).
    Options left at ``None`` are not sent.
    """
    options = dict(defaults)
    merged = dict(parameters)
    for key, value in kwargs.items():
        if key == "parameters":
            merged.update(value or {})
        elif key in OPTION_KEYS:
            options[key] = value
        elif key not in ignored and not key.startswith(ignored_prefixes or ("\0",)):
            merged[key] = value
    options["parameters"] = merged
    return {k: v for k, v in options.items() if v is not None}  # type: ignore[return-value]
