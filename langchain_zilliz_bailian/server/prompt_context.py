"""Finding the question and the retrieved context inside a RAG prompt a framework sent.

The shapes it reads (all as sent by the frameworks, no markup of ours):

* LlamaIndex's default ``text_qa_template`` (and its chat variant, whose system turn is only
  instructions): ``Context information is below.`` then the context between two lines of dashes,
  then ``Query: <question>`` and ``Answer:``, in the user turn;
* LangChain prompts with the context in the system turn (``("system", "Answer from this context
  only:\\n{context}"), ("human", "{question}")``) or in the user turn with labels
  (``Question: {question} Context: {context} Answer:``, as the widely used ``rag-prompt``);
* ``<context>...</context>`` (or ``<documents>``) tags in either turn.

The context is cut into passages at blank lines; what is not context or question is instructions.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

_DELIMITER_RE = re.compile(r"^\s*(?:-{3,}|={3,}|_{3,}|\*{3,})\s*$", re.MULTILINE)
_TAG_RE = re.compile(
    r"<(context|documents?|sources?|knowledge)>\s*(.*?)\s*</\1>", re.IGNORECASE | re.DOTALL
)
_COLON = "[:\uff1a]"  # ASCII or full-width
_LABEL = r"(?:query|question|user question|问题|用户问题)"
_QUESTION_RE = re.compile(
    rf"^[ \t]*{_LABEL}[ \t]*{_COLON}[ \t]*(.*?)[ \t]*$",
    re.IGNORECASE | re.MULTILINE,
)
_CONTEXT_LABEL_RE = re.compile(
    r"^[ \t]*(?:retrieved )?(?:context|documents?|sources|上下文|参考资料|已知信息)"
    rf"[ \t]*{_COLON}[ \t]*",
    re.IGNORECASE | re.MULTILINE,
)
_ANSWER_LABEL_RE = re.compile(
    rf"^[ \t]*(?:answer|回答|答案)[ \t]*{_COLON}.*$", re.IGNORECASE | re.MULTILINE
)
#: A system-turn line that instructs the model rather than informs it.
_INSTRUCTION_RE = re.compile(
    r"\b(?:context|prior knowledge|the query|answer the|you are an?)\b", re.IGNORECASE
)
#: A line that introduces what follows ("Answer from this context only:").
_INTRO_LINE_RE = re.compile(rf"^[^\n]{{0,200}}{_COLON}[ \t]*$", re.MULTILINE)


@dataclass
class PromptContext:
    """The question a prompt asks and the context passages it carries."""

    question: str
    passages: list[str] = field(default_factory=list)
    #: Whether a context block was recognised (tags, separators, a label or an intro line), as
    #: opposed to system turns read whole.
    has_block: bool = False


def _passages(context: str) -> list[str]:
    """Context text cut at blank lines (and separator lines) into non-empty passages."""
    parts = re.split(r"\n\s*\n|" + _DELIMITER_RE.pattern, context, flags=re.MULTILINE)
    return [p.strip() for p in parts if p and p.strip()]


def _labelled_question(text: str) -> tuple[str, str] | None:
    """``(question, text without the question and answer lines)`` for a labelled question."""
    matches = [m for m in _QUESTION_RE.finditer(text) if m.group(1).strip()]
    if not matches:
        return None
    last = matches[-1]
    rest = text[: last.start()] + text[last.end() :]
    return last.group(1).strip(), _ANSWER_LABEL_RE.sub("", rest)


def _context_of(text: str, intro: bool) -> str | None:
    """The context block in ``text``: tagged, between separator lines, after a context label,
    or (with ``intro``, for system turns) after a line that introduces it; None if none."""
    tagged = _TAG_RE.findall(text)
    if tagged:
        return "\n\n".join(body for _, body in tagged)
    delimiters = list(_DELIMITER_RE.finditer(text))
    if len(delimiters) >= 2:
        return text[delimiters[0].end() : delimiters[-1].start()]
    label = _CONTEXT_LABEL_RE.search(text)
    if label is not None:
        after = text[label.end() :]
        stop = _QUESTION_RE.search(after) or _ANSWER_LABEL_RE.search(after)
        return after[: stop.start()] if stop else after
    line = _INTRO_LINE_RE.search(text) if intro else None
    if line is not None and text[line.end() :].strip():
        return text[line.end() :]
    return None


def read_prompt(query: str, history: list[dict[str, str]]) -> PromptContext:
    """The question and context of the turn ``query`` given the earlier ``history``.

    The user turn is searched first (a labelled question and a context block); then the system
    turns of the history. Without any context block the question is the whole user turn.
    """
    labelled = _labelled_question(query)
    question, rest = labelled if labelled else (query.strip(), query)
    passages: list[str] = []
    has_block = False
    context = _context_of(rest, intro=False)
    if context is not None:
        has_block = True
        passages.extend(_passages(context))
        if labelled is None:
            # The question is what is left of the user turn outside the context, last line first.
            outside = rest.replace(context, "\n")
            lines = [ln.strip() for ln in outside.splitlines() if ln.strip()]
            asked = [ln for ln in lines if ln.endswith(("?", "？"))]  # noqa: RUF001
            question = (asked or lines or [query.strip()])[-1]
    for message in history:
        if message["role"] == "system":
            found = _context_of(message["content"], intro=True)
            has_block = has_block or found is not None
            text = found if found is not None else message["content"]
            informative = [ln for ln in text.splitlines() if not _INSTRUCTION_RE.search(ln)]
            passages.extend(_passages("\n".join(informative)))
    return PromptContext(question, passages, has_block)
