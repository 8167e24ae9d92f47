"""Workflow apps: start-node parameters from ``biz_params`` and ``workflow_message`` node events.

A local workflow is the smallest real one: Start (the built-in ``query`` plus the declared
parameters) → knowledge retrieval → model → End. ``biz_params`` fill the declared parameters (a
missing required one is 400 ``InvalidParameter``; undeclared keys, the reserved
``user_defined_params``/``user_defined_tokens`` included, are ignored as the service ignores what a
workflow does not read) and ``${name}`` in the app's system prompt is replaced by its value.

``flow_stream_mode``: ``message_format_plus`` adds a ``workflow_message`` to every event, node by
node; ``agent_format`` (and no mode) streams the answer in ``text`` as an agent app does;
``full_thoughts`` and ``message_format`` are refused with 400 ``InvalidParameter``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from langchain_zilliz_bailian.server.errors import invalid_parameter

__all__ = [
    "MESSAGE_FORMAT_PLUS",
    "WorkflowTrace",
    "fill_prompt",
    "flow_mode",
    "start_values",
]

MESSAGE_FORMAT_PLUS = "message_format_plus"
AGENT_FORMAT = "agent_format"
DOCUMENTED_MODES = ("full_thoughts", AGENT_FORMAT, "message_format", MESSAGE_FORMAT_PLUS)
SUPPORTED_MODES = (AGENT_FORMAT, MESSAGE_FORMAT_PLUS)
#: The start node's built-in parameter, filled from ``input.prompt`` (the user turn).
QUERY = "query"
_PLACEHOLDER_RE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


class StartParameter(Protocol):
    """A declared start-node parameter (the registry's ``WorkflowParameter`` fits)."""

    @property
    def name(self) -> str: ...

    @property
    def required(self) -> bool: ...


def flow_mode(parameters: Mapping[str, Any]) -> str | None:
    """``parameters.flow_stream_mode`` checked: None, or one of :data:`SUPPORTED_MODES`."""
    mode = parameters.get("flow_stream_mode")
    if mode is None:
        return None
    if not isinstance(mode, str) or mode not in DOCUMENTED_MODES:
        raise invalid_parameter(
            "parameters.flow_stream_mode must be one of " + ", ".join(DOCUMENTED_MODES) + "."
        )
    if mode not in SUPPORTED_MODES:
        raise invalid_parameter(
            f"flow_stream_mode {mode} is not supported by the local server; use "
            f"{MESSAGE_FORMAT_PLUS} (node messages) or {AGENT_FORMAT} (text)."
        )
    return mode


def start_values(
    declared: Sequence[StartParameter], biz_params: object, query: str
) -> dict[str, Any]:
    """The start node's values: ``query`` and each declared parameter ``biz_params`` gives."""
    if biz_params is None:
        biz_params = {}
    if not isinstance(biz_params, dict):
        raise invalid_parameter("input.biz_params must be an object.")
    values: dict[str, Any] = {QUERY: query}
    for param in declared:
        if param.name in biz_params and biz_params[param.name] is not None:
            values[param.name] = biz_params[param.name]
        elif param.required:
            raise invalid_parameter(
                f"Missing required parameter {param.name!r} of the workflow's start node "
                "(pass it in input.biz_params)."
            )
    return values


def _as_text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def fill_prompt(template: str, values: Mapping[str, Any]) -> str:
    """``${name}`` replaced by the start value ``name`` (an unfilled optional one by "")."""
    return _PLACEHOLDER_RE.sub(lambda m: _as_text(values.get(m.group(1), "")), template)


@dataclass
class _Node:
    node_id: str
    node_name: str
    node_type: str
    seq: int = 0


@dataclass
class WorkflowTrace:
    """The ``workflow_message`` objects of one run, in the Java SDK's ``WorkflowMessage`` shape.

    Node message content follows the text mode: deltas when ``incremental``, else all so far.
    """

    incremental: bool
    nodes: dict[str, _Node] = field(
        default_factory=lambda: {
            "start": _Node("Start_1", "Start", "Start"),
            "retrieve": _Node("Retrieval_1", "Knowledge retrieval", "Retrieval"),
            "model": _Node("LLM_1", "LLM", "LLM"),
            "end": _Node("End_1", "End", "End"),
        }
    )

    def _message(self, key: str, content: str, completed: bool) -> dict[str, Any]:
        node = self.nodes[key]
        node.seq += 1
        return {
            "node_id": node.node_id,
            "node_name": node.node_name,
            "node_type": node.node_type,
            "node_status": "success" if completed else "executing",
            "node_is_completed": completed,
            "node_msg_seq_id": node.seq,
            "message": {"role": "assistant", "content": content},
        }

    def start(self, values: Mapping[str, Any]) -> dict[str, Any]:
        """The Start node, completed, with its values as JSON."""
        return self._message("start", json.dumps(values, ensure_ascii=False), True)

    def retrieved(self, passages: Sequence[Any]) -> dict[str, Any]:
        """The retrieval node, completed, listing what it found."""
        found = [
            {"index_id": p.index_id, "title": p.title, "doc_name": p.doc_name, "score": p.score}
            for p in passages
        ]
        return self._message("retrieve", json.dumps(found, ensure_ascii=False), True)

    def generating(self, delta: str, so_far: str) -> dict[str, Any]:
        """The model node while it streams."""
        return self._message("model", delta if self.incremental else so_far, False)

    def generated(self, text: str) -> dict[str, Any]:
        """The model node, completed (empty content in incremental mode, as text events are)."""
        return self._message("model", "" if self.incremental else text, True)

    def end(self, text: str) -> dict[str, Any]:
        """The End node, completed, with the workflow's output."""
        return self._message("end", text, True)
