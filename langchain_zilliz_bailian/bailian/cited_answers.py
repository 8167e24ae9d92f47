"""Citation markers in app answers, as data: clean text, cited spans and their references.

A Bailian app with "show sources" on writes ``<ref>[4]</ref>`` (or ``<ref>[1][4]</ref>``) after
the text it took from ``doc_references[*]`` with that ``index_id``. :func:`parse_citations` turns
an answer into the text without markers plus one :class:`Citation` per cited id; a
:class:`CitationParser` does the same for a stream whose deltas may cut a marker anywhere,
holding back only a tail that may still become a marker. :func:`render_with_sources` writes an
answer for people: ``[1]``-style numbers and a numbered list of sources.

Grammar. A marker is ``<ref>`` then one or more ``[id]`` groups then ``</ref>``, where an id is 1 to
32 characters other than brackets, angle brackets and whitespace. Anything else (``<ref>[]</ref>``,
``<ref>[1]`` never closed, ``<REF>``, an unknown tag) is ordinary text and passes through as
written; so does the outer tag of ``<ref><ref>[1]</ref></ref>``.

Spans. A citation's ``start``/``end`` are offsets into the clean text (Python string indices).
The span is the clause the marker closes: it begins after the previous marker, line break or
sentence end (a CJK or ASCII full stop, question or exclamation mark, semicolon or colon; an
ASCII ``.`` or ``:`` only before whitespace), leading spaces and separators skipped, and ends
where the marker stood, trailing spaces dropped. Markers next to each other
(``<ref>[1]</ref><ref>[2]</ref>``) cite the same span. ``at`` is where the marker stood.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from langchain_zilliz_bailian.bailian.models import AppCompletion, DocReference

__all__ = [
    "Citation",
    "CitationParser",
    "CitedAnswer",
    "NumberedStream",
    "ReferenceLike",
    "StreamPiece",
    "parse_citations",
    "render_with_sources",
    "resolve_references",
    "number_markers",
    "source_line",
    "source_lines",
    "source_numbers",
]

_OPEN, _CLOSE = "<ref>", "</ref>"
_ID_MAX = 32
_ID = rf"[^\[\]<>\s]{{1,{_ID_MAX}}}"
_MARKER = re.compile(rf"<ref>((?:\[{_ID}\])+)</ref>")
_GROUP = re.compile(rf"\[({_ID})\]")
_ID_CHAR = re.compile(r"[^\[\]<>\s]")
_SENTENCE_END = "\n。！？!?;；："  # noqa: RUF001
_BEFORE_SPACE = ".:"  # ends a clause only when whitespace follows (not ``3.14``, ``12:30``)
_LEADING = " \t\r\n,，、:：;；"  # noqa: RUF001
_CLOSING = " \t\r\n.。！？!?;；,，、:："  # noqa: RUF001

#: A ``doc_references`` entry, parsed or as the service sent it.
ReferenceLike = DocReference | Mapping[str, Any]


@dataclass(frozen=True)
class Citation:
    """One cited id: the span of clean text it supports and the reference it points to."""

    index_id: str
    start: int
    end: int
    at: int
    reference: DocReference | None = None

    @property
    def title(self) -> str | None:
        """The reference's title, else its document name."""
        ref = self.reference
        return None if ref is None else (ref.title or ref.doc_name)

    @property
    def url(self) -> str | None:
        """The reference's ``doc_url`` (or a ``url`` key the service added), if any."""
        ref = self.reference
        if ref is None:
            return None
        extra = (ref.model_extra or {}).get("url")
        return ref.doc_url or (extra if isinstance(extra, str) else None)

    @property
    def cited_text(self) -> str | None:
        """The passage the app quoted from (the reference's ``text``)."""
        return None if self.reference is None else self.reference.text

    def as_dict(self) -> dict[str, Any]:
        """Plain JSON-ready data: ids, span and the reference's fields that are set."""
        data: dict[str, Any] = {"index_id": self.index_id, "start": self.start, "end": self.end}
        ref = self.reference
        if ref is not None:
            fields = {
                "title": self.title,
                "url": self.url,
                "doc_id": ref.doc_id,
                "doc_name": ref.doc_name,
                "cited_text": self.cited_text,
            }
            data.update({key: value for key, value in fields.items() if value})
        return data


@dataclass(frozen=True)
class StreamPiece:
    """What one delta released: ``raw`` text (markers whole), ``text`` without markers, and the
    citations completed in it (offsets into the whole clean text so far)."""

    raw: str = ""
    text: str = ""
    citations: tuple[Citation, ...] = ()


@dataclass(frozen=True)
class CitedAnswer:
    """An answer's clean text, its citations in order and the references the app returned."""

    text: str
    citations: tuple[Citation, ...] = ()
    references: tuple[DocReference, ...] = ()

    @property
    def cited_ids(self) -> list[str]:
        """Cited ids in order of first mention, once each."""
        return list(dict.fromkeys(c.index_id for c in self.citations))

    @property
    def sources(self) -> list[tuple[str, DocReference | None]]:
        """``(index_id, reference or None)`` for each cited id, in order of first mention."""
        first: dict[str, DocReference | None] = {}
        for c in self.citations:
            first.setdefault(c.index_id, c.reference)
        return list(first.items())


def _as_reference(value: ReferenceLike) -> DocReference:
    return value if isinstance(value, DocReference) else DocReference.model_validate(dict(value))


def _same_number(a: str, b: str) -> bool:
    return a.isdigit() and b.isdigit() and int(a) == int(b)


def resolve_references(
    citations: Iterable[Citation], references: Iterable[ReferenceLike]
) -> tuple[tuple[Citation, ...], tuple[DocReference, ...]]:
    """Point each citation at the reference with its ``index_id`` (``"04"`` matches ``"4"``).

    When no reference has an ``index_id`` at all, ids are read as 1-based positions. An id with
    no reference keeps ``reference=None`` (markers can come without ``doc_references``).
    """
    refs = tuple(_as_reference(r) for r in references)
    by_id: dict[str, DocReference] = {}
    for ref in refs:
        if ref.index_id is not None:
            by_id.setdefault(ref.index_id.strip(), ref)

    def find(index_id: str) -> DocReference | None:
        if index_id in by_id:
            return by_id[index_id]
        numeric = next((r for key, r in by_id.items() if _same_number(key, index_id)), None)
        if numeric is not None or by_id:
            return numeric
        if index_id.isdigit() and 1 <= int(index_id) <= len(refs):
            return refs[int(index_id) - 1]
        return None

    return tuple(replace(c, reference=find(c.index_id)) for c in citations), refs


def _could_become_marker(tail: str) -> bool:
    """Whether ``tail`` (starting with ``<``) is a proper prefix of some well-formed marker."""
    if len(tail) <= len(_OPEN):
        return _OPEN.startswith(tail)
    if not tail.startswith(_OPEN):
        return False
    rest, groups = tail[len(_OPEN) :], 0
    while rest:
        if rest[0] == "[":
            close = rest.find("]")
            ident = rest[1:] if close == -1 else rest[1:close]
            if len(ident) > _ID_MAX or not all(_ID_CHAR.fullmatch(ch) for ch in ident):
                return False
            if close == -1:
                return True
            if not ident:
                return False
            rest, groups = rest[close + 1 :], groups + 1
        else:
            return groups > 0 and _CLOSE.startswith(rest) and rest != _CLOSE
    return True


def _span_start(clean: str, floor: int, end: int) -> int:
    """Where the clause ending at ``end`` begins (see the module docstring)."""
    body = end
    while body > floor and clean[body - 1] in _CLOSING:
        body -= 1
    start = floor
    for i in range(body - 1, floor - 1, -1):
        ch = clean[i]
        spaced = ch in _BEFORE_SPACE and i + 1 < len(clean) and clean[i + 1].isspace()
        if ch in _SENTENCE_END or spaced:
            start = i + 1
            break
    while start < end and clean[start] in _LEADING:
        start += 1
    return start


class CitationParser:
    """Incremental parser: ``feed`` each delta, then ``flush`` once; ``answer()`` at the end.

    Text is released as soon as it cannot be part of a marker; only a tail that may still grow
    into one (``<``, ``<ref>[1``, ``<ref>[4]</``...) is held until the next delta settles it.
    """

    def __init__(self) -> None:
        self._held = ""
        self._clean: list[str] = []  # the clean text so far (joined at each marker)
        self._length = 0
        self._citations: list[Citation] = []
        self._floor = 0  # clean offset of the previous marker
        self._group: tuple[int, int] | None = None  # (at, start) of the last marker group

    @property
    def holding(self) -> str:
        """The tail held back (a possible marker prefix)."""
        return self._held

    def _text(self, text: str, raw: list[str], clean: list[str]) -> None:
        if text:
            raw.append(text)
            clean.append(text)
            self._clean.append(text)
            self._length += len(text)

    def _marker(self, match: re.Match[str], raw: list[str], found: list[Citation]) -> None:
        raw.append(match.group(0))
        at = self._length
        whole = "".join(self._clean)
        self._clean = [whole]
        if self._group is not None and self._group[0] == at:
            start = self._group[1]
        else:
            start = _span_start(whole, self._floor, at)
        end = at
        while end > start and whole[end - 1].isspace():
            end -= 1
        self._group, self._floor = (at, start), at
        for ident in _GROUP.findall(match.group(1)):
            found.append(Citation(index_id=ident, start=start, end=end, at=at))

    def feed(self, delta: str) -> StreamPiece:
        """Release what ``delta`` settles (possibly nothing while a marker is being completed)."""
        buffer, self._held = self._held + delta, ""
        raw: list[str] = []
        clean: list[str] = []
        found: list[Citation] = []
        pos = 0
        while True:
            lt = buffer.find("<", pos)
            if lt == -1:
                self._text(buffer[pos:], raw, clean)
                break
            self._text(buffer[pos:lt], raw, clean)
            match = _MARKER.match(buffer, lt)
            if match is not None:
                self._marker(match, raw, found)
                pos = match.end()
            elif _could_become_marker(buffer[lt:]):
                self._held = buffer[lt:]
                break
            else:
                self._text("<", raw, clean)
                pos = lt + 1
        self._citations.extend(found)
        return StreamPiece("".join(raw), "".join(clean), tuple(found))

    def flush(self) -> StreamPiece:
        """The stream ended: a held tail never became a marker, so it is text."""
        held, self._held = self._held, ""
        raw: list[str] = []
        clean: list[str] = []
        self._text(held, raw, clean)
        return StreamPiece("".join(raw), "".join(clean))

    def answer(self, references: Iterable[ReferenceLike] = ()) -> CitedAnswer:
        """Everything released so far, citations resolved against ``references``."""
        citations, refs = resolve_references(self._citations, references)
        return CitedAnswer("".join(self._clean), citations, refs)


def parse_citations(text: str, references: Iterable[ReferenceLike] = ()) -> CitedAnswer:
    """``text`` without its markers, with citations pointing into ``references``."""
    parser = CitationParser()
    parser.feed(text)
    parser.flush()
    return parser.answer(references)


def source_numbers(answer: CitedAnswer) -> dict[str, int]:
    """Display numbers 1, 2, ... for the cited ids, in order of first mention."""
    return {index_id: n for n, index_id in enumerate(answer.cited_ids, start=1)}


def number_markers(
    text: str, citations: Iterable[Citation], numbers: Mapping[str, int], offset: int = 0
) -> str:
    """``text`` (starting at clean offset ``offset``) with ``[n]`` where each marker stood."""
    parts: list[str] = []
    last = 0
    for c in sorted(citations, key=lambda c: c.at):
        parts.append(text[last : c.at - offset])
        parts.append(f"[{numbers[c.index_id]}]")
        last = c.at - offset
    parts.append(text[last:])
    return "".join(parts)


def _url(reference: DocReference) -> str | None:
    return Citation("", 0, 0, 0, reference).url


def source_line(number: int, index_id: str, reference: DocReference | None) -> str:
    """``[n] Title (document) url`` for one source; an id with no reference says so."""
    if reference is None:
        return f"[{number}] (reference {index_id} is not among the app's doc_references)"
    title = reference.title or reference.doc_name or f"reference {index_id}"
    parts = [f"[{number}] {title}"]
    if reference.doc_name and reference.doc_name != title:
        parts.append(f"({reference.doc_name})")
    if url := _url(reference):
        parts.append(url)
    return " ".join(parts)


def source_lines(answer: CitedAnswer) -> list[str]:
    """One :func:`source_line` per cited source, numbered in order of first mention."""
    numbers = source_numbers(answer)
    return [source_line(numbers[i], i, ref) for i, ref in answer.sources]


def _cited(
    answer: str | AppCompletion | CitedAnswer, references: Iterable[ReferenceLike]
) -> CitedAnswer:
    if isinstance(answer, AppCompletion):
        return parse_citations(answer.text, answer.doc_references)
    if isinstance(answer, CitedAnswer):
        return answer
    return parse_citations(answer, references)


def render_with_sources(
    answer: str | AppCompletion | CitedAnswer,
    references: Iterable[ReferenceLike] = (),
    *,
    heading: str = "Sources:",
) -> str:
    """The answer for people: markers become ``[1]``, ``[2]``... in order of first mention,
    followed by one numbered line per cited source (nothing added when nothing is cited).

    ``answer`` is the raw text (with ``references``), an :class:`AppCompletion` (its own
    ``doc_references``) or an already parsed :class:`CitedAnswer`.
    """
    cited = _cited(answer, references)
    body = number_markers(cited.text, cited.citations, source_numbers(cited))
    lines = source_lines(cited)
    return "\n".join([body.rstrip(), "", heading, *lines]) if lines else body


class NumberedStream:
    """A stream shown to people as it arrives: markers become the numbers
    :func:`render_with_sources` gives, only a possible marker prefix is held back."""

    def __init__(self) -> None:
        self._parser = CitationParser()
        self._numbers: dict[str, int] = {}
        self._offset = 0

    def _show(self, piece: StreamPiece) -> str:
        for c in piece.citations:
            self._numbers.setdefault(c.index_id, len(self._numbers) + 1)
        shown = number_markers(piece.text, piece.citations, self._numbers, self._offset)
        self._offset += len(piece.text)
        return shown

    def feed(self, delta: str) -> str:
        """What can be shown of the text so far."""
        return self._show(self._parser.feed(delta))

    def flush(self) -> str:
        """Whatever is still held back (the stream ended)."""
        return self._show(self._parser.flush())

    def sources(self, references: Iterable[ReferenceLike] = ()) -> list[str]:
        """The numbered source lines of everything fed (as :func:`render_with_sources`)."""
        return source_lines(self._parser.answer(references))
