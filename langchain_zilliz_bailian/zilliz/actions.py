"""What a search pipeline's action decides: the text field of a hit and the largest ``limit``.

Shared by the LangChain and LlamaIndex retrievers (Z4: the field is chosen by the function's
action from ``describe``, never by probing the hit). An image hit has no text of its own: its
content is a preserved title when one was returned, else its URL or id (:func:`hit_content`).
"""

from __future__ import annotations

from collections.abc import Sequence

from langchain_zilliz_bailian.errors import PipelineNotServingError
from langchain_zilliz_bailian.zilliz.models import Pipeline, SearchHit

__all__ = [
    "CONTENT_FIELDS",
    "IMAGE_SEARCHES",
    "content_of",
    "MAX_LIMITS",
    "RETURNED_UNASKED",
    "check_serving",
    "content_field",
    "hit_content",
    "max_limit",
    "requested_fields",
]

#: Where each search function puts the hit's text (Z4: chosen by action, not by probing).
CONTENT_FIELDS = {
    "SEARCH_TEXT": "text",
    "SEARCH_DOC_CHUNK": "chunk_text",
    "SEARCH_IMAGE_BY_IMAGE": "image_title",
    "SEARCH_IMAGE_BY_TEXT": "image_title",
}
#: The search functions over image collections.
IMAGE_SEARCHES = frozenset({"SEARCH_IMAGE_BY_IMAGE", "SEARCH_IMAGE_BY_TEXT"})
#: Fields a search returns without ``outputFields`` naming them (§7: id, distance and the main
#: field); any other content field must be asked for.
RETURNED_UNASKED = frozenset(
    {"id", "distance", "text", "chunk_text", "chuck_text", "chunk_id", "doc_name", "image_id"}
)
#: Image-by-text searches allow at most 100 results (Z22).
MAX_LIMITS = {"SEARCH_IMAGE_BY_TEXT": 100}
_DEFAULT_MAX_LIMIT = 500


def check_serving(pipeline: Pipeline) -> Pipeline:
    """``pipeline`` itself, or :class:`PipelineNotServingError` when it cannot run."""
    if not pipeline.is_serving:
        raise PipelineNotServingError(
            f"Pipeline {pipeline.pipeline_id} has status {pipeline.status!r}; only SERVING "
            "pipelines can run."
        )
    return pipeline


def content_field(pipeline: Pipeline | None) -> str:
    """The field holding a hit's text for this pipeline's search function (``text`` if unknown)."""
    action = pipeline.action if pipeline is not None else None
    return CONTENT_FIELDS.get(action or "", "text")


def max_limit(pipeline: Pipeline | None) -> int:
    """The largest ``limit`` this pipeline's search function accepts."""
    action = pipeline.action if pipeline is not None else None
    return MAX_LIMITS.get(action or "", _DEFAULT_MAX_LIMIT)


#: Misspellings of a content field seen in the published schema (Z4: ``chuck_text``).
_SPELLINGS = {"chunk_text": ("chunk_text", "chuck_text")}


def content_of(fields: dict[str, object], field: str) -> tuple[str, dict[str, object]]:
    """A hit's text from ``field`` (or its documented misspelling) and the remaining fields."""
    rest = dict(fields)
    for name in _SPELLINGS.get(field, (field,)):
        if name in rest:
            value = rest.pop(name)
            return ("" if value is None else str(value)), rest
    return "", rest


def requested_fields(output_fields: Sequence[str] | None, content: str | None) -> list[str]:
    """``outputFields`` to send: the caller's, plus a chosen ``content`` field (say a preserved
    ``image_title``) that the search would not return unasked."""
    fields = list(output_fields or [])
    if content is not None and content not in RETURNED_UNASKED and content not in fields:
        fields.append(content)
    return fields


def hit_content(
    hit: SearchHit, field: str, pipeline: Pipeline | None
) -> tuple[str, dict[str, object]]:
    """A hit's text from ``field`` and its remaining fields.

    An image hit (an image search, or a hit carrying ``image_id``) without that text is named by
    its ``image_url`` when returned, else its ``image_id``, which stays among the fields.
    """
    text, rest = content_of(hit.fields, field)
    action = pipeline.action if pipeline is not None else None
    if not text and (action in IMAGE_SEARCHES or "image_id" in rest):
        rest.setdefault("image_id", hit.id)
        text = str(rest.get("image_url") or rest["image_id"])
    return text, rest
