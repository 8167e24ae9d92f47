"""Building the request: the JSON body ``{"input": ..., "parameters": ...}`` and the headers.

Only what the caller set is sent (``None`` means "not set"). Keys this package does not know are
passed through unchanged via ``input_extra`` and ``parameters``; the server tolerates unknown
``parameters`` keys. ``incremental_output`` goes out only on streamed calls, since non-stream
calls may reject it (``InvalidParameter``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from typing_extensions import TypedDict

from langchain_zilliz_bailian._http.checks import check_id
from langchain_zilliz_bailian.bailian._constants import WORKSPACE_HEADER
from langchain_zilliz_bailian.bailian.media import media_lists
from langchain_zilliz_bailian.errors import InvalidInputError

__all__ = ["ROLES", "AppOptions", "build_body", "build_headers"]

#: The roles ``input.messages`` accepts.
ROLES = ("system", "user", "assistant")

_INPUT_KEYS = ("session_id", "memory_id", "biz_params")
_PARAMETER_KEYS = (
    "has_thoughts",
    "flow_stream_mode",
    "rag_options",
    "temperature",
    "top_p",
    "top_k",
    "seed",
)


class AppOptions(TypedDict, total=False):
    """Everything a call can set besides the prompt; ``None`` (or absent) means "not sent"."""

    #: Client-side history, ``[{"role": "system" | "user" | "assistant", "content": str}]``.
    messages: Sequence[Mapping[str, str]] | None
    #: Server-side history: send back the ``session_id`` of the previous answer.
    session_id: str | None
    #: Long-term memory (the app must have it enabled).
    memory_id: str | None
    #: Workflow / agent start-node parameters (``user_defined_params``, ``user_defined_tokens``).
    biz_params: Mapping[str, Any] | None
    #: Image and file URLs the app downloads (http(s) only; repeats are sent once).
    image_list: Sequence[str] | None
    file_list: Sequence[str] | None
    #: ``pipeline_ids``, ``file_ids``, ``tags``, ``metadata_filter``, ``structured_filter``, ...
    rag_options: Mapping[str, Any] | None
    #: Return retrieval, plugin and reasoning steps in ``thoughts``.
    has_thoughts: bool | None
    #: ``full_thoughts`` | ``agent_format`` | ``message_format`` | ``message_format_plus``.
    flow_stream_mode: str | None
    temperature: float | None
    top_p: float | None
    top_k: int | None
    seed: int | None
    #: Per-call workspace (``ws_...``), overriding the client's.
    workspace: str | None
    #: Further ``input`` keys, sent as given (``doc_tag_codes``, ``doc_reference_type``, ...).
    input_extra: Mapping[str, Any] | None
    #: Further ``parameters`` keys, sent as given (``enable_thinking``, ``model_id``, ...).
    parameters: Mapping[str, Any] | None


def _messages(messages: Sequence[Mapping[str, str]]) -> list[dict[str, str]]:
    out = []
    for message in messages:
        role, content = message.get("role"), message.get("content")
        if role not in ROLES:
            raise InvalidInputError(f"Message role must be one of {ROLES}, got {role!r}.")
        if not isinstance(content, str):
            raise InvalidInputError(f"Message content must be a string, got {content!r}.")
        out.append({"role": role, "content": content})
    return out


def build_body(
    prompt: str | None,
    options: AppOptions,
    *,
    stream: bool,
    incremental_output: bool = True,
) -> dict[str, Any]:
    """The request body. ``prompt`` with ``messages`` becomes their last user turn (as the SDKs do).

    Raises :class:`InvalidInputError` when there is neither a prompt nor messages (the server
    would answer 400 ``InvalidParameter``) or an ``image_list``/``file_list`` entry is not an
    http(s) URL (:mod:`~langchain_zilliz_bailian.bailian.media`).
    """
    messages = _messages(options.get("messages") or [])
    if prompt is not None and not isinstance(prompt, str):
        raise InvalidInputError(f"prompt must be a string, got {type(prompt).__name__}.")
    if not prompt and not messages:
        raise InvalidInputError('Either "prompt" or "messages" must be given.')

    body_input: dict[str, Any] = dict(options.get("input_extra") or {})
    if messages:
        if prompt:
            messages.append({"role": "user", "content": prompt})
        body_input.pop("prompt", None)
        body_input["messages"] = messages
    else:
        body_input["prompt"] = prompt
    for key in _INPUT_KEYS:
        value = options.get(key)
        if value is not None:
            body_input[key] = value
    body_input.update(media_lists(options))

    parameters: dict[str, Any] = dict(options.get("parameters") or {})
    for key in _PARAMETER_KEYS:
        value = options.get(key)
        if value is not None:
            parameters[key] = value
    if stream:
        parameters["incremental_output"] = incremental_output
    else:
        parameters.pop("incremental_output", None)
    return {"input": body_input, "parameters": parameters}


def build_headers(*, stream: bool, workspace: str | None) -> dict[str, str]:
    """Headers of one call: SSE switched on for streams, the workspace when one is set."""
    headers = (
        {"Accept": "text/event-stream", "X-DashScope-SSE": "enable"}
        if stream
        else {"Accept": "application/json"}
    )
    if workspace:
        headers[WORKSPACE_HEADER] = check_id("workspace", workspace)
    return headers
