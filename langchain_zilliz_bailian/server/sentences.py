"""A small sentence splitter for extractive quotes: it does not cut at abbreviations ("Co.",
"e.g.", "Dr."), decimals, e-mail addresses, URLs or paths ("./milvus_demo.db"), so a quote is
always a whole sentence of its source.

A full stop ends a sentence only when whitespace follows and the next word does not start in
lower case, and the word before it is not a known abbreviation or an initialism ("U.S.");
``!``/``?`` end a sentence before whitespace; the CJK full stops always do. Blank lines,
headings and list items also separate sentences; other line breaks are only wrapping.
"""

from __future__ import annotations

import re

_ABBREVIATION_LIST = """
    co corp inc ltd llc plc dept univ assn bros est
    mr mrs ms dr prof sr jr st rev gen col capt lt sgt hon
    e.g i.e etc vs cf al approx ca fig figs eq no nos vol vols p pp ch sec ed eds
    jan feb mar apr jun jul aug sep sept oct nov dec mon tue wed thu fri sat sun
    a.m p.m u.s u.k ph.d
"""
ABBREVIATIONS = frozenset(_ABBREVIATION_LIST.split())
_CJK_END = "。！？"  # noqa: RUF001
_OPENERS = "\"'([{\u201c\u2018"
_CLOSERS = "\"')]}»”’」』）"  # noqa: RUF001
_LIST_ITEM_RE = re.compile(r"^\s*(?:[-*•+]\s|\d{1,3}[.)]\s|#)")
_INITIALISM_RE = re.compile(r"(?:[A-Za-z]\.)+[A-Za-z]")


def _segments(text: str) -> list[str]:
    """Paragraphs, headings and list items, with wrapped lines joined."""
    segments: list[str] = []
    for block in re.split(r"\n\s*\n", text):
        current = ""
        for line in block.splitlines():
            stripped = line.strip()
            if not stripped:
                continue
            starts_new = _LIST_ITEM_RE.match(line) is not None or current.startswith("#")
            if current and (starts_new or current.endswith(":")):
                segments.append(current)
                current = stripped
            else:
                current = f"{current} {stripped}" if current else stripped
        if current:
            segments.append(current)
    return segments


def _word_before(text: str, end: int) -> str:
    """The whitespace-delimited word ending just before ``text[end]`` (without leading quotes)."""
    start = end
    while start > 0 and not text[start - 1].isspace():
        start -= 1
    return text[start:end].lstrip(_OPENERS)


def _ends_at_stop(text: str, i: int) -> bool:
    """Whether the full stop at ``text[i]`` ends a sentence."""
    j = i + 1
    while j < len(text) and text[j] in _CLOSERS:
        j += 1
    if j < len(text) and not text[j].isspace():
        return False  # 3.14, a.b@c.com, example.com/x, ./milvus_demo.db
    rest = text[j:].lstrip()
    if rest and rest[0].islower():
        return False  # "e.g. the", "approx. five"
    word = _word_before(text, i)
    if word.lower() in ABBREVIATIONS or _INITIALISM_RE.fullmatch(word):
        return not rest  # an abbreviation ends a sentence only at the end of the text
    return True


def _split_segment(text: str) -> list[str]:
    sentences: list[str] = []
    start = 0
    i = 0
    while i < len(text):
        ch = text[i]
        end = None
        at_end = i + 1 == len(text)
        if (
            ch in _CJK_END
            or (ch in "!?" and (at_end or text[i + 1].isspace() or text[i + 1] in _CLOSERS))
            or (ch == "." and (at_end or text[i + 1] != ".") and _ends_at_stop(text, i))
        ):
            end = i + 1
        if end is not None:
            while end < len(text) and (text[end] in _CLOSERS or text[end] in _CJK_END + "!?"):
                end += 1
            piece = text[start:end].strip()
            if piece:
                sentences.append(piece)
            start = i = end
            continue
        i += 1
    tail = text[start:].strip()
    if tail:
        sentences.append(tail)
    return sentences


def split_sentences(text: str) -> list[str]:
    """The sentences of ``text``, each stripped, whitespace inside lines kept as written."""
    return [s for segment in _segments(text) for s in _split_segment(segment)]
