"""What a search pipeline's action decides: the text field of a hit and the largest ``limit``.

Shared by the LangChain and LlamaIndex retrievers (Z4: the field is chosen by the function's
action from ``describe``, never by probing the hit).
"""

from __future__ import annotations

from langchain_zilliz_bailian.errors import PipelineNotServingError
from langchain_zilliz_bailian.zilliz.models import Pipeline

__all__ = [
    "CONTENT_FIELDS",
    "content_of",
    "MAX_LIMITS",
    "check_serving",
    "content_field",
    "max_limit",
]

#: Where each search function puts the hit's text (Z4: chosen by action, not by probing).
CONTENT_FIELDS = {
    "SEARCH_TEXT": "text",
    "SEARCH_DOC_CHUNK": "chunk_text",
    "SEARCH_IMAGE_BY_IMAGE": "image_title",
    "SEARCH_IMAGE_BY_TEXT": "image_title",
}
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
