"""A search pipeline as an agent's tool: its name, description, arguments and readable hits.

The pipeline is described once (through the retrieval session, which also checks that it is a
serving SEARCH pipeline and keeps it, so the searches that follow describe nothing) and its name
and description become the tool's. The model gives ``query``, optionally a Milvus ``filter`` and
``k`` (bounded); the hits come back as numbered passages with their key metadata.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, Field, create_model

from langchain_zilliz_bailian.agent_tools.names import tool_name, unique_names
from langchain_zilliz_bailian.errors import InvalidInputError
from langchain_zilliz_bailian.zilliz.models import Pipeline
from langchain_zilliz_bailian.zilliz.retrieval import RetrievalSession, Retrieved, SearchRequest

__all__ = [
    "DEFAULT_K",
    "DEFAULT_MAX_K",
    "PipelineTool",
    "SearchBounds",
    "apipeline_tools",
    "format_hits",
    "pipeline_tools",
    "search_args",
]

DEFAULT_K = 4
DEFAULT_MAX_K = 10
#: Longest metadata value shown beside a hit (longer ones are cut: the model needs a hint only).
_MAX_VALUE_CHARS = 120
_SEARCH_SUFFIX = re.compile(r"[\s_-]*search$", re.IGNORECASE)


@dataclass(frozen=True)
class SearchBounds:
    """How many hits a tool returns by default (``k``) and at most (``max_k``)."""

    k: int = DEFAULT_K
    max_k: int = DEFAULT_MAX_K

    def __post_init__(self) -> None:
        for name in ("k", "max_k"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 100:
                raise InvalidInputError(f"{name} must be an int from 1 to 100, got {value!r}.")
        if self.k > self.max_k:
            raise InvalidInputError(f"k ({self.k}) must not exceed max_k ({self.max_k}).")


@functools.lru_cache(maxsize=32)
def search_args(bounds: SearchBounds) -> type[BaseModel]:
    """The argument schema a model sees: ``query``, optional ``filter`` and bounded ``k``."""
    return create_model(
        "SearchPipelineArgs",
        query=(str, Field(min_length=1, description="What to look for, in natural language.")),
        filter=(
            str | None,
            Field(
                default=None,
                description="Optional Milvus boolean expression over the stored fields, e.g. "
                'doc_name == "guide.md" and year >= 2024. Leave it out to search everything.',
            ),
        ),
        k=(
            int,
            Field(
                default=bounds.k,
                ge=1,
                le=bounds.max_k,
                description=f"How many passages to return (1 to {bounds.max_k}).",
            ),
        ),
    )


@dataclass(frozen=True)
class PipelineTool:
    """One search pipeline as a tool: what the model is told, and how its call is checked."""

    pipeline_id: str
    name: str
    description: str
    bounds: SearchBounds = SearchBounds()
    output_fields: tuple[str, ...] | None = None

    @property
    def args(self) -> type[BaseModel]:
        return search_args(self.bounds)

    def request(self, query: str, filter: str | None = None, k: int | None = None) -> SearchRequest:
        """The search a call makes; a bad argument is an :class:`InvalidInputError`, unsent.

        A blank ``filter`` means none.
        """
        if not isinstance(query, str) or not query.strip():
            raise InvalidInputError(f"query must be a non-empty string, got {query!r}.")
        limit = self.bounds.k if k is None else k
        if isinstance(limit, bool) or not isinstance(limit, int):
            raise InvalidInputError(f"k must be an int, got {limit!r}.")
        if not 1 <= limit <= self.bounds.max_k:
            raise InvalidInputError(f"k must be from 1 to {self.bounds.max_k}, got {limit}.")
        if filter is not None and not isinstance(filter, str):
            raise InvalidInputError(f"filter must be a Milvus expression string, got {filter!r}.")
        return SearchRequest(
            pipeline_id=self.pipeline_id,
            query=query,
            limit=limit,
            filter=(filter or "").strip() or None,  # models often send "" for "no filter"
            output_fields=self.output_fields,
        )


def _describe(pipeline: Pipeline, bounds: SearchBounds) -> tuple[str, str]:
    """The tool's name and description, from the pipeline's own."""
    label = _SEARCH_SUFFIX.sub("", pipeline.name) or pipeline.name
    name = tool_name(label, prefix="search", fallback=pipeline.pipeline_id)
    about = (pipeline.description or "").strip()
    lines = [f"Search the '{pipeline.name or pipeline.pipeline_id}' knowledge base."]
    if about:
        lines.append(f"It holds: {about.rstrip('.')}.")
    lines.append(
        f"Returns up to {bounds.max_k} passages (default {bounds.k}), most relevant first, each "
        "with its source metadata; use it to find facts before answering."
    )
    return name, " ".join(lines)


def _tools(
    pipelines: Sequence[Pipeline],
    bounds: SearchBounds,
    output_fields: Sequence[str] | None,
    taken: Sequence[str],
) -> list[PipelineTool]:
    described = [_describe(p, bounds) for p in pipelines]
    names = unique_names([name for name, _ in described], taken=taken)
    fields = None if output_fields is None else tuple(output_fields)
    return [
        PipelineTool(p.pipeline_id, name, description, bounds, fields)
        for p, name, (_, description) in zip(pipelines, names, described, strict=True)
    ]


def pipeline_tools(
    session: RetrievalSession,
    pipeline_ids: Sequence[str],
    bounds: SearchBounds = SearchBounds(),
    *,
    output_fields: Sequence[str] | None = None,
    taken: Sequence[str] = (),
) -> list[PipelineTool]:
    """One tool a pipeline, each described once; names unique among them and ``taken``.

    ``output_fields`` are the preserved fields each hit shows (besides its text and id).
    """
    pipelines = [session.pipelines.require(session.client, pid, "SEARCH") for pid in pipeline_ids]
    return _tools(pipelines, bounds, output_fields, taken)


async def apipeline_tools(
    session: RetrievalSession,
    pipeline_ids: Sequence[str],
    bounds: SearchBounds = SearchBounds(),
    *,
    output_fields: Sequence[str] | None = None,
    taken: Sequence[str] = (),
) -> list[PipelineTool]:
    """Async twin of :func:`pipeline_tools`."""
    pipelines = [
        await session.pipelines.arequire(session.client, pid, "SEARCH") for pid in pipeline_ids
    ]
    return _tools(pipelines, bounds, output_fields, taken)


def _shown(value: Any) -> str | None:
    """A metadata value as a short string, or ``None`` for one not worth the model's tokens."""
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, (str, int, bool)):
        text = str(value)
        return text if len(text) <= _MAX_VALUE_CHARS else text[:_MAX_VALUE_CHARS] + "..."
    return None


def format_hits(hits: Sequence[Retrieved]) -> str:
    """Numbered passages, each headed by its metadata (``key: value``), for a model to read."""
    if not hits:
        return "No matching passages were found."
    blocks = []
    for n, hit in enumerate(hits, start=1):
        shown = {key: _shown(value) for key, value in hit.fields.items()}
        meta = [f"{key}: {text}" for key, text in shown.items() if text is not None]
        meta += [f"id: {hit.id}", f"distance: {hit.distance:.4g}"]
        blocks.append(f"[{n}] ({', '.join(meta)})\n{hit.text}")
    return "\n\n".join(blocks)
