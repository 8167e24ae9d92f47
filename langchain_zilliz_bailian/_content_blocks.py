"""LangChain standard content blocks for Bailian answers: cited text and the app's thoughts.

Messages from ``ChatBailianApp`` carry ``response_metadata["model_provider"] = "bailian"``, so
``AIMessage.content_blocks`` calls the translator registered here (langchain-core's
``block_translators`` mechanism). ``content`` stays the app's raw string, markers included (the
text exactly as the app wrote it, as before); the blocks are derived from it:

* a ``text`` block with the markers removed and one ``citation`` annotation per cited id
  (``title``, ``url``, ``cited_text``, ``start_index``/``end_index`` into that text, and
  ``extras`` with ``index_id``, ``doc_id``, ``doc_name``; an id with no ``doc_references``
  entry has only its span and ``index_id``);
* before it, one block per thought: ``reasoning`` for reasoning steps (``action_type``
  ``"reasoning"``, or a bare ``thought``), and a ``server_tool_call`` plus its
  ``server_tool_result`` for retrieval, memory and plugin steps the app ran itself.

A streamed chunk gives its own text without markers (the stream hands on whole markers only);
citations need the references, which come on the last chunk, so they appear on the merged
message (``chunk + chunk + ...``), equal to what ``invoke`` gives. With ``output_version="v1"``
the blocks replace ``content``: ``invoke`` gives the blocks above, but streamed chunks, turned
into blocks one by one, carry text and (last) thoughts without citation annotations.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any, cast

from langchain_core.messages import AIMessage, AIMessageChunk
from langchain_core.messages import content as types
from langchain_core.messages.block_translators import register_translator

from langchain_zilliz_bailian.bailian.cited_answers import Citation, parse_citations

__all__ = ["PROVIDER", "translate_chunk", "translate_message"]

#: The ``model_provider`` our messages carry in ``response_metadata``.
PROVIDER = "bailian"


def _annotation(citation: Citation) -> types.Citation:
    data = citation.as_dict()
    block: dict[str, Any] = {
        "type": "citation",
        "start_index": citation.start,
        "end_index": citation.end,
        **{key: data[key] for key in ("title", "url", "cited_text") if key in data},
        "extras": {key: data[key] for key in ("index_id", "doc_id", "doc_name") if key in data},
    }
    return cast(types.Citation, block)


def _json(value: Any) -> Any:
    """A JSON string decoded (thought fields often are), anything else unchanged."""
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def _thought_blocks(index: int, thought: Mapping[str, Any]) -> list[types.ContentBlock]:
    kind = thought.get("action_type")
    extras = {k: thought[k] for k in ("action_type", "action_name", "action") if thought.get(k)}
    if kind == "reasoning" or (not kind and not thought.get("action")):
        text = thought.get("thought") or thought.get("response") or ""
        reasoning: dict[str, Any] = {"type": "reasoning", "reasoning": str(text)}
        if extras:
            reasoning["extras"] = extras
        return [cast(types.ReasoningContentBlock, reasoning)]
    call_id = f"bailian-thought-{index}"
    args = _json(thought.get("arguments") or thought.get("action_input"))
    call: dict[str, Any] = {
        "type": "server_tool_call",
        "id": call_id,
        "name": str(thought.get("action") or kind or "app_step"),
        "args": args if isinstance(args, dict) else ({} if args is None else {"input": args}),
        "extras": extras,
    }
    blocks: list[types.ContentBlock] = [cast(types.ServerToolCall, call)]
    if thought.get("observation") is not None:
        result = {
            "type": "server_tool_result",
            "tool_call_id": call_id,
            "status": "success",
            "output": _json(thought["observation"]),
        }
        blocks.append(cast(types.ServerToolResult, result))
    return blocks


def _blocks(message: AIMessage, *, cite: bool) -> list[types.ContentBlock]:
    if not isinstance(message.content, str):
        raise NotImplementedError  # content someone made into blocks: langchain-core's parsing
    metadata = message.response_metadata
    blocks: list[types.ContentBlock] = []
    thoughts: Sequence[Any] = metadata.get("thoughts") or ()
    for index, thought in enumerate(thoughts):
        if isinstance(thought, Mapping):
            blocks.extend(_thought_blocks(index, thought))
    answer = parse_citations(message.content, metadata.get("doc_references") or ())
    if answer.text:
        text: dict[str, Any] = {"type": "text", "text": answer.text}
        if cite and answer.citations:
            text["annotations"] = [_annotation(c) for c in answer.citations]
        blocks.append(cast(types.TextContentBlock, text))
    return blocks


def translate_message(message: AIMessage) -> list[types.ContentBlock]:
    """Standard blocks of a whole answer (``invoke``, or merged stream chunks)."""
    return _blocks(message, cite=True)


def translate_chunk(chunk: AIMessageChunk) -> list[types.ContentBlock]:
    """Standard blocks of a chunk: citations only once merged into the last chunk."""
    return _blocks(chunk, cite=chunk.chunk_position == "last")


register_translator(PROVIDER, translate_message, translate_chunk)
