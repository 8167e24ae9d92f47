"""The built-in app's "model": extractive answers with ``<ref>[n]</ref>`` citations; deltas.

No language model runs here. An answer quotes the whole sentences (see :mod:`.sentences`) that
hold enough of the question's terms (:data:`RELEVANCE_FLOOR`), knowledge-base quotes each followed
by the marker of its reference; with nothing to quote from, the echo shows what the app received
(and the previous user turn, which makes session memory observable).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

from langchain_zilliz_bailian.server.sentences import split_sentences
from langchain_zilliz_bailian.server.text import is_cjk, terms, words

MARKER_RE = re.compile(r"<ref>\[\d+\]</ref>")


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


#: A quoted sentence must hold this share of the question's (rarity-weighted) terms.
RELEVANCE_FLOOR = 0.3
#: Further quotes must score at least this fraction of the best one.
FOLLOWING_QUOTE_RATIO = 0.6
MAX_QUOTES = 3


def _is_chinese(text: str) -> bool:
    toks = words(text)
    return bool(toks) and sum(1 for t in toks if is_cjk(t)) * 2 >= len(toks)


def _body_lines(text: str) -> str:
    """Chunk text without its header-path prefix lines (``# A``)."""
    return "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#"))


@dataclass
class _Candidate:
    sentence: str
    index_id: str
    rank: int
    terms: set[str]
    passage_score: float


def _candidates(passages: list[Passage]) -> list[_Candidate]:
    found = []
    for rank, passage in enumerate(passages):
        for sentence in split_sentences(_body_lines(passage.text)):
            sentence_terms = set(terms(sentence))
            if len(sentence_terms) >= 2:
                found.append(
                    _Candidate(sentence, passage.index_id, rank, sentence_terms, passage.score)
                )
    return found


def _ranked(
    question_terms: set[str], candidates: list[_Candidate]
) -> list[tuple[float, _Candidate]]:
    """Candidates above the relevance floor, best first. A term weighs more the fewer
    sentences hold it, so words every passage repeats ("Milvus") decide little; a term no
    sentence holds (another word for the same thing, "kept" for "keeps") weighs as little."""
    if not question_terms or not candidates:
        return []
    n = len(candidates)
    weight = {}
    for t in question_terms:
        holding = sum(1 for c in candidates if t in c.terms)
        weight[t] = math.log(1 + (n + 1) / (1 + holding)) if holding else math.log(2)
    total = sum(weight.values())
    ranked = []
    for c in candidates:
        coverage = sum(weight[t] for t in question_terms & c.terms) / total
        if coverage < RELEVANCE_FLOOR:
            continue
        score = coverage - 0.004 * len(c.terms) + 0.05 * c.passage_score - 0.002 * c.rank
        ranked.append((score, c))
    ranked.sort(key=lambda item: -item[0])
    return ranked


def best_sentences(
    question: str,
    passages: list[Passage],
    max_sentences: int = MAX_QUOTES,
    fallback: str = "",
) -> list[tuple[str, str]]:
    """Up to ``max_sentences`` (sentence, index_id) pairs that answer ``question``: the best
    sentence above the relevance floor and those scoring close to it. When none does (a
    follow-up such as "And where?"), ``fallback`` (the conversation's query) is tried."""
    candidates = _candidates(passages)
    ranked = _ranked(set(terms(question)), candidates)
    if not ranked and fallback:
        ranked = _ranked(set(terms(fallback)), candidates)
    chosen: list[tuple[str, str]] = []
    seen: set[str] = set()
    for score, c in ranked:
        if chosen and score < FOLLOWING_QUOTE_RATIO * ranked[0][0]:
            break
        if c.sentence in seen:
            continue
        seen.add(c.sentence)
        chosen.append((c.sentence[:600], c.index_id))
        if len(chosen) == max_sentences:
            break
    return chosen


def rag_answer(question: str, passages: list[Passage], fallback: str = "") -> tuple[str, list[str]]:
    """Return the answer text and the index ids it cites (in citation order)."""
    chinese = _is_chinese(question)
    chosen = best_sentences(question, passages, fallback=fallback)
    if not chosen:
        if chinese:
            return f"抱歉，知识库中没有找到与“{question}”相关的内容。", []  # noqa: RUF001
        return f'Sorry, I could not find anything about "{question}" in the knowledge base.', []
    cited: list[str] = []
    parts: list[str] = []
    for sentence, index_id in chosen:
        if index_id not in cited:
            cited.append(index_id)
        parts.append(f"{sentence}<ref>[{index_id}]</ref>")
    lead = "根据知识库：" if chinese else "According to the knowledge base: "  # noqa: RUF001
    return lead + ("" if chinese else " ").join(parts), cited


def context_answer(question: str, context: list[str], fallback: str = "") -> str | None:
    """The sentences of a prompt's own context that answer ``question`` (no citation markers:
    the caller numbered nothing), or None when none clears the relevance floor."""
    passages = [Passage(str(n), text, "", "", "", 0.0) for n, text in enumerate(context, 1)]
    chosen = best_sentences(question, passages, fallback=fallback)
    if not chosen:
        return None
    return ("" if _is_chinese(question) else " ").join(sentence for sentence, _ in chosen)


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
