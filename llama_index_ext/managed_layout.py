"""What the managed index reads from its pipelines, and what it sends for nodes and deletions.

Pure functions over described pipelines (no I/O): which pipeline plays which role, what an
ingestion pipeline indexes and preserves, the ``(text, preserved fields)`` pair sent for a node,
and the deletion that removes exactly one reference document.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from llama_index.core.schema import BaseNode, MetadataMode

from langchain_zilliz_bailian._http.checks import check_id
from langchain_zilliz_bailian.errors import InvalidInputError
from langchain_zilliz_bailian.zilliz.client import PipelineSet
from langchain_zilliz_bailian.zilliz.expressions import FIELD_NAME, ExpressionError, field_in
from langchain_zilliz_bailian.zilliz.ingestion_session import Deletion, StoredItem
from langchain_zilliz_bailian.zilliz.models import Pipeline

__all__ = [
    "DEFAULT_REF_DOC_FIELD",
    "IngestionLayout",
    "PipelineIds",
    "check_ref_doc_field",
    "check_ref_doc_id",
    "node_payloads",
    "pipeline_ids_of",
    "ref_doc_deletion",
    "sparing",
]

#: The preserved VarChar field that keeps each inserted Document's id (LlamaIndex's ref_doc_id).
DEFAULT_REF_DOC_FIELD = "doc_id"
_ROLES = ("INGESTION", "SEARCH", "DELETION")


@dataclass(frozen=True)
class PipelineIds:
    """The pipelines of one index: ingestion and search, and optionally deletion."""

    ingestion: str
    search: str
    deletion: str | None

    def as_dict(self) -> dict[str, str]:
        """The ``{"INGESTION": ..., "SEARCH": ..., "DELETION": ...}`` form of 0.3.0."""
        ids = {"INGESTION": self.ingestion, "SEARCH": self.search}
        if self.deletion is not None:
            ids["DELETION"] = self.deletion
        return ids


def pipeline_ids_of(value: Mapping[str, str] | PipelineSet | None) -> PipelineIds:
    """``value`` (a ``{"INGESTION", "SEARCH"[, "DELETION"]}`` mapping or a ``PipelineSet``),
    every id checked."""
    if isinstance(value, PipelineSet):
        value = {
            "INGESTION": value.ingestion.pipeline_id,
            "SEARCH": value.search.pipeline_id,
            "DELETION": value.deletion.pipeline_id,
        }
    if not isinstance(value, Mapping) or not value:
        raise InvalidInputError(
            "pipeline_ids must map INGESTION, SEARCH and (for deletes) DELETION to pipeline ids; "
            "make them with ZillizPipelineIndex.create_pipelines(...)."
        )
    ids = {str(role).upper(): pipeline_id for role, pipeline_id in value.items()}
    unknown = set(ids) - set(_ROLES)
    missing = {"INGESTION", "SEARCH"} - set(ids)
    if unknown or missing:
        raise InvalidInputError(
            f"pipeline_ids: unknown role(s) {sorted(unknown)}, missing {sorted(missing)}; "
            f"the roles are {list(_ROLES)}."
        )
    deletion = ids.get("DELETION")
    return PipelineIds(
        ingestion=check_id("pipeline_id", ids["INGESTION"]),
        search=check_id("pipeline_id", ids["SEARCH"]),
        deletion=None if deletion is None else check_id("pipeline_id", deletion),
    )


def check_ref_doc_field(name: str) -> str:
    """``name`` if it is a plain Milvus field name."""
    if not isinstance(name, str) or FIELD_NAME.fullmatch(name) is None:
        raise InvalidInputError(f"ref_doc_field must be a plain field name, got {name!r}.")
    return name


def check_ref_doc_id(ref_doc_id: object) -> str:
    """``ref_doc_id`` if it is a non-empty string."""
    if not isinstance(ref_doc_id, str) or not ref_doc_id:
        raise InvalidInputError(f"ref_doc_id must be a non-empty string, got {ref_doc_id!r}.")
    return ref_doc_id


@dataclass(frozen=True)
class IngestionLayout:
    """What a described ingestion pipeline indexes (its action) and the fields it preserves."""

    pipeline_id: str
    action: str
    preserved: frozenset[str]

    @classmethod
    def of(cls, pipeline: Pipeline) -> IngestionLayout:
        """The layout of an INGESTION pipeline as describe returned it."""
        preserved = {
            function.output_field or next(iter(function.input_fields), "")
            for function in pipeline.functions
            if function.action == "PRESERVE"
        }
        return cls(pipeline.pipeline_id, pipeline.action or "", frozenset(preserved - {""}))

    def require(self, action: str, hint: str) -> None:
        """Raise before anything is sent unless the pipeline's function is ``action``."""
        if self.action and self.action != action:
            raise InvalidInputError(
                f"Ingestion pipeline {self.pipeline_id} runs {self.action}, not {action}: {hint}"
            )

    def check_metadata(self, metadata: Mapping[str, Any] | None, ref_doc_field: str) -> None:
        """Caller-given metadata must name preserved fields (and never the ref-doc field)."""
        keys = set(metadata or {})
        if ref_doc_field in keys:
            raise InvalidInputError(f"{ref_doc_field!r} is set by the index, not by metadata.")
        unknown = keys - self.preserved
        if unknown:
            raise InvalidInputError(
                f"metadata {sorted(unknown)} is not preserved by pipeline {self.pipeline_id} "
                f"(it preserves {sorted(self.preserved)})."
            )


def node_payloads(
    nodes: Sequence[BaseNode],
    layout: IngestionLayout,
    ref_doc_field: str,
    metadata: Mapping[str, Any] | None = None,
) -> list[tuple[str, dict[str, Any]]]:
    """``(text, preserved fields)`` per node: ``metadata``, then what of the node's metadata the
    pipeline preserves, plus its Document's id in ``ref_doc_field`` when preserved.

    The service needs every preserved field in every request: a node that lacks one raises
    before anything is sent.
    """
    payloads = []
    for node in nodes:
        if not isinstance(node, BaseNode):
            raise InvalidInputError(f"Expected llama_index nodes, got {type(node).__name__}.")
        fields = dict(metadata or {})
        fields.update(
            (key, value)
            for key, value in node.metadata.items()
            if key in layout.preserved and key != ref_doc_field
        )
        if ref_doc_field in layout.preserved:
            fields[ref_doc_field] = node.ref_doc_id or node.node_id
        missing = layout.preserved - set(fields)
        if missing:
            raise InvalidInputError(
                f"Document {node.ref_doc_id or node.node_id!r} lacks the preserved field(s) "
                f"{sorted(missing)} of pipeline {layout.pipeline_id}: give them in its metadata "
                "or as metadata=... for all."
            )
        payloads.append((node.get_content(metadata_mode=MetadataMode.NONE), fields))
    return payloads


def ref_doc_deletion(
    ref_doc_id: str,
    *,
    layout: IngestionLayout,
    deletion: Pipeline,
    ref_doc_field: str,
) -> Deletion:
    """The one deletion that removes every chunk of ``ref_doc_id`` and nothing else.

    Documents from URLs or files are keyed by ``doc_name`` (``PURGE_DOC_INDEX`` takes it as is);
    inserted Documents by the preserved ``ref_doc_field``, through an expression.
    """
    check_ref_doc_id(ref_doc_id)
    if deletion.action == "PURGE_DOC_INDEX":
        return Deletion(deletion.pipeline_id, {"doc_name": ref_doc_id})
    if layout.action == "INDEX_DOC":
        field = "doc_name"
    elif ref_doc_field in layout.preserved:
        field = ref_doc_field
    else:
        raise InvalidInputError(
            f"Pipeline {layout.pipeline_id} does not preserve {ref_doc_field!r}, so the chunks of "
            "a Document cannot be told apart; create the pipelines with "
            "ZillizPipelineIndex.create_pipelines(...) (which preserves it), or delete with "
            "delete_by_expression(...)."
        )
    try:
        expression = field_in(field, [ref_doc_id])
    except ExpressionError as exc:
        raise InvalidInputError(f"ref_doc_id {ref_doc_id!r}: {exc}") from None
    return Deletion(deletion.pipeline_id, {"expression": expression})


def sparing(deletion: Deletion, kept: Sequence[StoredItem]) -> Deletion:
    """``deletion`` (an expression one) narrowed so the texts just stored in ``kept`` survive it:
    an update stores the new chunks first, then deletes the Document's other ones."""
    ids = [int(item.id) for item in kept if item.kind == "text" and item.id is not None]
    expression = deletion.target.get("expression")
    if not ids or expression is None:
        return deletion
    narrowed = f"({expression}) and not ({field_in('id', ids)})"
    return Deletion(deletion.pipeline_id, {"expression": narrowed})
