"""The built-in app's "model": extractive answers with ``<ref>[n]</ref>`` citations; deltas.

No language model runs here. A RAG answer quotes the retrieved sentences that share most terms
with the question, each followed by the marker of its reference; without a knowledge base the
app echoes the prompt (mentioning the previous user turn, which makes session memory observable).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

from langchain_zilliz_bailian.server.text import is_cjk, terms, words

MARKER_RE = re.compile(r"<ref>\[\d+\]</ref>")
_SENTENCE_RE = re.compile(r"[^.!?。！？\n]+(?:[.!?。！？]+|$)", re.MULTILINE)  # noqa: RUF001


@dataclass
class Passage:
    """A retrieved chunk and the metadata needed for ``doc_references``."""

    index_id: str
    text: str
    doc_name: str
    title: str
    doc_id: str
    score: float
    doc_url: str = ""
    page_number: list[int] = field(default_factory=list)


def _is_chinese(text: str) -> bool:
    toks = words(text)
    return bool(toks) and sum(1 for t in toks if is_cjk(t)) * 2 >= len(toks)


def _body_lines(text: str) -> str:
    """Chunk text without its header-path prefix lines (``# A``)."""
    return "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#"))


def best_sentences(
    query: str, passages: list[Passage], max_sentences: int = 3
) -> list[tuple[str, str]]:
    """Pick up to ``max_sentences`` (sentence, index_id) pairs sharing the most query terms."""
    query_terms = set(terms(query))
    candidates: list[tuple[float, int, str, str]] = []
    for rank, passage in enumerate(passages):
        for match in _SENTENCE_RE.finditer(_body_lines(passage.text)):
            sentence = " ".join(match.group(0).split())
            sentence_terms = terms(sentence)
            if len(sentence_terms) < 2:
                continue
            overlap = len(query_terms & set(sentence_terms))
            if overlap == 0:
                continue
            score = overlap / math.sqrt(len(sentence_terms)) + passage.score - 0.01 * rank
            candidates.append((score, rank, sentence, passage.index_id))
    candidates.sort(key=lambda c: -c[0])
    chosen: list[tuple[str, str]] = []
    seen: set[str] = set()
    for _, _, sentence, index_id in candidates:
        if sentence in seen:
            continue
        seen.add(sentence)
        chosen.append((sentence[:600], index_id))
        if len(chosen) == max_sentences:
            break
    return chosen


def rag_answer(query: str, passages: list[Passage]) -> tuple[str, list[str]]:
    """Return the answer text and the index ids it cites (in citation order)."""
    chinese = _is_chinese(query)
    chosen = best_sentences(query, passages)
    if not chosen:
        if chinese:
            return f"抱歉，知识库中没有找到与“{query}”相关的内容。", []  # noqa: RUF001
        return f'Sorry, I could not find anything about "{query}" in the knowledge base.', []
    cited: list[str] = []
    parts: list[str] = []
    for sentence, index_id in chosen:
        if index_id not in cited:
            cited.append(index_id)
        parts.append(f"{sentence}<ref>[{index_id}]</ref>")
    lead = "根据知识库：" if chinese else "According to the knowledge base: "  # noqa: RUF001
    return lead + ("" if chinese else " ").join(parts), cited


def echo_answer(prompt: str, previous_user_turn: str | None) -> str:
    """The no-knowledge-base reply: polite, deterministic, and shows what the app remembers."""
    if _is_chinese(prompt):
        text = f"你说：“{prompt}”。"  # noqa: RUF001
        if previous_user_turn:
            text += f"在本次对话中，你之前说过：“{previous_user_turn}”。"  # noqa: RUF001
        return (
            text + "（本地回显应用：未配置知识库，请通过 rag_options.pipeline_ids 指定检索管道。）"  # noqa: RUF001
        )
    text = f'You said: "{prompt}".'
    if previous_user_turn:
        text += f' Earlier in this conversation you said: "{previous_user_turn}".'
    return text + (
        " (Local echo app: no knowledge base is configured; pass "
        "parameters.rag_options.pipeline_ids to answer from your documents.)"
    )


_UNIT_RE = re.compile(r"<ref>\[\d+\]</ref>|\s*[^\s<]+|\s*<|\s+")


def _units(text: str) -> list[tuple[str, bool]]:
    """Words (CJK runs cut into 3-character pieces) and whole citation markers."""
    out: list[tuple[str, bool]] = []
    for match in _UNIT_RE.finditer(text):
        unit = match.group(0)
        if MARKER_RE.fullmatch(unit):
            out.append((unit, True))
        elif len(unit) > 3 and all(is_cjk(ch) or not ch.isalnum() for ch in unit.strip()):
            out.extend((unit[i : i + 3], False) for i in range(0, len(unit), 3))
        else:
            out.append((unit, False))
    return out


def split_deltas(text: str) -> list[str]:
    """Cut ``text`` into small deltas of 1-3 words; the first citation marker is split after ``</``
    and the second after ``<ref>[`` (as real streams do), the others stay whole."""
    sizes = (2, 3, 1, 2, 3)
    pieces: list[str] = []
    buf = ""
    count = 0
    markers = 0
    for unit, is_marker in _units(text):
        if is_marker:
            markers += 1
            if markers == 1:
                if buf:
                    pieces.append(buf)
                pieces.append(unit[:-4])
                buf, count = unit[-4:], 0
                continue
            if markers == 2:
                cut = unit.index("[") + 1
                pieces.append(buf + unit[:cut])
                buf, count = unit[cut:], 0
                continue
            buf += unit
            continue
        buf += unit
        count += 1
        if count >= sizes[len(pieces) % len(sizes)]:
            pieces.append(buf)
            buf, count = "", 0
    if buf:
        pieces.append(buf)
    return [p for p in pieces if p]
