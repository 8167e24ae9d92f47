"""What a real model is sent and how its citations come back in Bailian's form.

:func:`model_messages` puts the app's system prompt, the retrieved passages numbered ``[n]`` and the
conversation into chat-completions messages. :class:`CitationMarkers` rewrites the model's ``[n]``
citations into Bailian's ``<ref>[n]</ref>`` markers while the text streams, holding back only the
few characters of a bracket that may still become a citation.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping, Sequence

from langchain_zilliz_bailian.server.answer import Passage

__all__ = ["CitationMarkers", "model_messages"]

CITE_INSTRUCTION = (
    "Answer from the numbered passages below when they are relevant, and cite each passage you "
    "use with its number in square brackets, like [1]. If they do not contain the answer, say so."
)
MEMORY_HEADING = "What the user told you in earlier conversations:"
_MAX_PENDING = 8  # "<ref>[123" is the longest prefix worth holding back
_CITATION_RE = re.compile(r"\[(\d{1,4})\]")


def _passages_block(passages: Sequence[Passage]) -> str:
    parts = []
    for p in passages:
        head = f"[{p.index_id}]" + (f" {p.title}" if p.title else "")
        parts.append(f"{head}\n{p.text.strip()}")
    return CITE_INSTRUCTION + "\n\n" + "\n\n".join(parts)


def model_messages(
    system_prompt: str | None,
    passages: Sequence[Passage],
    conversation: Sequence[Mapping[str, str]],
    memories: Sequence[str] = (),
) -> list[dict[str, str]]:
    """One leading system message (the app's prompt, the caller's system turns, recalled
    memories, the passages),
    then the conversation's user and assistant turns in order (the last one is the question).
    Many chat templates accept a single system message only, hence the merge."""
    system = [system_prompt.strip()] if system_prompt and system_prompt.strip() else []
    turns: list[dict[str, str]] = []
    for message in conversation:
        if message["role"] == "system":
            system.append(message["content"])
        else:
            turns.append({"role": message["role"], "content": message["content"]})
    if memories:
        system.append(MEMORY_HEADING + "\n" + "\n".join(f"- {m}" for m in memories))
    if passages:
        system.append(_passages_block(passages))
    head = [{"role": "system", "content": "\n\n".join(system)}] if system else []
    return head + turns


class CitationMarkers:
    """Streaming rewrite of ``[n]`` (``n`` a passage number) to ``<ref>[n]</ref>``.

    Text already in marker form passes unchanged. :attr:`cited` lists the numbers in the order they
    were first cited.
    """

    def __init__(self, numbers: Collection[str]) -> None:
        self._numbers = set(numbers)
        self._pending = ""
        self._out = ""  # what was emitted, to recognise a model's own ``<ref>`` prefix
        self.cited: list[str] = []

    def _rewrite(self, text: str) -> str:
        def replace(match: re.Match[str]) -> str:
            number = match.group(1)
            if number not in self._numbers:
                return match.group(0)
            if number not in self.cited:
                self.cited.append(number)
            before = (self._out + text[: match.start()])[-5:]
            if before == "<ref>":
                return match.group(0)
            after = text[match.end() : match.end() + 6]
            return f"<ref>[{number}]" + ("" if after.startswith("</ref>") else "</ref>")

        return _CITATION_RE.sub(replace, text)

    def feed(self, delta: str) -> str:
        """The part of ``delta`` (with what was held back) that can be emitted now."""
        if not self._numbers:  # nothing to cite: every delta passes at once
            return delta
        text = self._pending + delta
        cut = text.rfind("[")
        if cut != -1 and re.fullmatch(r"\[\d{0,4}", text[cut:]) and len(text) - cut < _MAX_PENDING:
            ready, self._pending = text[:cut], text[cut:]
        else:
            ready, self._pending = text, ""
        # A citation closes only when its "]" arrived; "</ref>" after it may still be pending.
        out = self._rewrite(ready)
        self._out = (self._out + out)[-16:]
        return out

    def flush(self) -> str:
        """What is still held back, at the end of the stream."""
        text, self._pending = self._pending, ""
        out = self._rewrite(text)
        self._out = (self._out + out)[-16:]
        return out
