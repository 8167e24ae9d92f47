"""Pipeline create bodies: checking one (Z34) and building the three of a collection (Z25).

Pure functions, no I/O: :func:`check_pipeline_spec` runs before a create request is sent, so a
bad spec raises :class:`InvalidInputError` without a request.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Literal

from langchain_zilliz_bailian._http.checks import check_id
from langchain_zilliz_bailian.errors import InvalidInputError

__all__ = ["ImageSearch", "PipelineKind", "check_pipeline_spec", "pipeline_set_specs"]

#: What a pipeline set ingests: texts, documents or images.
PipelineKind = Literal["text", "doc", "image"]
#: How an image set is searched: by an image URL (SEARCH_IMAGE_BY_IMAGE) or by text (CLIP only).
ImageSearch = Literal["image", "text"]

_NAME = re.compile(r"^[A-Za-z0-9_]{3,64}$")

_EMBEDDINGS = {
    "zilliz/bge-base-en-v1.5": {"ENGLISH"},
    "zilliz/bge-base-zh-v1.5": {"CHINESE"},
    "voyageai/voyage-2": {"ENGLISH"},
    "voyageai/voyage-code-2": {"ENGLISH"},
    "voyageai/voyage-large-2": {"ENGLISH"},
    "openai/text-embedding-3-small": {"ENGLISH"},
    "openai/text-embedding-3-large": {"ENGLISH"},
}
#: The documented image models; CLIP (the default) is the one that can also be searched by text.
_VIT = "zilliz/vit-base-patch16-224"
_CLIP = "zilliz/clip-vit-base-patch32"
#: The index, search and deletion actions of each kind of set (image: searched by image, by text).
_ACTIONS = {
    "text": ("INDEX_TEXT", "SEARCH_TEXT", "PURGE_TEXT_INDEX"),
    "doc": ("INDEX_DOC", "SEARCH_DOC_CHUNK", "PURGE_DOC_INDEX"),
    "image": ("INDEX_IMAGE", "SEARCH_IMAGE_BY_IMAGE", "PURGE_IMAGE_INDEX"),
}
_SEARCH_IMAGE_BY = {"image": "SEARCH_IMAGE_BY_IMAGE", "text": "SEARCH_IMAGE_BY_TEXT"}
_TYPES = {"INGESTION", "SEARCH", "DELETION"}
_FIELD_TYPES = {"Bool", "Int8", "Int16", "Int32", "Int64", "Float", "Double", "VarChar"}


def check_pipeline_spec(spec: Mapping[str, Any]) -> dict[str, Any]:
    """Validate a create body: name, type, ids, function counts and model/language (Z34)."""
    if not isinstance(spec, Mapping):
        raise InvalidInputError("A pipeline spec must be a mapping (the create request body).")
    body = dict(spec)
    name = body.get("name")
    if not isinstance(name, str) or not _NAME.match(name):
        raise InvalidInputError(f"Pipeline name {name!r}: 3-64 letters, digits or underscores.")
    kind = body.get("type")
    if kind not in _TYPES:
        raise InvalidInputError(f"Pipeline type must be one of {sorted(_TYPES)}, got {kind!r}.")
    check_id("project_id", body.get("projectId"))
    functions = body.get("functions")
    if not isinstance(functions, list) or not functions:
        raise InvalidInputError("A pipeline needs a non-empty 'functions' list.")
    main = [f for f in functions if isinstance(f, Mapping) and f.get("action") != "PRESERVE"]
    preserve = [f for f in functions if isinstance(f, Mapping) and f.get("action") == "PRESERVE"]
    if len(main) != 1:
        raise InvalidInputError("A pipeline has exactly one function besides PRESERVE functions.")
    if kind == "INGESTION":
        check_id("cluster_id", body.get("clusterId"))
        if not body.get("collectionName"):
            raise InvalidInputError("An INGESTION pipeline needs collectionName.")
        if len(preserve) > 50:
            raise InvalidInputError("At most 50 PRESERVE functions per ingestion pipeline.")
        for function in preserve:
            if function.get("fieldType") not in _FIELD_TYPES:
                raise InvalidInputError(
                    f"PRESERVE fieldType must be one of {sorted(_FIELD_TYPES)}: {function!r}"
                )
            if function.get("inputField") != function.get("outputField"):
                raise InvalidInputError("A PRESERVE function's inputField must equal outputField.")
    elif preserve:
        raise InvalidInputError(f"{kind} pipelines take no PRESERVE functions.")
    if kind == "SEARCH":
        check_id("cluster_id", main[0].get("clusterId"))
    if kind == "DELETION":
        check_id("cluster_id", body.get("clusterId"))
    language, model = main[0].get("language"), main[0].get("embedding")
    if (
        isinstance(model, str)
        and language is not None
        and language not in _EMBEDDINGS.get(model, {language})
    ):
        raise InvalidInputError(f"Embedding {model} does not support language {language}.")
    return body


def _set_model(
    kind: str,
    language: str,
    embedding: str | None,
    reranker: str | None,
    image_search: str | None,
) -> tuple[str, str]:
    """The embedding model and search action of a set, or :class:`InvalidInputError` (Z34).

    Image models other than the documented ones pass through (quirk 33: the guide spells CLIP
    ``zilliz/clip-vit-base-patch32-multilingual-v1``); a text model or ViT searched by text do not.
    """
    if not isinstance(kind, str) or kind not in _ACTIONS:
        raise InvalidInputError(f"kind must be one of {sorted(_ACTIONS)}, got {kind!r}.")
    search = _ACTIONS[kind][1]
    if kind != "image":
        if image_search is not None:
            raise InvalidInputError("image_search applies to image sets (kind='image') only.")
        default = "zilliz/bge-base-zh-v1.5" if language == "CHINESE" else "zilliz/bge-base-en-v1.5"
        return embedding or default, search
    if image_search is not None and (
        not isinstance(image_search, str) or image_search not in _SEARCH_IMAGE_BY
    ):
        raise InvalidInputError(f"image_search must be 'image' or 'text', got {image_search!r}.")
    if reranker:
        raise InvalidInputError("A reranker applies to text and doc sets, not to image sets.")
    model = embedding or _CLIP
    if model in _EMBEDDINGS:
        raise InvalidInputError(
            f"{model} embeds text; an image set takes {_CLIP} (the default) or {_VIT}."
        )
    if image_search == "text" and model == _VIT:
        raise InvalidInputError(f"Searching images by text needs {_CLIP}, not {_VIT}.")
    return model, _SEARCH_IMAGE_BY[image_search or "image"]


def pipeline_set_specs(
    *,
    name: str,
    project_id: str,
    cluster_id: str,
    collection_name: str,
    kind: PipelineKind,
    language: Literal["ENGLISH", "CHINESE"],
    embedding: str | None,
    preserve: Mapping[str, str] | None,
    reranker: str | None,
    description: str,
    image_search: ImageSearch | None = None,
) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """The create bodies of an ingestion, a search and a deletion pipeline over one collection.

    An image set's index function carries no ``language`` (INDEX_IMAGE takes none) and its
    search is by image unless ``image_search="text"``. Bad arguments raise before any body is made.
    """
    model, search = _set_model(kind, language, embedding, reranker, image_search)
    index, _, purge = _ACTIONS[kind]
    common = {"projectId": project_id, "description": description or f"{name} ({kind})"}
    index_function: dict[str, Any] = {"name": f"index_{kind}", "action": index}
    if kind != "image":
        index_function["language"] = language
    index_function["embedding"] = model
    ingestion_functions: list[dict[str, Any]] = [index_function]
    for field_name, field_type in (preserve or {}).items():
        ingestion_functions.append(
            {
                "name": f"keep_{field_name}",
                "action": "PRESERVE",
                "inputField": field_name,
                "outputField": field_name,
                "fieldType": field_type,
            }
        )
    search_function: dict[str, Any] = {
        "name": f"search_{kind}",
        "action": search,
        "clusterId": cluster_id,
        "collectionName": collection_name,
        "embedding": model,
    }
    if reranker:
        search_function["reranker"] = reranker
    return (
        {
            **common,
            "name": f"{name}_ingestion",
            "type": "INGESTION",
            "clusterId": cluster_id,
            "collectionName": collection_name,
            "functions": ingestion_functions,
        },
        {**common, "name": f"{name}_search", "type": "SEARCH", "functions": [search_function]},
        {
            **common,
            "name": f"{name}_deletion",
            "type": "DELETION",
            "clusterId": cluster_id,
            "collectionName": collection_name,
            "functions": [{"name": f"purge_{kind}", "action": purge}],
        },
    )
