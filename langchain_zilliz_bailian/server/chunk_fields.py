"""Chunk metadata an INDEX_DOC pipeline can keep in its collection: page number, header path.

The pipelines contract gives doc collections no field for either (§9: ``doc_name``,
``chunk_id``, ``chunk_text``), so they are opt-in through PRESERVE: an ingestion pipeline that
preserves ``page_number`` (Int16, Int32 or Int64) or ``heading_path`` (VarChar) gets them
filled per chunk by the server whenever the run's ``data`` does not set them. A search pipeline
then returns them through ``outputFields``, like any preserved field, and filters on them.
Without such a field nothing changes: the header path is at the start of ``chunk_text`` (Z29).
"""

from __future__ import annotations

from langchain_zilliz_bailian.server.chunking import Chunk

PAGE_FIELD = "page_number"
HEADING_FIELD = "heading_path"
#: Field -> the PRESERVE field types the server can fill it into.
FILLABLE_TYPES: dict[str, frozenset[str]] = {
    PAGE_FIELD: frozenset({"Int16", "Int32", "Int64"}),
    HEADING_FIELD: frozenset({"VarChar"}),
}
#: A VarChar preserved field holds at most this many characters.
_VARCHAR_MAX = 4000


def fillable_fields(preserved: dict[str, str]) -> frozenset[str]:
    """The preserved fields of a doc pipeline that the server fills from each chunk."""
    return frozenset(
        name
        for name, types in FILLABLE_TYPES.items()
        if name in preserved and preserved[name] in types
    )


def chunk_values(chunk: Chunk, fields: frozenset[str]) -> dict[str, int | str]:
    """The values of ``fields`` for one chunk: its page (0 when the format has none) and its
    header lines joined by newlines (empty when it has none), as they start ``chunk_text``."""
    values: dict[str, int | str] = {}
    if PAGE_FIELD in fields:
        values[PAGE_FIELD] = min(chunk.page or 0, 2**15 - 1)
    if HEADING_FIELD in fields:
        values[HEADING_FIELD] = "\n".join(chunk.headers)[:_VARCHAR_MAX]
    return values
