"""``output.thoughts`` entries in the shapes the recorded real responses show: the knowledge
retrieval step (``agentRag``) and the long-term memory lookup (``api``/``memory``); both carry
their inputs and results as JSON strings."""

from __future__ import annotations

import json
from typing import Any

from langchain_zilliz_bailian.server.answer import Passage


def _compact(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def reasoning_thought(reasoning: str) -> dict[str, Any]:
    """The ``思考过程`` step of a thinking model, as the recorded deepseek-r1 app shows it."""
    return {
        "thought": reasoning,
        "action_type": "reasoning",
        "response": reasoning,
        "action_name": "思考过程",
        "action": "reasoning",
    }


def retrieval_thought(passages: list[Passage]) -> dict[str, Any]:
    """The ``知识检索`` step with every retrieved passage (``referenceIndex`` = its ``[n]``)."""
    observation = [
        {
            "content": p.text,
            "dataId": p.doc_id,
            "dataName": p.doc_name,
            "display": True,
            "id": p.doc_id,
            "images": [],
            "referenceIndex": int(p.index_id),
            "score": p.score,
            "title": p.title,
            "webSearch": False,
        }
        for p in passages
    ]
    return {
        "action_input_stream": "{}",
        "action_type": "agentRag",
        "observation": _compact(observation),
        "action_name": "知识检索",
        "action": "rag",
        "arguments": "{}",
    }


def memory_thought(memory_id: str, query: str, facts: list[str]) -> dict[str, Any]:
    """The ``长期记忆检索`` step: the lookup's arguments and the facts it recalled."""
    arguments = _compact({"memory_id": memory_id, "query": query})
    return {
        "action_input_stream": arguments,
        "action_type": "api",
        "observation": _compact([{"content": fact} for fact in facts]),
        "action_name": "长期记忆检索",
        "action": "memory",
        "arguments": arguments,
    }
