"""Reading a Bailian completion request body into a :class:`ParsedRequest`, refusing bad input
the way the real service does (B6, B19, B20, B23, B25): 400 ``InvalidParameter`` envelopes."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from langchain_zilliz_bailian.server.errors import invalid_parameter
from langchain_zilliz_bailian.server.ids import IdKind, InvalidIdError, check_id

ROLES = ("system", "user", "assistant")
FLOW_STREAM_MODES = ("full_thoughts", "agent_format", "message_format", "message_format_plus")


@dataclass
class ParsedRequest:
    """A validated completion request."""

    app_id: str
    prompt: str
    history: list[dict[str, str]]
    session_id: str | None
    use_session_history: bool
    incremental: bool
    has_thoughts: bool
    #: ``rag_options.pipeline_ids``; None when absent (the app's knowledge bases then apply).
    pipeline_ids: list[str] | None
    filters: dict[str, Any]
    memory_id: str | None = None
    biz_params: dict[str, Any] = field(default_factory=dict)
    flow_stream_mode: str | None = None
    #: ``parameters.temperature`` / ``top_p`` / ``seed`` as sent: a model app passes them on.
    sampling: dict[str, float | int] = field(default_factory=dict)


def checked_id(kind: IdKind, value: object, where: str) -> str:
    """:func:`.ids.check_id` answering a malformed id with 400 ``InvalidParameter``."""
    try:
        return check_id(kind, value)
    except InvalidIdError as exc:
        raise invalid_parameter(f"{where}: {exc.message}") from None


def _check_urls(value: object, where: str) -> None:
    """``image_list``/``file_list``: absent, or an array of http(s) URLs. The built-in app has no
    vision and reads neither; they are only checked, so clients can send them."""
    if value is None:
        return
    if not isinstance(value, list) or not all(
        isinstance(url, str) and url.startswith(("http://", "https://")) for url in value
    ):
        raise invalid_parameter(f"{where} must be an array of http(s) URLs.")


def _messages(messages: object) -> list[dict[str, str]]:
    if not isinstance(messages, list):
        raise invalid_parameter("input.messages must be an array.")
    history = []
    for msg in messages:
        if (
            not isinstance(msg, dict)
            or msg.get("role") not in ROLES
            or not isinstance(msg.get("content"), str)
        ):
            raise invalid_parameter(
                "Every message needs a role (system, user or assistant) and string content."
            )
        history.append({"role": msg["role"], "content": msg["content"]})
    return history


def _flag(params: dict[str, Any], key: str) -> bool:
    value = params.get(key, False)
    if not isinstance(value, bool):
        raise invalid_parameter(f"parameters.{key} must be a boolean.")
    return value


#: The largest ``parameters.seed`` (DashScope's bound).
SEED_MAX = 2**31 - 1


def _number(params: dict[str, Any], key: str) -> float | None:
    value = params.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise invalid_parameter(f"parameters.{key} must be a number.")
    return value


def _sampling(params: dict[str, Any]) -> dict[str, float | int]:
    """``temperature`` in [0, 2), ``top_p`` in (0, 1] and ``seed`` in [0, 2**31 - 1], checked
    (absent or null: the model's default). ``top_k`` is accepted and not passed on: an
    OpenAI-compatible endpoint need not know it (OpenAI's own refuses it)."""
    sampling: dict[str, float | int] = {}
    temperature = _number(params, "temperature")
    if temperature is not None:
        if not 0 <= temperature < 2:
            raise invalid_parameter("parameters.temperature must be in [0, 2).")
        sampling["temperature"] = temperature
    top_p = _number(params, "top_p")
    if top_p is not None:
        if not 0 < top_p <= 1:
            raise invalid_parameter("parameters.top_p must be in (0, 1].")
        sampling["top_p"] = top_p
    seed = params.get("seed")
    if seed is not None:
        if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed <= SEED_MAX:
            raise invalid_parameter(f"parameters.seed must be an integer in [0, {SEED_MAX}].")
        sampling["seed"] = seed
    return sampling


def _rag_options(params: dict[str, Any]) -> tuple[list[str] | None, dict[str, Any]]:
    rag = params.get("rag_options") or {}
    if not isinstance(rag, dict):
        raise invalid_parameter("parameters.rag_options must be an object.")
    pipeline_ids = rag.get("pipeline_ids")
    if pipeline_ids is not None:
        if not isinstance(pipeline_ids, list) or not all(isinstance(p, str) for p in pipeline_ids):
            raise invalid_parameter("rag_options.pipeline_ids must be an array of strings.")
        for pid in pipeline_ids:
            checked_id("pipeline", pid, "rag_options.pipeline_ids")
    filters: dict[str, Any] = {}
    for key in ("metadata_filter", "structured_filter"):
        value = rag.get(key)
        if value is None:
            continue
        if not isinstance(value, dict):
            raise invalid_parameter(f"rag_options.{key} must be an object.")
        filters.update(value)
    return pipeline_ids, filters


def parse_request(app_id: str, body: Any, streaming: bool) -> ParsedRequest:
    """Validate one request body for ``app_id`` (already checked to exist)."""
    if not isinstance(body, dict):
        raise invalid_parameter("The request body must be a JSON object.")
    inp = body.get("input")
    params = body.get("parameters") or {}
    if inp is not None and not isinstance(inp, dict):
        raise invalid_parameter("input must be an object.")
    if not isinstance(params, dict):
        raise invalid_parameter("parameters must be an object.")
    inp = inp or {}
    prompt = inp.get("prompt")
    messages = inp.get("messages")
    if prompt is not None and not isinstance(prompt, str):
        raise invalid_parameter("input.prompt must be a string.")
    if (not prompt) and not messages:
        raise invalid_parameter('Either "prompt" or "messages" must exist')
    history = _messages(messages) if messages is not None else []
    if prompt:
        history.append({"role": "user", "content": prompt})
    if not history or history[-1]["role"] != "user":
        raise invalid_parameter("The last message must come from the user.")
    query = history.pop()["content"]
    session_id = inp.get("session_id")
    if session_id is not None and session_id != "":
        # A plain token, looked up exactly; anything else is refused before it reaches Milvus.
        checked_id("session", session_id, "input.session_id")
    memory_id = inp.get("memory_id")
    if memory_id is not None and memory_id != "":
        checked_id("memory", memory_id, "input.memory_id")
    for key in ("image_list", "file_list"):
        _check_urls(inp.get(key), f"input.{key}")
    biz_params = inp.get("biz_params") or {}
    if not isinstance(biz_params, dict):
        raise invalid_parameter("input.biz_params must be an object.")
    incremental = _flag(params, "incremental_output")
    if incremental and not streaming:
        raise invalid_parameter("parameter incremental_output only support stream call")
    flow_stream_mode = params.get("flow_stream_mode")
    if flow_stream_mode is not None and flow_stream_mode not in FLOW_STREAM_MODES:
        raise invalid_parameter(
            "parameters.flow_stream_mode must be one of " + ", ".join(FLOW_STREAM_MODES) + "."
        )
    pipeline_ids, filters = _rag_options(params)
    return ParsedRequest(
        app_id=app_id,
        prompt=query,
        history=history,
        session_id=session_id or None,
        use_session_history=messages is None,
        incremental=incremental,
        has_thoughts=_flag(params, "has_thoughts"),
        pipeline_ids=pipeline_ids,
        filters=filters,
        memory_id=memory_id or None,
        biz_params=biz_params,
        flow_stream_mode=flow_stream_mode,
        sampling=_sampling(params),
    )
