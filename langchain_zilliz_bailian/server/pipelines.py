"""Zilliz Cloud Pipelines semantics: create-time validation, the pipeline object, running.

Everything here is blocking (Milvus and embedding calls) except :meth:`PipelineService.run`, which
downloads ``doc_url`` asynchronously and then hands the work to a worker thread.
Pipeline records are stored in Milvus (see :mod:`.storage`) as ``{"projectId", "pipeline"}``.
"""

from __future__ import annotations

import json
import math
import re
import time
from pathlib import Path
from typing import Any

from anyio import to_thread

from langchain_zilliz_bailian.server.chunking import (
    DEFAULT_CHUNK_SIZE,
    DEFAULT_SPLIT_BY,
    UnsupportedFormatError,
    chunk_document,
    decode_document,
    doc_format,
)
from langchain_zilliz_bailian.server.embeddings import Embedder, embedder_name
from langchain_zilliz_bailian.server.errors import (
    ZILLIZ_NOT_FOUND,
    ZillizError,
    bad_param,
)
from langchain_zilliz_bailian.server.expr import ExpressionError, all_of, field_equals, field_in
from langchain_zilliz_bailian.server.fetch import fetch_document
from langchain_zilliz_bailian.server.ids import IdKind, InvalidIdError, check_id, new_pipeline_id
from langchain_zilliz_bailian.server.storage import (
    FIELD_TYPES,
    FLOAT32_MAX,
    META_COLLECTION,
    VARCHAR_MAX,
    Storage,
    StorageError,
)
from langchain_zilliz_bailian.server.strict_json import loads as strict_loads
from langchain_zilliz_bailian.server.text import count_tokens, terms

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
        "image_title",
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


class PipelineService:
    """Create/list/describe/drop/run on top of :class:`Storage` and an :class:`Embedder`."""

    def __init__(
        self, storage: Storage, embedder: Embedder, data_dir: Path, legacy: bool = False
    ) -> None:
        self.storage = storage
        self.embedder = embedder
        self.data_dir = data_dir
        self.legacy = legacy
        self._fields_cache: dict[str, dict[str, str]] = {}

    # -- records ----------------------------------------------------------------------------------

    def _load(self, pipeline_id: str) -> dict[str, Any]:
        record = self.storage.get_meta("pipeline", checked_id("pipeline", pipeline_id))
        if record is None:
            raise ZillizError(
                ZILLIZ_NOT_FOUND, f"Pipeline {pipeline_id} does not exist.", status=404
            )
        pipeline: dict[str, Any] = record["pipeline"]
        return pipeline

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

    def _add_usage(self, pipeline_id: str, embedding: int, rerank: int = 0) -> None:
        if not embedding and not rerank:
            return

        def add(record: dict[str, Any] | None) -> dict[str, Any] | None:
            if record is None:  # dropped meanwhile: do not bring it back
                return None
            usage = record["pipeline"]["totalUsage"]
            usage["embedding"] = int(usage.get("embedding", 0)) + embedding
            if "rerank" in usage:
                usage["rerank"] = int(usage["rerank"]) + rerank
            return record

        self.storage.update_meta("pipeline", pipeline_id, add)

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
        if action != "INDEX_IMAGE":
            kind = "text" if action == "INDEX_TEXT" else "doc"
            self._ensure_collection(collection, kind, preserved, model)
        pipeline.update(
            {
                "totalUsage": {"embedding": 0},
                "functions": echoed,
                "clusterId": cluster,
                "collectionName": collection,
            }
        )

    def _ensure_collection(
        self, collection: str, kind: str, preserved: dict[str, str], model: str
    ) -> None:
        """Create the collection, or check an existing one is compatible (fields, model, dim)."""
        wanted = self._schema_fields(kind, preserved)
        if self.storage.has_collection(collection):
            actual = self.storage.collection_fields(collection)
            if actual != wanted:
                raise bad_param(
                    f"Collection {collection!r} exists with an incompatible schema "
                    f"{sorted(actual.items())}; expected {sorted(wanted.items())}."
                )
            info = self.storage.get_meta("collection", collection)
            if info and info.get("embedding") != model:
                raise bad_param(
                    f"Collection {collection!r} was built with {info.get('embedding')}, "
                    f"not {model}."
                )
        else:
            self.storage.create_data_collection(collection, kind, preserved, self.embedder.dim)
        self.storage.put_meta(
            "collection",
            collection,
            {
                "kind": kind,
                "embedding": model,
                "embedder": embedder_name(self.embedder),
                "preserved": preserved,
            },
        )

    def _schema_fields(self, kind: str, preserved: dict[str, str]) -> dict[str, str]:
        fields = {"id": "Int64", "embedding": f"FloatVector({self.embedder.dim})"}
        if kind == "text":
            fields["text"] = "VarChar"
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
        reranker = fn.get("reranker")
        if reranker is not None and reranker not in RERANKERS:
            raise bad_param(f"Unsupported reranker {reranker!r}; only {RERANKERS[0]}.")
        if action in ("SEARCH_TEXT", "SEARCH_DOC_CHUNK"):
            info = self._collection_info(collection)
            want_kind = "text" if action == "SEARCH_TEXT" else "doc"
            if info["kind"] != want_kind:
                raise bad_param(
                    f"{action} needs a {want_kind} collection; {collection!r} holds {info['kind']}."
                )
            model = fn.get("embedding") or info["embedding"]
            if model != info["embedding"]:
                raise bad_param(
                    f"The search embedding model {model!r} must equal the ingestion model "
                    f"{info['embedding']!r}."
                )
            out.update({"inputFields": ["query_text"], "embedding": model})
        else:
            model = fn.get("embedding") or "zilliz/clip-vit-base-patch32"
            if model not in IMAGE_MODELS:
                raise bad_param(f"Unsupported image embedding model {model!r}.")
            query_input = "query_image_url" if action == "SEARCH_IMAGE_BY_IMAGE" else "query_text"
            out.update({"inputFields": [query_input], "embedding": model})
        if reranker is not None:
            out["reranker"] = reranker
        out.update({"clusterId": cluster, "collectionName": collection})
        pipeline.update({"totalUsage": {"embedding": 0, "rerank": 0}, "functions": [out]})

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
        if action != "PURGE_IMAGE_INDEX":
            info = self._collection_info(collection)
            need = {"PURGE_TEXT_INDEX": "text", "PURGE_DOC_INDEX": "doc"}.get(action)
            if need and info["kind"] != need:
                raise bad_param(
                    f"{action} needs a {need} collection; {collection!r} holds {info['kind']}."
                )
        pipeline.update(
            {
                "totalUsage": {"embedding": 0},
                "functions": [{"name": fname, "action": action, "inputFields": inputs}],
                "clusterId": cluster,
                "collectionName": collection,
            }
        )

    # -- run --------------------------------------------------------------------------------------

    @staticmethod
    def _index_function(pipeline: dict[str, Any]) -> dict[str, Any]:
        for fn in pipeline["functions"]:
            if fn["action"] != "PRESERVE":
                return dict(fn)
        raise bad_param("Pipeline has no runnable function.")

    @staticmethod
    def _preserved(pipeline: dict[str, Any]) -> dict[str, str]:
        return {
            fn["inputField"]: fn["fieldType"]
            for fn in pipeline["functions"]
            if fn["action"] == "PRESERVE"
        }

    async def run(self, pipeline_id: str, body: Any) -> dict[str, Any]:
        """``POST /v1/pipelines/{id}/run``."""
        if not isinstance(body, dict):
            raise bad_param("The request body must be a JSON object.")
        data = body.get("data")
        if not isinstance(data, dict):
            raise bad_param("data is required and must be an object.")
        pipeline = await to_thread.run_sync(self._load, pipeline_id)
        fn = self._index_function(pipeline)
        action = fn["action"]
        if action in IMAGE_ACTIONS:
            raise bad_param(
                f"The local compatible server does not support image embedding ({action}); "
                "image pipelines can be created but not run."
            )
        if action == "INDEX_DOC":
            url = data.get("doc_url")
            if not isinstance(url, str) or not url.strip():
                raise bad_param("data.doc_url is required and must be a string.")
            meta = {k: v for k, v in data.items() if k != "doc_url"}
            self._check_preserved(pipeline, meta)
            doc_name, raw = await fetch_document(url.strip(), self.data_dir)
            return await to_thread.run_sync(self._ingest_doc, pipeline, doc_name, raw, meta)
        if action == "INDEX_TEXT":
            return await to_thread.run_sync(self._ingest_text, pipeline, data)
        params = body.get("params")
        if action in SEARCH_ACTIONS:
            return await to_thread.run_sync(self._search, pipeline, data, params)
        return await to_thread.run_sync(self._delete, pipeline, data)

    async def run_with_file(
        self, pipeline_id: str, filename: str, raw: bytes, data_json: str | None
    ) -> dict[str, Any]:
        """``POST /v1/pipelines/{id}/run_ingestion_with_file`` (multipart ``file`` + ``data``)."""
        pipeline = await to_thread.run_sync(self._load, pipeline_id)
        fn = self._index_function(pipeline)
        if fn["action"] != "INDEX_DOC":
            raise bad_param("run_ingestion_with_file needs an INGESTION pipeline with INDEX_DOC.")
        meta: Any = {}
        if data_json not in (None, ""):
            try:
                meta = strict_loads(data_json)
            except ValueError as exc:
                raise bad_param(
                    f"The multipart data part must be a JSON-encoded object: {exc}"
                ) from None
        if not isinstance(meta, dict):
            raise bad_param("The multipart data part must be a JSON-encoded object.")
        if "doc_url" in meta:
            raise bad_param("doc_url cannot be combined with an uploaded file.")
        self._check_preserved(pipeline, meta)
        return await to_thread.run_sync(self._ingest_doc, pipeline, filename, raw, meta)

    def _check_preserved(self, pipeline: dict[str, Any], meta: dict[str, Any]) -> None:
        preserved = self._preserved(pipeline)
        for key in meta:
            if key in RESERVED_FIELDS:
                raise bad_param(f"{key!r} is a reserved input and cannot be a preserved field.")
            if key not in preserved:
                known = sorted(preserved) or "none"
                raise bad_param(f"Unknown field {key!r}; this pipeline preserves: {known}.")
        for key, field_type in preserved.items():
            if key not in meta:
                raise bad_param(f"Preserved field {key!r} ({field_type}) is missing from data.")
            validate_preserved_value(key, field_type, meta[key])

    def _usage(self, payload: dict[str, Any], embedding: int, rerank: int | None = None) -> None:
        if self.legacy:
            payload["token_usage"] = embedding + (rerank or 0)
        else:
            payload["usage"] = (
                {"embedding": embedding}
                if rerank is None
                else {"embedding": embedding, "rerank": rerank}
            )

    def _embed(self, texts: list[str]) -> list[list[float]]:
        return self.embedder.embed(texts)

    def _ingest_text(self, pipeline: dict[str, Any], data: dict[str, Any]) -> dict[str, Any]:
        texts = data.get("text_list")
        if isinstance(texts, str):
            texts = [texts]
        if not isinstance(texts, list) or not texts:
            raise bad_param("data.text_list is required and must be a non-empty array of strings.")
        if not all(isinstance(t, str) and t.strip() for t in texts):
            raise bad_param("Every item of text_list must be a non-empty string.")
        if any(len(t) > 65535 for t in texts):
            raise bad_param("A text_list item exceeds 65535 characters.")
        model = self._index_function(pipeline)["embedding"]
        cap = 3500 if model.startswith("zilliz/") else 6000
        if len(texts) > cap:
            raise bad_param(f"At most {cap} texts per ingestion call for {model}.")
        meta = {k: v for k, v in data.items() if k != "text_list"}
        self._check_preserved(pipeline, meta)
        collection = pipeline["collectionName"]
        self._check_embedder(collection)
        vectors = self._embed(texts)
        rows = [{"text": t, "embedding": v, **meta} for t, v in zip(texts, vectors, strict=True)]
        try:
            ids = self.storage.insert(collection, rows)
        except StorageError as exc:
            raise bad_param(f"Insert failed: {exc}") from None
        tokens = sum(count_tokens(t) for t in texts)
        self._add_usage(pipeline["pipelineId"], tokens)
        out: dict[str, Any] = {"num_entities": len(ids), "ids": ids}
        self._usage(out, tokens)
        return out

    def _ingest_doc(
        self, pipeline: dict[str, Any], doc_name: str, raw: bytes, meta: dict[str, Any]
    ) -> dict[str, Any]:
        fn = self._index_function(pipeline)
        try:
            fmt = doc_format(doc_name)
        except UnsupportedFormatError as exc:
            raise bad_param(str(exc)) from None
        if len(doc_name) > 1024:
            raise bad_param("The document name exceeds 1024 characters.")
        if len(raw) > 10 * 1024 * 1024:
            raise bad_param("The document exceeds the 10 MB limit.")
        chunks = chunk_document(
            decode_document(raw),
            fmt,
            fn.get("chunkSize", DEFAULT_CHUNK_SIZE),
            fn.get("splitBy", list(DEFAULT_SPLIT_BY)),
        )
        if not chunks:
            raise bad_param(f"The document {doc_name!r} contains no text.")
        cap = 3500 if fn["embedding"].startswith("zilliz/") else 6000
        if len(chunks) > cap:
            raise bad_param(f"The document yields {len(chunks)} chunks; the limit is {cap}.")
        collection = pipeline["collectionName"]
        self._check_embedder(collection)
        vectors = self._embed(chunks)
        rows = [
            {"doc_name": doc_name, "chunk_id": i, "chunk_text": c, "embedding": v, **meta}
            for i, (c, v) in enumerate(zip(chunks, vectors, strict=True))
        ]
        try:
            self.storage.insert(collection, rows)
        except StorageError as exc:
            raise bad_param(f"Insert failed: {exc}") from None
        tokens = sum(count_tokens(c) for c in chunks)
        self._add_usage(pipeline["pipelineId"], tokens)
        out: dict[str, Any] = {"doc_name": doc_name, "num_chunks": len(chunks)}
        self._usage(out, tokens)
        return out

    def _check_embedder(self, collection: str) -> None:
        info = self.storage.get_meta("collection", collection)
        current = embedder_name(self.embedder)
        if info and info.get("embedder") not in (None, current):
            raise bad_param(
                f"Collection {collection!r} was embedded with {info['embedder']}, but this server "
                f"runs {current}; restart it with the same embedder or use a new collection."
            )

    def collection_fields(self, collection: str) -> dict[str, str]:
        """Cached field map of a data collection."""
        if collection not in self._fields_cache:
            try:
                self._fields_cache[collection] = self.storage.collection_fields(collection)
            except StorageError as exc:
                raise bad_param(f"Collection {collection!r} is not available: {exc}") from None
        return self._fields_cache[collection]

    def search_collection(
        self,
        collection: str,
        kind: str,
        query: str,
        limit: int,
        offset: int,
        output_fields: list[str],
        filter_expr: str,
        rerank: bool = False,
    ) -> tuple[list[dict[str, Any]], int]:
        """Run one search; return result items and rerank usage (shared with the Bailian app)."""
        self._check_embedder(collection)
        fields = self.collection_fields(collection)
        main = ["text"] if kind == "text" else ["chunk_text", "chunk_id", "doc_name"]
        allowed = {"id", "distance", *(f for f in fields if f != "embedding")}
        for name in output_fields:
            if name not in allowed:
                raise bad_param(
                    f"Unknown output field {name!r}; available: {sorted(allowed - {'distance'})}."
                )
        wanted = list(
            dict.fromkeys([*main, *(f for f in output_fields if f not in ("id", "distance"))])
        )
        vector = self._embed([query])[0]
        try:
            if rerank:
                hits = self.storage.search(
                    collection, vector, limit + offset, 0, filter_expr, wanted
                )
            else:
                hits = self.storage.search(collection, vector, limit, offset, filter_expr, wanted)
        except StorageError as exc:
            raise bad_param(f"Invalid search request (filter {filter_expr!r}): {exc}") from None
        rerank_tokens = 0
        if rerank:
            query_terms = set(terms(query))
            scored = []
            for hit in hits:
                text = str(hit.fields.get(main[0], ""))
                rerank_tokens += count_tokens(query) + count_tokens(text)
                overlap = len(query_terms & set(terms(text))) / max(1, len(query_terms))
                scored.append((0.5 * hit.distance + 0.5 * overlap, hit))
            scored.sort(key=lambda pair: -pair[0])
            for score, hit in scored:
                hit.distance = round(score, 6)
            hits = [hit for _, hit in scored][offset : offset + limit]
        results = []
        for hit in hits:
            item: dict[str, Any] = {
                "id": str(hit.id) if self.legacy else hit.id,
                "distance": hit.distance,
            }
            item.update({k: hit.fields.get(k) for k in wanted})
            results.append(item)
        return results, rerank_tokens

    def _search(
        self, pipeline: dict[str, Any], data: dict[str, Any], params: Any
    ) -> dict[str, Any]:
        fn = pipeline["functions"][0]
        query = data.get("query_text")
        if not isinstance(query, str) or not query.strip():
            raise bad_param("data.query_text is required and must be a non-empty string.")
        if params is None:
            params = {}
        if not isinstance(params, dict):
            raise bad_param("params must be an object.")
        limit = params.get("limit", 10)
        offset = params.get("offset", 0)
        for key, value in (("limit", limit), ("offset", offset)):
            if isinstance(value, bool) or not isinstance(value, int):
                raise bad_param(f"params.{key} must be an integer.")
        if not 1 <= limit <= 500:
            raise bad_param("params.limit must be within [1, 500].")
        if offset < 0:
            raise bad_param("params.offset must be >= 0.")
        if limit + offset > 1024:
            raise bad_param("params.limit + params.offset must be <= 1024.")
        output_fields = params.get("outputFields") or []
        if not isinstance(output_fields, list) or not all(
            isinstance(f, str) for f in output_fields
        ):
            raise bad_param("params.outputFields must be an array of field names.")
        filter_expr = params.get("filter") or ""
        if not isinstance(filter_expr, str):
            raise bad_param("params.filter must be a string (a Milvus boolean expression).")
        try:
            filter_expr = all_of(filter_expr)
        except ExpressionError as exc:
            raise bad_param(f"Invalid params.filter {filter_expr!r}: {exc}.") from None
        kind = "text" if fn["action"] == "SEARCH_TEXT" else "doc"
        results, rerank_tokens = self.search_collection(
            fn["collectionName"],
            kind,
            query,
            limit,
            offset,
            output_fields,
            filter_expr,
            rerank="reranker" in fn,
        )
        tokens = count_tokens(query)
        self._add_usage(pipeline["pipelineId"], tokens, rerank_tokens)
        out: dict[str, Any] = {"result": results}
        self._usage(out, tokens, rerank_tokens)
        return out

    def _delete(self, pipeline: dict[str, Any], data: dict[str, Any]) -> dict[str, Any]:
        action = pipeline["functions"][0]["action"]
        collection = pipeline["collectionName"]
        expression = data.get("expression")
        if action == "PURGE_DOC_INDEX" and expression is None:
            doc_name = data.get("doc_name")
            if not isinstance(doc_name, str) or not doc_name:
                raise bad_param("data.doc_name is required and must be a string.")
            try:
                expression = field_equals("doc_name", doc_name)
            except ExpressionError as exc:
                raise bad_param(f"Invalid data.doc_name: {exc}.") from None
        elif action == "PURGE_TEXT_INDEX" and expression is None and "id" in data:
            raw_ids = data["id"] if isinstance(data["id"], list) else [data["id"]]
            try:
                ids = [int(i) for i in raw_ids if not isinstance(i, bool | float)]
            except (TypeError, ValueError):
                ids = []
            if not ids or len(ids) != len(raw_ids):
                raise bad_param("data.id must be an int64 id or a list of them (never floats).")
            try:
                expression = field_in("id", ids)
            except ExpressionError as exc:
                raise bad_param(f"Invalid data.id: {exc}.") from None
        if not isinstance(expression, str) or not expression.strip():
            raise bad_param("data.expression is required and must be a non-empty string.")
        try:
            # Parenthesised and self-contained; Milvus evaluates it on this collection only.
            deleted = self.storage.delete(collection, all_of(expression))
        except ExpressionError as exc:
            raise bad_param(f"Invalid expression {expression!r}: {exc}.") from None
        except StorageError as exc:
            raise bad_param(f"Invalid expression {expression!r}: {exc}") from None
        key = "num_deleted_chunks" if action == "PURGE_DOC_INDEX" else "num_deleted_entities"
        return {key: deleted}
