"""Long-term memory per ``memory_id``: facts a user stated about themselves ("My name is Ada.",
"I live in Hangzhou."), kept across sessions in the metadata collection (kind ``memory``) and
recalled for later turns that ask about them."""

from __future__ import annotations

import re
import time
from typing import Any

from langchain_zilliz_bailian.server.ids import check_id
from langchain_zilliz_bailian.server.sentences import split_sentences
from langchain_zilliz_bailian.server.storage import Storage
from langchain_zilliz_bailian.server.text import terms

MAX_FACTS = 100
MAX_FACT_CHARS = 300
_FIRST_PERSON_RE = re.compile(r"\b(i|i'm|i've|i'd|my|mine|me)\b|我", re.IGNORECASE)
_QUESTION_RE = re.compile(r"[?？]\s*$|吗\s*$")  # noqa: RUF001


def stated_facts(user_turn: str) -> list[str]:
    """The sentences of ``user_turn`` in which the user states something about themselves."""
    facts = []
    for sentence in split_sentences(user_turn):
        if _QUESTION_RE.search(sentence) or not _FIRST_PERSON_RE.search(sentence):
            continue
        if len(terms(sentence)) >= 1 and len(sentence) <= MAX_FACT_CHARS:
            facts.append(sentence)
    return facts


class LongTermMemory:
    """Stores and recalls the facts of each memory id."""

    def __init__(self, storage: Storage) -> None:
        self.storage = storage

    def facts(self, memory_id: str) -> list[str]:
        """Every stored fact of ``memory_id``, oldest first."""
        record = self.storage.get_meta("memory", check_id("memory", memory_id))
        return list((record or {}).get("facts", []))

    def remember(self, memory_id: str, user_turn: str) -> list[str]:
        """Store the facts stated in ``user_turn`` (newest kept when full); return them."""
        new = stated_facts(user_turn)
        if not new:
            return []

        def add(record: dict[str, Any] | None) -> dict[str, Any]:
            kept = [f for f in (record or {}).get("facts", []) if f not in new]
            return {"facts": [*kept, *new][-MAX_FACTS:], "updated": int(time.time() * 1000)}

        self.storage.update_meta("memory", check_id("memory", memory_id), add)
        return new

    def recall(self, memory_id: str, query: str, limit: int = 3) -> list[str]:
        """The stored facts sharing terms with ``query``, most shared first (newest on ties)."""
        wanted = set(terms(query))
        scored = []
        for age, fact in enumerate(reversed(self.facts(memory_id))):
            overlap = len(wanted & set(terms(fact)))
            if overlap:
                scored.append((-overlap, age, fact))
        return [fact for _, _, fact in sorted(scored)[:limit]]
