"""Reading a conversation for retrieval: a follow-up turn ("And where?") is searched together
with the user turn before it, so it finds the topic the conversation is about."""

from __future__ import annotations

import re

from langchain_zilliz_bailian.server.prompt_context import read_prompt
from langchain_zilliz_bailian.server.text import terms

#: A turn that leans on an earlier one: it opens with a connective or refers back with a pronoun.
_FOLLOW_UP_RE = re.compile(
    r"^\s*(and|also|what about|how about|then|so|but|or)\b"
    r"|\b(it|its|it's|they|them|their|that|this|those|these|there|he|she|his|her)\b"
    r"|^\s*(那|那么|还有|它|他|她|这个|那个)",
    re.IGNORECASE,
)
#: How much of the previous user turn joins the query (a RAG prompt may carry a long context).
PREVIOUS_TURN_CHARS = 500


def is_follow_up(query: str) -> bool:
    """Whether ``query`` needs the conversation to be understood (at most one content term, or
    a connective or back-reference)."""
    return len(set(terms(query))) <= 1 or _FOLLOW_UP_RE.search(query) is not None


def previous_user_turn(history: list[dict[str, str]]) -> str | None:
    """The last user message before the current turn, or None."""
    return next((m["content"] for m in reversed(history) if m["role"] == "user"), None)


def retrieval_query(query: str, history: list[dict[str, str]]) -> str:
    """The text to search with: ``query``, preceded by the previous user turn's question (not the
    context a RAG prompt sent with it) for a follow-up."""
    previous = previous_user_turn(history)
    if not previous or not is_follow_up(query):
        return query
    asked = read_prompt(previous, []).question
    return f"{asked[-PREVIOUS_TURN_CHARS:]}\n{query}"
