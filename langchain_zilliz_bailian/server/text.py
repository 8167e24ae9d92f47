"""Tokenisation helpers shared by the embedder, the chunker and usage counting.

A "token" here is a whitespace/punctuation-delimited word, except that each CJK character counts
as one token: a deliberate approximation of model tokenisers (cheap, deterministic, no deps).
"""

from __future__ import annotations

import re

_CJK = (
    "\u3040-\u30ff"  # Hiragana, Katakana
    "\u3400-\u4dbf"  # CJK extension A
    "\u4e00-\u9fff"  # CJK unified ideographs
    "\uac00-\ud7af"  # Hangul syllables
    "\uf900-\ufaff"  # CJK compatibility ideographs
)
_TOKEN_RE = re.compile(rf"[{_CJK}]|[^\W{_CJK}]+", re.UNICODE)
_CJK_RE = re.compile(rf"[{_CJK}]")
_WORD_CHAR_RE = re.compile(rf"[^\W{_CJK}]")

STOP_WORDS = frozenset(
    [
        "a",
        "an",
        "and",
        "are",
        "as",
        "at",
        "be",
        "been",
        "but",
        "by",
        "can",
        "could",
        "did",
        "do",
        "does",
        "for",
        "from",
        "had",
        "has",
        "have",
        "how",
        "i",
        "if",
        "in",
        "into",
        "is",
        "it",
        "its",
        "me",
        "my",
        "no",
        "not",
        "of",
        "on",
        "or",
        "our",
        "so",
        "such",
        "than",
        "that",
        "the",
        "their",
        "them",
        "then",
        "there",
        "these",
        "they",
        "this",
        "those",
        "to",
        "was",
        "we",
        "were",
        "what",
        "when",
        "where",
        "which",
        "while",
        "who",
        "whom",
        "why",
        "will",
        "with",
        "would",
        "you",
        "your",
    ]
)


def words(text: str) -> list[str]:
    """Split ``text`` into lower-cased word tokens (each CJK character is a token)."""
    return _TOKEN_RE.findall(text.lower())


def count_tokens(text: str) -> int:
    """Approximate token count used for chunk sizes and reported usage."""
    return len(_TOKEN_RE.findall(text))


class TokenTally:
    """:func:`count_tokens` of a text that grows piece by piece, each piece scanned once.

    Two pieces share a token only when the first ends and the second starts inside a word (a
    word run of non-CJK characters), so the tally of ``a + b`` is ``count(a) + count(b)``,
    less one in that case: exact, and linear in the text however it is split.
    """

    def __init__(self) -> None:
        self.total = 0
        self._in_word = False

    def add(self, piece: str) -> int:
        """Count ``piece`` as appended to the text so far; return the text's token count."""
        if not piece:
            return self.total
        self.total += count_tokens(piece)
        if self._in_word and _WORD_CHAR_RE.match(piece):
            self.total -= 1  # the piece continues the text's last word
        self._in_word = _WORD_CHAR_RE.match(piece[-1]) is not None
        return self.total


def is_cjk(token: str) -> bool:
    """True when ``token`` is a single CJK character."""
    return bool(_CJK_RE.fullmatch(token))


def stem(word: str) -> str:
    """Light English suffix stripping: "collections"/"collection", "indexes"/"index" meet."""
    if len(word) <= 3 or not word.isascii() or not word.isalpha():
        return word
    if word.endswith("ies") and len(word) > 4:
        return word[:-3] + "y"
    if word.endswith("es") and word[:-2].endswith(("x", "ch", "sh", "ss", "z")):
        return word[:-2]
    for suffix in ("ing", "edly", "ed", "ly"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 4:
            return word[: -len(suffix)]
    if word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return word[:-1]
    return word


def terms(text: str) -> list[str]:
    """Content terms of ``text``: stemmed words without English stop words."""
    return [stem(w) for w in words(text) if w not in STOP_WORDS]
