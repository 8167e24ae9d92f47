"""Images and files for an app call: ``input.image_list`` and ``input.file_list``, framework-free.

The app downloads every entry itself (one it cannot fetch is answered with 415
``BadRequest.InputDownloadFailed``), so each entry must be an http(s) URL. Inline data (``data:``
URLs, base64 fields, bytes, local paths) has no field in the request and is refused with
:class:`InvalidInputError` before any request. The reference documents no count or size limit
for either list, so none is imposed here beyond the URL form.

Which turns count: the ones that go out. With a ``session_id`` only the last user turn is sent
(the server keeps the history, the images it was shown included), so only its attachments are;
otherwise the whole history is sent every time, so every user turn's attachments are, in turn
order, since a follow-up question can be about an earlier image. A framework reads its content
blocks into :class:`Attachment` values; :func:`turn_attachments` picks and merges them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, TypeVar
from urllib.parse import urlsplit

from langchain_zilliz_bailian.errors import InvalidInputError

if TYPE_CHECKING:  # request.py builds the body with media_lists
    from langchain_zilliz_bailian.bailian.request import AppOptions

__all__ = [
    "Attachment",
    "MediaKind",
    "inline_data_error",
    "media_lists",
    "media_url",
    "turn_attachments",
]

M = TypeVar("M")
MediaKind = Literal["image", "file"]
_LIST_OF: dict[MediaKind, Literal["image_list", "file_list"]] = {
    "image": "image_list",
    "file": "file_list",
}


@dataclass(frozen=True)
class Attachment:
    """One image or file of a turn, by URL (checked when it is made)."""

    kind: MediaKind
    url: str

    def __post_init__(self) -> None:
        media_url(self.kind, self.url, f"{self.kind} URL")


def inline_data_error(kind: MediaKind, where: str) -> InvalidInputError:
    """The error for inline data: the API takes URLs only."""
    return InvalidInputError(
        f"{where}: a Bailian app takes {kind}s as URLs it downloads (input.{_LIST_OF[kind]}); "
        f"inline data (base64, bytes, data: URLs, local paths) cannot be sent. Upload the {kind} "
        "(for example to object storage) and pass its http(s) URL."
    )


def media_url(kind: MediaKind, value: object, where: str) -> str:
    """``value`` if it is an http(s) URL with a host; else :class:`InvalidInputError`.

    The message names the scheme or type only: a presigned URL's query string is a credential.
    """
    if not isinstance(value, str):
        raise InvalidInputError(
            f"{where} must be an http(s) URL string, got {type(value).__name__}."
        )
    if value.lstrip()[:5].lower() == "data:":
        raise inline_data_error(kind, where)
    try:
        parts = urlsplit(value)
        host = parts.hostname
    except ValueError:  # a malformed host or port
        raise InvalidInputError(f"{where} is not a well-formed URL.") from None
    problem = (
        "no scheme"
        if not parts.scheme
        else f"a {parts.scheme!r} URL"
        if parts.scheme.lower() not in ("http", "https")
        else "no host"
        if not host
        else "white space"
        if any(c.isspace() for c in value)
        else None
    )
    if problem:
        raise InvalidInputError(
            f"{where} must be an http(s) URL the app can download, got {problem}."
        )
    return value


def _entries(key: str, values: object) -> list[Any]:
    """An explicit ``image_list``/``file_list`` as a list (a lone string is a mistake)."""
    if isinstance(values, str | bytes) or not isinstance(values, Iterable):
        raise InvalidInputError(f"{key} must be a list of URLs, got {type(values).__name__}.")
    return list(values)


def media_lists(options: Mapping[str, Any]) -> dict[str, list[str]]:
    """``image_list``/``file_list`` as sent: every entry checked, repeats dropped (first kept).

    A list given empty is sent empty; an absent one is not sent.
    """
    lists: dict[str, list[str]] = {}
    for kind, key in _LIST_OF.items():
        values = options.get(key)
        if values is not None:
            entries = _entries(key, values)
            checked = [media_url(kind, value, f"{key}[{n}]") for n, value in enumerate(entries)]
            lists[key] = list(dict.fromkeys(checked))
    return lists


def turn_attachments(
    messages: Sequence[M],
    options: AppOptions,
    *,
    role: Callable[[M], str],
    attachments: Callable[[M], Sequence[Attachment]],
) -> AppOptions:
    """``options`` with the attachments of the turns that go out, before any explicit list.

    The turns: the last user turn with a ``session_id``, else every user turn (module docstring).
    Explicit ``image_list=``/``file_list=`` entries follow the messages' ones; repeats are dropped
    when the body is built (:func:`media_lists`).
    """
    users = [m for m in messages if role(m) == "user"]
    if options.get("session_id"):
        users = users[-1:]
    found: dict[str, list[str]] = {key: [] for key in _LIST_OF.values()}
    for message in users:
        for item in attachments(message):
            found[_LIST_OF[item.kind]].append(item.url)
    merged = dict(options)
    for key, urls in found.items():
        explicit = options.get(key)
        if urls:
            merged[key] = urls + ([] if explicit is None else _entries(key, explicit))
    return merged  # type: ignore[return-value]
