"""Pydantic models for Zilliz Cloud Pipelines responses, tolerant of every documented variant.

The variants are listed in ``docs/contract/zilliz.md``. All parsing of the Pipelines API's shapes
lives here (Z37: the API changed before), so a new variant is one validator away. Extra keys are
kept, never rejected. Ids are normalised to ``str`` from Python ints, so 64-bit ids keep every
digit (Z5).
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from typing import Any

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, field_validator, model_validator

__all__ = [
    "DeletionResult",
    "DocIngestionResult",
    "ImageIngestionResult",
    "Pipeline",
    "PipelineFunction",
    "SearchHit",
    "SearchResult",
    "TextIngestionResult",
    "Usage",
    "normalize_id",
]


def normalize_id(value: object) -> str:
    """An id as ``str``: ints keep every digit; integral floats (precision already lost) warn."""
    if isinstance(value, bool):
        raise ValueError(f"not an id: {value!r}")
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if value.is_integer():
            warnings.warn(
                f"Id {value!r} arrived as a JSON float; digits beyond 2**53 may be lost.",
                stacklevel=2,
            )
            return str(int(value))
        raise ValueError(f"not an id: {value!r}")
    if isinstance(value, str):
        return value.strip()
    raise ValueError(f"not an id: {value!r}")


def _as_int(value: object) -> int:
    """Counters documented as strings in places (image ``usage.embedding``, Z7)."""
    if value is None or value == "":
        return 0
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int | float):
        return int(value)
    if isinstance(value, str):
        return int(float(value.strip()))
    raise ValueError(f"not a count: {value!r}")


class _Model(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True, frozen=True)


class Usage(_Model):
    """Token usage of a call, from ``usage: {embedding, rerank}`` or a bare ``token_usage`` int."""

    embedding: int = 0
    rerank: int = 0

    @field_validator("embedding", "rerank", mode="before")
    @classmethod
    def _count(cls, value: Any) -> int:
        return _as_int(value)

    @property
    def total(self) -> int:
        """Embedding plus rerank tokens."""
        return self.embedding + self.rerank

    @classmethod
    def from_data(cls, data: Mapping[str, Any]) -> Usage:
        """Read whichever usage shape ``data`` carries (Z7); zero when none."""
        usage = data.get("usage")
        if isinstance(usage, Mapping):
            return cls.model_validate(usage)
        if isinstance(usage, int | str) and not isinstance(usage, bool):
            return cls(embedding=_as_int(usage))
        for key in ("token_usage", "tokenUsage"):
            if key in data:
                return cls(embedding=_as_int(data[key]))
        return cls()


class SearchHit(_Model):
    """One search result: ``id`` (str), ``distance`` (float) and every other returned field."""

    id: str
    distance: float
    fields: dict[str, Any] = Field(default_factory=dict)

    @classmethod
    def from_raw(cls, raw: Mapping[str, Any]) -> SearchHit:
        """Split a raw hit into id, distance (a string in the schema, Z6) and the rest."""
        if "id" in raw:
            hit_id = normalize_id(raw["id"])
        elif "image_id" in raw:
            hit_id = normalize_id(raw["image_id"])
        else:
            raise ValueError("search hit without an id")
        distance = raw.get("distance", raw.get("score"))
        if distance is None:
            raise ValueError("search hit without a distance")
        fields = {k: v for k, v in raw.items() if k not in ("id", "distance")}
        return cls(id=hit_id, distance=float(distance), fields=fields)


class SearchResult(_Model):
    """Hits of a search, in the server's order, and the call's usage."""

    hits: list[SearchHit]
    usage: Usage = Field(default_factory=Usage)

    @classmethod
    def from_data(cls, data: Any) -> SearchResult:
        """Accept ``data.result``, ``data.results`` or ``data`` as a bare list (Z3)."""
        if isinstance(data, list):
            raw_hits, usage = data, Usage()
        elif isinstance(data, Mapping):
            raw_hits = data.get("result", data.get("results"))
            if raw_hits is None:
                raw_hits = []
            if not isinstance(raw_hits, list):
                raise ValueError("search result is not a list")
            usage = Usage.from_data(data)
        else:
            raise ValueError("search data is neither an object nor a list")
        return cls(hits=[SearchHit.from_raw(hit) for hit in raw_hits], usage=usage)


class TextIngestionResult(_Model):
    """An INDEX_TEXT run: one id per text, in the order the texts were sent."""

    num_entities: int = 0
    ids: list[str] = Field(default_factory=list)
    usage: Usage = Field(default_factory=Usage)

    @field_validator("ids", mode="before")
    @classmethod
    def _ids(cls, value: Any) -> list[str]:
        return [normalize_id(item) for item in (value or [])]

    @model_validator(mode="before")
    @classmethod
    def _usage(cls, data: Any) -> Any:
        return _with_usage(data)


class DocIngestionResult(_Model):
    """An INDEX_DOC run (URL or uploaded file): the stored document's name and chunk count."""

    doc_name: str = ""
    num_chunks: int = 0
    usage: Usage = Field(default_factory=Usage)

    @model_validator(mode="before")
    @classmethod
    def _usage(cls, data: Any) -> Any:
        return _with_usage(data)


class ImageIngestionResult(_Model):
    """An INDEX_IMAGE run."""

    num_entities: int = 0
    usage: Usage = Field(default_factory=Usage)

    @model_validator(mode="before")
    @classmethod
    def _usage(cls, data: Any) -> Any:
        return _with_usage(data)


class DeletionResult(_Model):
    """A deletion run: ``num_deleted`` reads ``num_deleted_entities`` or ``num_deleted_chunks``.

    Zero is not an error: deleting a document that is not there is silent (Z18).
    """

    num_deleted: int = Field(
        default=0,
        validation_alias=AliasChoices("num_deleted", "num_deleted_entities", "num_deleted_chunks"),
    )
    usage: Usage = Field(default_factory=Usage)

    @model_validator(mode="before")
    @classmethod
    def _usage(cls, data: Any) -> Any:
        return _with_usage(data)


def _with_usage(data: Any) -> Any:
    if isinstance(data, Mapping):
        return {**data, "usage": Usage.from_data(data)}
    return data


def _enum(value: Any) -> Any:
    """Enum values may carry stray spaces or case (Z13): ``"PURGE_TEXT_INDEX "``."""
    return value.strip().upper() if isinstance(value, str) else value


def _strip(value: Any) -> Any:
    return value.strip() if isinstance(value, str) else value


class PipelineFunction(_Model):
    """One function of a pipeline; ``input_fields`` reads ``inputFields`` or ``inputField``."""

    name: str = ""
    action: str = ""
    input_fields: list[str] = Field(default_factory=list)
    output_field: str | None = Field(default=None, alias="outputField")
    field_type: str | None = Field(default=None, alias="fieldType")
    language: str | None = Field(
        default=None, validation_alias=AliasChoices("language", "langauge")
    )
    embedding: str | None = None
    reranker: str | None = None
    cluster_id: str | None = Field(
        default=None, validation_alias=AliasChoices("clusterId", "CLUSTER_ID", "cluster_id")
    )
    collection_name: str | None = Field(
        default=None,
        validation_alias=AliasChoices("collectionName", "newCollectionName", "collection_name"),
    )

    @model_validator(mode="before")
    @classmethod
    def _inputs(cls, data: Any) -> Any:
        """``inputFields`` may be a list or a bare string; ``inputField`` a string or null."""
        if not isinstance(data, Mapping):
            return data
        data = dict(data)
        raw = data.pop("inputFields", None)
        single = data.pop("inputField", None)
        fields: list[str] = []
        for value in (raw, single):
            if isinstance(value, str) and value.strip():
                fields.append(value.strip())
            elif isinstance(value, list):
                fields.extend(str(v).strip() for v in value if v is not None)
        data["input_fields"] = fields
        return data

    @field_validator("action", "field_type", "language", mode="before")
    @classmethod
    def _enums(cls, value: Any) -> Any:
        return _enum(value)

    @field_validator("collection_name", "cluster_id", mode="before")
    @classmethod
    def _names(cls, value: Any) -> Any:
        return _strip(value)


class Pipeline(_Model):
    """A pipeline as create, describe, list and drop return it."""

    pipeline_id: str = Field(validation_alias=AliasChoices("pipelineId", "pipeline_id", "id"))
    name: str = ""
    type: str = ""
    description: str | None = None
    status: str | None = None
    create_timestamp: int | None = Field(default=None, alias="createTimestamp")
    total_usage: dict[str, Any] = Field(
        default_factory=dict,
        validation_alias=AliasChoices("totalUsage", "totalTokenUsage", "total_usage"),
    )
    functions: list[PipelineFunction] = Field(default_factory=list)
    cluster_id: str | None = Field(
        default=None, validation_alias=AliasChoices("clusterId", "CLUSTER_ID", "cluster_id")
    )
    collection_name: str | None = Field(
        default=None,
        validation_alias=AliasChoices("collectionName", "newCollectionName", "collection_name"),
    )
    project_id: str | None = Field(default=None, alias="projectId")

    @field_validator("pipeline_id", mode="before")
    @classmethod
    def _pipeline_id(cls, value: Any) -> str:
        return normalize_id(value)

    @field_validator("functions", mode="before")
    @classmethod
    def _functions(cls, value: Any) -> Any:
        """``functions`` arrives as a list, or as one bare object (Z11)."""
        if value is None:
            return []
        if isinstance(value, Mapping):
            return [value]
        return value

    @field_validator("total_usage", mode="before")
    @classmethod
    def _total_usage(cls, value: Any) -> Any:
        """Typed array, returned as an object (Z7); a bare number is embedding tokens."""
        if value is None:
            return {}
        if isinstance(value, list):
            merged: dict[str, Any] = {}
            for item in value:
                if isinstance(item, Mapping):
                    merged.update(item)
            return merged
        if isinstance(value, int | float | str) and not isinstance(value, bool):
            return {"embedding": value}
        return value

    @field_validator("type", "status", mode="before")
    @classmethod
    def _enums(cls, value: Any) -> Any:
        return _enum(value)

    @field_validator("collection_name", "cluster_id", mode="before")
    @classmethod
    def _names(cls, value: Any) -> Any:
        """``collectionName: " my_collection"`` has a stray space in the docs (Z13)."""
        return _strip(value)

    @property
    def action(self) -> str | None:
        """The action of the pipeline's main function (INDEX_*, SEARCH_*, PURGE_*)."""
        for function in self.functions:
            if function.action and function.action != "PRESERVE":
                return function.action
        return None

    @property
    def is_serving(self) -> bool:
        """Anything but ``SERVING`` means the pipeline does not work (Z35)."""
        return self.status in (None, "SERVING")
