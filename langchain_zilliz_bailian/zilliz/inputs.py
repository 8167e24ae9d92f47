"""Checks of what a pipeline run carries, done before any request (bad input never reaches
the server): preserved-field values (Z16, Z20), deletion targets (Z14, Z30), search queries and
file uploads (section 8).
"""

from __future__ import annotations

import mimetypes
import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from langchain_zilliz_bailian._http.checks import check_search_window, check_str_list
from langchain_zilliz_bailian.errors import InvalidInputError

__all__ = [
    "FILE_FORMATS",
    "MAX_FILE_BYTES",
    "MAX_VARCHAR",
    "RESERVED_INPUTS",
    "Scalar",
    "check_preserved",
    "deletion_data",
    "http_url",
    "ids_expression",
    "non_empty",
    "search_input",
    "text_list",
    "upload",
]

#: Inputs a preserved field may not shadow (Z20).
RESERVED_INPUTS = frozenset(
    {"text_list", "doc_url", "image_url", "image_id", "query_text", "query_image_url"}
)
#: Formats ``run_ingestion_with_file`` accepts, and its upload cap (section 8).
FILE_FORMATS = frozenset(
    {
        ".txt",
        ".pdf",
        ".md",
        ".html",
        ".epub",
        ".csv",
        ".doc",
        ".docx",
        ".xls",
        ".xlsx",
        ".ppt",
        ".pptx",
    }
)
MAX_FILE_BYTES = 10 * 1024 * 1024
MAX_VARCHAR = 4000
_INT_ID = re.compile(r"^-?[0-9]+$")

Scalar = bool | int | float | str


def check_preserved(metadata: Mapping[str, Any] | None) -> dict[str, Scalar]:
    """Preserved-field values: scalars (Z20) of native JSON types (Z16), none reserved."""
    if metadata is None:
        return {}
    if not isinstance(metadata, Mapping):
        raise InvalidInputError("metadata must be a mapping of preserved field name to value.")
    out: dict[str, Scalar] = {}
    for key, value in metadata.items():
        if not isinstance(key, str) or not key:
            raise InvalidInputError(f"Preserved field names must be strings: {key!r}")
        if key in RESERVED_INPUTS:
            raise InvalidInputError(
                f"Metadata key {key!r} collides with the pipeline input of the same name."
            )
        if not isinstance(value, bool | int | float | str):
            raise InvalidInputError(
                f"Preserved field {key!r} must be a bool, int, float or str (one value per call); "
                f"got {type(value).__name__}."
            )
        if isinstance(value, str) and len(value) > MAX_VARCHAR:
            raise InvalidInputError(f"Preserved field {key!r} is longer than {MAX_VARCHAR} chars.")
        out[key] = value
    return out


def deletion_data(
    *,
    ids: Sequence[str | int] | None = None,
    expression: str | None = None,
    doc_name: str | None = None,
    image_id: str | None = None,
) -> dict[str, Any]:
    """The ``data`` of a deletion run, checked: exactly one target, and only its key (Z14)."""
    given = [v for v in (ids, expression, doc_name, image_id) if v is not None]
    if len(given) != 1:
        raise InvalidInputError("Pass exactly one of ids, expression, doc_name or image_id.")
    if ids is not None:
        return {"expression": ids_expression(ids)}
    if expression is not None:
        if not isinstance(expression, str) or not expression.strip():
            raise InvalidInputError("expression must be a non-empty Milvus expression.")
        return {"expression": expression}
    if doc_name is not None:
        return {"doc_name": non_empty("doc_name", doc_name)}
    return {"image_id": non_empty("image_id", image_id)}


def ids_expression(ids: Sequence[str | int]) -> str:
    """``id in [1, 2]`` from int64 ids given as ints or digit strings, never floats (Z30)."""
    if isinstance(ids, str | bytes) or not ids:
        raise InvalidInputError("ids must be a non-empty list of ids.")
    parts = []
    for item in ids:
        if isinstance(item, bool) or not isinstance(item, int | str):
            raise InvalidInputError(f"Not an int64 id: {item!r}")
        text = str(item).strip()
        if not _INT_ID.match(text):
            raise InvalidInputError(f"Not an int64 id: {item!r}")
        parts.append(str(int(text)))
    return f"id in [{', '.join(parts)}]"


def text_list(texts: Sequence[str]) -> list[str]:
    """The texts of a text ingestion: a non-empty list of strings."""
    checked = check_str_list("texts", texts)
    if not checked:
        raise InvalidInputError("texts is empty: nothing to ingest.")
    return checked


def search_input(
    query_text: str | None,
    query_image_url: str | None,
    limit: int,
    offset: int,
    output_fields: Sequence[str] | None,
    filter: str | None,
    max_limit: int,
) -> tuple[dict[str, str], dict[str, Any]]:
    """The ``data`` and ``params`` of a search run: one non-empty query, a valid window (Z21)."""
    if (query_text is None) == (query_image_url is None):
        raise InvalidInputError("Pass exactly one of query_text or query_image_url.")
    query = query_text if query_text is not None else query_image_url
    if not isinstance(query, str) or not query.strip():
        raise InvalidInputError("The search query must be a non-empty string.")
    check_search_window(limit, offset, max_limit=max_limit)
    if filter is not None and not isinstance(filter, str):
        raise InvalidInputError(f"filter must be a Milvus boolean expression string: {filter!r}")
    data = {"query_text": query} if query_text is not None else {"query_image_url": query}
    # Every search parameter is "required" (Z21): send all four, filter "" when none.
    params = {
        "limit": limit,
        "offset": offset,
        "outputFields": check_str_list("output_fields", output_fields or []),
        "filter": filter or "",
    }
    return data, params


def http_url(name: str, value: object, *, schemes: str = "https?") -> str:
    """``value`` if it is a URL of one of ``schemes`` (a regex alternation), else bad input."""
    if not isinstance(value, str) or not re.match(rf"^({schemes})://", value):
        raise InvalidInputError(f"{name} must be an http(s) URL, got {value!r}.")
    return value


def non_empty(name: str, value: object) -> str:
    """``value`` if it is a string with something besides spaces, else bad input."""
    if not isinstance(value, str) or not value.strip():
        raise InvalidInputError(f"{name} must be a non-empty string.")
    return value


def upload(file: str | os.PathLike[str] | bytes, filename: str | None) -> tuple[str, bytes, str]:
    """``(name, content, mime type)`` of a document to upload: a known format, at most 10 MB."""
    if isinstance(file, bytes):
        if not filename:
            raise InvalidInputError("Pass filename=... with file contents given as bytes.")
        content, name = file, filename
    else:
        path = Path(file)
        if not path.is_file():
            raise InvalidInputError(f"No such file: {path}")
        if path.stat().st_size > MAX_FILE_BYTES:
            raise InvalidInputError(f"{path} is larger than the 10 MB upload limit.")
        try:
            content, name = path.read_bytes(), filename or path.name
        except OSError as exc:  # unreadable: bad input, like a missing file
            raise InvalidInputError(f"Cannot read {path}: {exc}") from exc
    suffix = Path(name).suffix.lower()
    if suffix not in FILE_FORMATS:
        raise InvalidInputError(
            f"Unsupported file type {suffix or '(none)'} for {name}: use one of "
            f"{', '.join(sorted(FILE_FORMATS))}."
        )
    if len(content) > MAX_FILE_BYTES:
        raise InvalidInputError(f"{name} is larger than the 10 MB upload limit.")
    return name, content, mimetypes.guess_type(name)[0] or "application/octet-stream"
