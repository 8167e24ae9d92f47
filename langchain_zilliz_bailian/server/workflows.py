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
from typing import Any

from langchain_zilliz_bailian.server.answer import Passage
from langchain_zilliz_bailian.server.apps import WorkflowParameter
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
SUPPORTED_MODES = (AGENT_FORMAT, MESSAGE_FORMAT_PLUS)
#: The start node's built-in parameter, filled from ``input.prompt`` (the user turn).
QUERY = "query"
_PLACEHOLDER_RE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


def flow_mode(mode: str | None) -> str | None:
    """A workflow's ``flow_stream_mode`` (already one of the documented values, or None): the
    modes the local server streams pass; ``full_thoughts`` and ``message_format`` are 400."""
    if mode is not None and mode not in SUPPORTED_MODES:
        raise invalid_parameter(
            f"flow_stream_mode {mode} is not supported by the local server; use "
            f"{MESSAGE_FORMAT_PLUS} (node messages) or {AGENT_FORMAT} (text)."
        )
    return mode


def start_values(
    declared: Sequence[WorkflowParameter], biz_params: Mapping[str, Any], query: str
) -> dict[str, Any]:
    """The start node's values: ``query`` and each declared parameter ``biz_params`` gives."""
    values: dict[str, Any] = {QUERY: query}
    for param in declared:
        if biz_params.get(param.name) is not None:
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

    def retrieved(self, passages: Sequence[Passage]) -> dict[str, Any]:
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


@dataclass
class WorkflowRun:
    """One run of a workflow app: its start values and, with ``message_format_plus``, the node
    messages each stream event carries (None for the other modes)."""

    values: dict[str, Any]
    mode: str | None
    trace: WorkflowTrace

    @classmethod
    def begin(
        cls,
        declared: Sequence[WorkflowParameter],
        biz_params: Mapping[str, Any],
        query: str,
        mode: str | None,
        incremental: bool,
    ) -> WorkflowRun:
        """Check the mode and fill the start node (400 ``InvalidParameter`` on either)."""
        checked = flow_mode(mode)
        return cls(start_values(declared, biz_params, query), checked, WorkflowTrace(incremental))

    @property
    def node_messages(self) -> bool:
        """Whether events carry ``workflow_message`` (``message_format_plus``)."""
        return self.mode == MESSAGE_FORMAT_PLUS

    def opening(self, passages: Sequence[Passage]) -> list[dict[str, Any]]:
        """The messages of the nodes that finish before the model speaks (Start, retrieval)."""
        if not self.node_messages:
            return []
        return [self.trace.start(self.values), self.trace.retrieved(passages)]

    def generating(self, delta: str, so_far: str) -> dict[str, Any] | None:
        """The model node's message for one delta."""
        return self.trace.generating(delta, so_far) if self.node_messages else None

    def closing(self, text: str) -> list[dict[str, Any]]:
        """The model node completed, then the End node (the last one goes on the stop event)."""
        if not self.node_messages:
            return []
        return [self.trace.generated(text), self.trace.end(text)]
