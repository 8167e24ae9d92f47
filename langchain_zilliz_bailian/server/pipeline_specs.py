"""Pipeline specs: create-time validation of Zilliz Cloud Pipelines requests, and the registry.

A create request is checked like the hosted service checks it (names, actions, models, chunk
sizes, PRESERVE fields), the data collection is created or checked for compatibility, and the
pipeline object is stored in Milvus (see :mod:`.storage`) as ``{"projectId", "pipeline"}``.
Everything here is blocking (Milvus calls): the routes run it in a worker thread.
"""

from __future__ import annotations

import json
import math
import re
import time
from typing import Any

from langchain_zilliz_bailian.server.chunking import DEFAULT_CHUNK_SIZE, DEFAULT_SPLIT_BY
from langchain_zilliz_bailian.server.embeddings import Embedder, embedder_name
from langchain_zilliz_bailian.server.errors import ZILLIZ_NOT_FOUND, ZillizError, bad_param
from langchain_zilliz_bailian.server.ids import IdKind, InvalidIdError, check_id, new_pipeline_id
from langchain_zilliz_bailian.server.image_models import ImageEmbedder, ImageModels, is_clip
from langchain_zilliz_bailian.server.models.files import ModelUnavailableError
from langchain_zilliz_bailian.server.models.registry import LOCAL_MODELS, ModelRegistry
from langchain_zilliz_bailian.server.rerank import Rerankers
from langchain_zilliz_bailian.server.storage import (
    FIELD_TYPES,
    FLOAT32_MAX,
    META_COLLECTION,
    VARCHAR_MAX,
    Storage,
)

NAME_RE = re.compile(r"^[A-Za-z0-9_]{3,64}$")
FIELD_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,254}$")
TEXT_MODELS = (
    "zilliz/bge-base-en-v1.5",
    "zilliz/bge-base-zh-v1.5",
    "voyageai/voyage-2",
    "voyageai/voyage-code-2",
    "voyageai/voyage-large-2",
    "openai/text-embedding-3-small",
    "openai/text-embedding-3-large",
    # Local extensions: the bundled embedders by name (never on the hosted service).
    *LOCAL_MODELS,
)
IMAGE_MODELS = (
    "zilliz/vit-base-patch16-224",
    "zilliz/clip-vit-base-patch32",
    "zilliz/clip-vit-base-patch32-multilingual-v1",
)
RERANKERS = ("zilliz/bge-reranker-base",)
CHUNK_RANGES = {
    "zilliz/bge-base-en-v1.5": (20, 500),
    "zilliz/bge-base-zh-v1.5": (20, 500),
    "voyageai/voyage-2": (20, 3000),
    "voyageai/voyage-code-2": (20, 12000),
    "voyageai/voyage-large-2": (20, 12000),
    "openai/text-embedding-3-small": (250, 8191),
    "openai/text-embedding-3-large": (250, 8191),
    **dict.fromkeys(LOCAL_MODELS, (20, 500)),
}
INDEX_ACTIONS = ("INDEX_TEXT", "INDEX_DOC", "INDEX_IMAGE")
SEARCH_ACTIONS = (
    "SEARCH_TEXT",
    "SEARCH_DOC_CHUNK",
    "SEARCH_IMAGE_BY_IMAGE",
    "SEARCH_IMAGE_BY_TEXT",
)
DELETE_ACTIONS = ("PURGE_TEXT_INDEX", "PURGE_DOC_INDEX", "PURGE_IMAGE_INDEX", "PURGE_BY_EXPRESSION")
IMAGE_ACTIONS = (
    "INDEX_IMAGE",
    "SEARCH_IMAGE_BY_IMAGE",
    "SEARCH_IMAGE_BY_TEXT",
    "PURGE_IMAGE_INDEX",
)
RESERVED_FIELDS = frozenset(
    {
        "id",
        "text",
        "embedding",
        "doc_name",
        "chunk_id",
        "chunk_text",
        "distance",
        "text_list",
        "doc_url",
        "image_url",
        "image_id",
        "query_text",
        "query_image_url",
        "expression",
    }
)
MAX_PIPELINES_PER_TYPE = 100
INT_RANGES = {
    "Int8": (-(2**7), 2**7 - 1),
    "Int16": (-(2**15), 2**15 - 1),
    "Int32": (-(2**31), 2**31 - 1),
    "Int64": (-(2**63), 2**63 - 1),
}


def _enum(value: Any) -> str:
    """Enum values are compared stripped and upper-cased (the docs show ``"PURGE_TEXT_INDEX "``)."""
    return value.strip().upper() if isinstance(value, str) else ""


def _require_str(obj: dict[str, Any], key: str, where: str = "") -> str:
    value = obj.get(key)
    if not isinstance(value, str) or not value.strip():
        raise bad_param(f"{where}{key} is required and must be a non-empty string.")
    return value.strip()


def checked_id(kind: IdKind, value: object) -> str:
    """:func:`.ids.check_id` answering a malformed id with HTTP 400, code 80000."""
    try:
        return check_id(kind, value)
    except InvalidIdError as exc:
        raise bad_param(exc.message) from None


def _finite_within(value: float, limit: float) -> bool:
    """``|value| <= limit`` and finite; an int too large for a double is neither."""
    try:
        number = float(value)
    except OverflowError:
        return False
    return math.isfinite(number) and abs(number) <= limit


def validate_preserved_value(field: str, field_type: str, value: Any) -> None:
    """Check one preserved value against its PRESERVE ``fieldType`` (Z16)."""
    if field_type == "Bool":
        ok = isinstance(value, bool)
    elif field_type in INT_RANGES:
        low, high = INT_RANGES[field_type]
        ok = isinstance(value, int) and not isinstance(value, bool) and low <= value <= high
    elif field_type in ("Float", "Double"):
        # Finite and within range: Float is float32 (the JSON parser already refuses NaN/Infinity).
        limit = FLOAT32_MAX if field_type == "Float" else math.inf
        ok = (
            isinstance(value, int | float)
            and not isinstance(value, bool)
            and _finite_within(value, limit)
        )
    else:
        ok = isinstance(value, str) and len(value) <= VARCHAR_MAX
    if not ok:
        hint = " (at most 4000 characters)" if field_type == "VarChar" else ""
        raise bad_param(
            f"Invalid value for preserved field {field!r}: expected {field_type}{hint}, "
            f"got {type(value).__name__} {json.dumps(value)[:60]}."
        )


def _cannot_load(collection: str, served: str | None, exc: Exception) -> ZillizError:
    """The 400 for a collection whose embedder this server cannot produce."""
    return bad_param(
        f"Collection {collection!r} was embedded with {served}, which this server cannot load: "
        f"{exc}"
    )


class PipelineRegistry:
    """Create, list, describe and drop pipelines on top of :class:`Storage`."""

    def __init__(self, storage: Storage, models: ModelRegistry) -> None:
        self.storage = storage
        self.models = models
        self.rerankers = Rerankers(models.store)
        self.image_models = ImageModels(models.store)

    @property
    def embedder(self) -> Embedder:
        """The server's default embedder (it serves fallbacks)."""
        return self.models.default

    def collection_embedder(self, collection: str, info: dict[str, Any] | None) -> Embedder:
        """The embedder that built ``collection`` (its stored ``embedder``), or a 400 saying why
        this server cannot produce it. Collections without a record use the default."""
        served = (info or {}).get("embedder") or embedder_name(self.models.default)
        try:
            return self.models.served(served)
        except ModelUnavailableError as exc:
            raise _cannot_load(collection, served, exc) from None

    def image_embedder_of(self, collection: str, info: dict[str, Any] | None) -> ImageEmbedder:
        """The image embedder that built ``collection``, or a 400 saying why it is unavailable."""
        served = (info or {}).get("embedder")
        try:
            return self.image_models.served(served)
        except ModelUnavailableError as exc:
            raise _cannot_load(collection, served, exc) from None

    # -- records ----------------------------------------------------------------------------------

    def pipeline(self, pipeline_id: str) -> dict[str, Any]:
        """The stored pipeline object (cached; ``totalUsage`` as stored): what runs need."""
        return self._load(pipeline_id)

    def _load(self, pipeline_id: str) -> dict[str, Any]:
        record = self.storage.get_meta("pipeline", checked_id("pipeline", pipeline_id))
        if record is None:
            raise ZillizError(
                ZILLIZ_NOT_FOUND, f"Pipeline {pipeline_id} does not exist.", status=404
            )
        pipeline: dict[str, Any] = record["pipeline"]
        return pipeline

    def cached_pipeline(self, pipeline_id: str) -> dict[str, Any] | None:
        """The pipeline object if the metadata cache holds it (no I/O: callable on the event
        loop), else None; a malformed id is refused as by :meth:`pipeline`."""
        record = self.storage.cached_meta("pipeline", checked_id("pipeline", pipeline_id))
        return None if record is None else dict(record["pipeline"])

    def describe(self, pipeline_id: str) -> dict[str, Any]:
        """The pipeline object."""
        return self._load(pipeline_id)

    def list_pipelines(self, project_id: str) -> list[dict[str, Any]]:
        """Pipelines of ``project_id``, oldest first."""
        checked_id("project", project_id)
        records = [
            r
            for r in self.storage.list_meta("pipeline")
            if r.get("projectId") == project_id and isinstance(r.get("pipeline"), dict)
        ]
        records.sort(key=lambda r: (r["pipeline"]["createTimestamp"], r["pipeline"]["pipelineId"]))
        return [r["pipeline"] for r in records]

    def drop(self, pipeline_id: str) -> dict[str, Any]:
        """Remove the pipeline; its collection and data are kept (Z26)."""
        pipeline = self._load(pipeline_id)
        self.storage.delete_meta("pipeline", pipeline_id)
        return pipeline

    # -- create -----------------------------------------------------------------------------------

    def create(self, body: Any) -> dict[str, Any]:
        """Validate a create request, create the collection if needed, and store the pipeline."""
        if not isinstance(body, dict):
            raise bad_param("The request body must be a JSON object.")
        name = body.get("name")
        if not isinstance(name, str) or not NAME_RE.match(name):
            raise bad_param(
                "name is required: 3-64 characters, only letters, digits and underscores."
            )
        ptype = _enum(body.get("type"))
        if ptype not in ("INGESTION", "SEARCH", "DELETION"):
            raise bad_param("type must be one of INGESTION, SEARCH, DELETION.")
        project_id = checked_id("project", _require_str(body, "projectId"))
        description = body.get("description", "")
        if not isinstance(description, str):
            raise bad_param("description must be a string.")
        functions = body.get("functions")
        if not isinstance(functions, list) or not functions:
            raise bad_param("functions must be a non-empty array.")
        if not all(isinstance(f, dict) for f in functions):
            raise bad_param("every function must be an object.")
        existing = [p for p in self.list_pipelines(project_id) if p["type"] == ptype]
        if len(existing) >= MAX_PIPELINES_PER_TYPE:
            raise bad_param(
                f"A project can hold at most {MAX_PIPELINES_PER_TYPE} {ptype} pipelines."
            )
        pipeline: dict[str, Any] = {
            "pipelineId": new_pipeline_id(),
            "name": name,
            "type": ptype,
            "createTimestamp": int(time.time() * 1000),
            "description": description,
            "status": "SERVING",
        }
        if ptype == "INGESTION":
            self._create_ingestion(body, functions, pipeline)
        elif ptype == "SEARCH":
            self._create_search(functions, pipeline)
        else:
            self._create_deletion(body, functions, pipeline)
        self.storage.put_meta(
            "pipeline", pipeline["pipelineId"], {"projectId": project_id, "pipeline": pipeline}
        )
        return pipeline

    def _function_name(self, fn: dict[str, Any]) -> str:
        fname = fn.get("name")
        if not isinstance(fname, str) or not NAME_RE.match(fname):
            raise bad_param(
                "Every function needs a name: 3-64 characters, letters, digits and underscores."
            )
        return fname

    def _cluster_and_collection(self, obj: dict[str, Any], where: str) -> tuple[str, str]:
        cluster = checked_id("cluster", _require_str(obj, "clusterId", where))
        collection = obj.get("collectionName", obj.get("newCollectionName"))
        if not isinstance(collection, str) or not collection.strip():
            raise bad_param(f"{where}collectionName is required and must be a non-empty string.")
        collection = collection.strip()
        if not FIELD_RE.match(collection) or collection == META_COLLECTION:
            raise bad_param(
                f"Invalid collectionName {collection!r}: start with a letter or underscore, then "
                "letters, digits and underscores only."
            )
        return cluster, collection

    @staticmethod
    def _text_model(fn: dict[str, Any], require_language: bool = True) -> tuple[str, str]:
        language = _enum(fn.get("language") or "ENGLISH")
        if language not in ("ENGLISH", "CHINESE"):
            raise bad_param("language must be ENGLISH or CHINESE.")
        default = "zilliz/bge-base-zh-v1.5" if language == "CHINESE" else "zilliz/bge-base-en-v1.5"
        model = fn.get("embedding") or default
        if model not in TEXT_MODELS:
            raise bad_param(f"Unsupported embedding model {model!r}; choose one of {TEXT_MODELS}.")
        if language == "CHINESE" and model != "zilliz/bge-base-zh-v1.5":
            raise bad_param("CHINESE pipelines must use zilliz/bge-base-zh-v1.5.")
        if language == "ENGLISH" and model == "zilliz/bge-base-zh-v1.5":
            raise bad_param("zilliz/bge-base-zh-v1.5 requires language CHINESE.")
        return language, model

    def _create_ingestion(
        self, body: dict[str, Any], functions: list[dict[str, Any]], pipeline: dict[str, Any]
    ) -> None:
        cluster, collection = self._cluster_and_collection(body, "")
        index_fns = [f for f in functions if _enum(f.get("action")) in INDEX_ACTIONS]
        preserve_fns = [f for f in functions if _enum(f.get("action")) == "PRESERVE"]
        others = [f for f in functions if f not in index_fns and f not in preserve_fns]
        if others:
            raise bad_param(
                f"Unsupported function action {others[0].get('action')!r} in an INGESTION pipeline."
            )
        if len(index_fns) != 1:
            raise bad_param("An INGESTION pipeline needs exactly one INDEX function.")
        if len(preserve_fns) > 50:
            raise bad_param("An INGESTION pipeline can have at most 50 PRESERVE functions.")
        index_fn = index_fns[0]
        action = _enum(index_fn.get("action"))
        echoed: list[dict[str, Any]] = []
        fn_out: dict[str, Any] = {"name": self._function_name(index_fn), "action": action}
        model = ""
        if action == "INDEX_IMAGE":
            model = index_fn.get("embedding") or "zilliz/clip-vit-base-patch32"
            if model not in IMAGE_MODELS:
                raise bad_param(f"Unsupported image embedding model {model!r}.")
            fn_out.update({"inputFields": ["image_url", "image_id"], "embedding": model})
        else:
            language, model = self._text_model(index_fn)
            if action == "INDEX_TEXT":
                fn_out.update(
                    {"inputFields": ["text_list"], "language": language, "embedding": model}
                )
            else:
                low, high = CHUNK_RANGES[model]
                chunk_size = index_fn.get("chunkSize", DEFAULT_CHUNK_SIZE)
                if isinstance(chunk_size, bool) or not isinstance(chunk_size, int):
                    raise bad_param("chunkSize must be an integer.")
                if not low <= chunk_size <= high:
                    raise bad_param(f"chunkSize for {model} must be within {low}-{high}.")
                split_by = index_fn.get("splitBy", list(DEFAULT_SPLIT_BY))
                if not isinstance(split_by, list) or not all(isinstance(s, str) for s in split_by):
                    raise bad_param("splitBy must be an array of strings.")
                fn_out.update(
                    {
                        "inputField": "doc_url",
                        "language": language,
                        "embedding": model,
                        "chunkSize": chunk_size,
                        "splitBy": split_by,
                    }
                )
        echoed.append(fn_out)
        preserved: dict[str, str] = {}
        for fn in preserve_fns:
            fname = self._function_name(fn)
            input_field = fn.get("inputField")
            output_field = fn.get("outputField", input_field)
            field_type = fn.get("fieldType")
            if not isinstance(input_field, str) or not FIELD_RE.match(input_field):
                raise bad_param(f"PRESERVE {fname}: inputField must be a valid field name.")
            if output_field != input_field:
                raise bad_param(f"PRESERVE {fname}: outputField must equal inputField.")
            if input_field in RESERVED_FIELDS:
                raise bad_param(
                    f"PRESERVE {fname}: {input_field!r} collides with a reserved field name."
                )
            if input_field in preserved:
                raise bad_param(f"PRESERVE {fname}: field {input_field!r} is preserved twice.")
            if field_type not in FIELD_TYPES:
                raise bad_param(f"PRESERVE {fname}: fieldType must be one of {FIELD_TYPES}.")
            preserved[input_field] = field_type
            echoed.append(
                {
                    "name": fname,
                    "action": "PRESERVE",
                    "inputField": input_field,
                    "outputField": output_field,
                    "fieldType": field_type,
                }
            )
        kind = {"INDEX_TEXT": "text", "INDEX_DOC": "doc", "INDEX_IMAGE": "image"}[action]
        served = {"servedEmbedding": self._ensure_collection(collection, kind, preserved, model)}
        pipeline.update(
            {
                "totalUsage": {"embedding": 0},
                "functions": echoed,
                "clusterId": cluster,
                "collectionName": collection,
                **served,
            }
        )

    def _ensure_collection(
        self, collection: str, kind: str, preserved: dict[str, str], model: str
    ) -> str:
        """Create the collection with the dimension of the embedder serving ``model``, or check an
        existing one is compatible (fields, model, dim); the served embedder's stored name."""
        if self.storage.has_collection(collection):
            info = self.storage.get_meta("collection", collection)
            if info and info.get("embedding") != model:
                raise bad_param(
                    f"Collection {collection!r} was built with {info.get('embedding')}, "
                    f"not {model}."
                )
            served, dim = self._vector_space(collection, kind, model, info)
            wanted = self._schema_fields(kind, preserved, dim)
            actual = self.storage.collection_fields(collection)
            if actual != wanted:
                raise bad_param(
                    f"Collection {collection!r} exists with an incompatible schema "
                    f"{sorted(actual.items())}; expected {sorted(wanted.items())}."
                )
        else:
            served, dim = self._vector_space(collection, kind, model, None)
            self.storage.create_data_collection(collection, kind, preserved, dim)
        self.storage.put_meta(
            "collection",
            collection,
            {
                "kind": kind,
                "embedding": model,
                "embedder": served,
                "dim": dim,
                "preserved": preserved,
            },
        )
        return served

    def _vector_space(
        self, collection: str, kind: str, model: str, info: dict[str, Any] | None
    ) -> tuple[str, int]:
        """Stored embedder name and dimension: of what built an existing collection (``info``),
        else of what serves ``model`` (for images: CLIP when available, else the descriptor)."""
        if kind == "image" and info is not None:
            image = self.image_embedder_of(collection, info)
            return image.stored_name, image.dim
        if info is not None:
            embedder = self.collection_embedder(collection, info)
            return embedder_name(embedder), embedder.dim
        try:
            if kind == "image":
                image = self.image_models.for_model(model)
                return image.stored_name, image.dim
            embedder = self.models.resolve(model).embedder
        except ModelUnavailableError as exc:
            raise bad_param(str(exc)) from None
        return embedder_name(embedder), embedder.dim

    @staticmethod
    def _schema_fields(kind: str, preserved: dict[str, str], dim: int) -> dict[str, str]:
        fields = {"id": "Int64", "embedding": f"FloatVector({dim})"}
        if kind == "text":
            fields["text"] = "VarChar"
        elif kind == "image":
            fields["image_id"] = "VarChar"
        else:
            fields.update({"doc_name": "VarChar", "chunk_id": "Int64", "chunk_text": "VarChar"})
        fields.update(preserved)
        return fields

    def _collection_info(self, collection: str) -> dict[str, Any]:
        info = self.storage.get_meta("collection", collection)
        if info is None or not self.storage.has_collection(collection):
            raise bad_param(
                f"Collection {collection!r} does not exist; create an INGESTION pipeline first."
            )
        return info

    def _create_search(self, functions: list[dict[str, Any]], pipeline: dict[str, Any]) -> None:
        if len(functions) != 1:
            raise bad_param("A SEARCH pipeline needs exactly one function.")
        fn = functions[0]
        action = _enum(fn.get("action"))
        if action not in SEARCH_ACTIONS:
            raise bad_param(f"Unsupported SEARCH function action {fn.get('action')!r}.")
        fname = self._function_name(fn)
        if "clusterId" not in fn or not ("collectionName" in fn or "newCollectionName" in fn):
            raise bad_param(
                "SEARCH functions need clusterId and collectionName inside the function."
            )
        cluster, collection = self._cluster_and_collection(fn, "function ")
        out: dict[str, Any] = {"name": fname, "action": action}
        served: dict[str, Any] = {}
        reranker = fn.get("reranker")
        if reranker is not None and reranker not in RERANKERS:
            raise bad_param(f"Unsupported reranker {reranker!r}; only {RERANKERS[0]}.")
        if reranker is not None and action not in ("SEARCH_TEXT", "SEARCH_DOC_CHUNK"):
            raise bad_param(
                f"A reranker applies to SEARCH_TEXT and SEARCH_DOC_CHUNK, not {action}."
            )
        info = self._collection_info(collection)
        want_kind = {"SEARCH_TEXT": "text", "SEARCH_DOC_CHUNK": "doc"}.get(action, "image")
        if info["kind"] != want_kind:
            raise bad_param(
                f"{action} needs a {want_kind} collection; {collection!r} holds {info['kind']}."
            )
        if reranker is not None:
            self.rerankers.require(reranker)
        if action in ("SEARCH_TEXT", "SEARCH_DOC_CHUNK"):
            model = fn.get("embedding") or info["embedding"]
            if model != info["embedding"]:
                raise bad_param(
                    f"The search embedding model {model!r} must equal the ingestion model "
                    f"{info['embedding']!r}."
                )
            served_embedder = self.collection_embedder(collection, info)
            served["servedEmbedding"] = embedder_name(served_embedder)
            out.update({"inputFields": ["query_text"], "embedding": model})
        else:
            model = fn.get("embedding") or info["embedding"]
            if model not in IMAGE_MODELS:
                raise bad_param(f"Unsupported image embedding model {model!r}.")
            if model != info["embedding"]:
                raise bad_param(
                    f"The search embedding model {model!r} must equal the ingestion model "
                    f"{info['embedding']!r}."
                )
            if action == "SEARCH_IMAGE_BY_TEXT" and not is_clip(model):
                raise bad_param(
                    f"SEARCH_IMAGE_BY_TEXT needs an image collection built with "
                    f"zilliz/clip-vit-base-patch32; {collection!r} was built with {model!r}."
                )
            served["servedEmbedding"] = self.image_embedder_of(collection, info).stored_name
            query_input = "query_image_url" if action == "SEARCH_IMAGE_BY_IMAGE" else "query_text"
            out.update({"inputFields": [query_input], "embedding": model})
        if reranker is not None:
            out["reranker"] = reranker
        out.update({"clusterId": cluster, "collectionName": collection})
        pipeline.update({"totalUsage": {"embedding": 0, "rerank": 0}, "functions": [out], **served})

    def _create_deletion(
        self, body: dict[str, Any], functions: list[dict[str, Any]], pipeline: dict[str, Any]
    ) -> None:
        cluster, collection = self._cluster_and_collection(body, "")
        if len(functions) != 1:
            raise bad_param("A DELETION pipeline needs exactly one function.")
        fn = functions[0]
        action = _enum(fn.get("action"))
        if action not in DELETE_ACTIONS:
            raise bad_param(f"Unsupported DELETION function action {fn.get('action')!r}.")
        fname = self._function_name(fn)
        inputs = {
            "PURGE_TEXT_INDEX": ["expression"],
            "PURGE_DOC_INDEX": ["doc_name"],
            "PURGE_IMAGE_INDEX": ["image_id"],
            "PURGE_BY_EXPRESSION": ["expression"],
        }[action]
        info = self._collection_info(collection)
        need = {"PURGE_TEXT_INDEX": "text", "PURGE_DOC_INDEX": "doc", "PURGE_IMAGE_INDEX": "image"}
        if action in need and info["kind"] != need[action]:
            raise bad_param(
                f"{action} needs a {need[action]} collection; {collection!r} holds {info['kind']}."
            )
        pipeline.update(
            {
                "totalUsage": {"embedding": 0},
                "functions": [{"name": fname, "action": action, "inputFields": inputs}],
                "clusterId": cluster,
                "collectionName": collection,
            }
        )


def index_function(pipeline: dict[str, Any]) -> dict[str, Any]:
    """A copy of the pipeline's runnable (non-PRESERVE) function."""
    for fn in pipeline["functions"]:
        if fn["action"] != "PRESERVE":
            return dict(fn)
    raise bad_param("Pipeline has no runnable function.")


def preserved_fields(pipeline: dict[str, Any]) -> dict[str, str]:
    """``{field: fieldType}`` of the pipeline's PRESERVE functions."""
    return {
        fn["inputField"]: fn["fieldType"]
        for fn in pipeline["functions"]
        if fn["action"] == "PRESERVE"
    }
