"""Pipeline runs: ingestion (texts, documents, images), search and deletion through a pipeline.

Everything here is blocking (Milvus and embedding calls) except :meth:`PipelineService.run` and
:meth:`PipelineService.run_with_file`, which download ``doc_url``, ``image_url`` or
``query_image_url`` asynchronously and then hand the work to a worker thread. Text and document
searches go through a :class:`.SearchBatcher`: concurrent ones share one embedding call and one
Milvus search.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, NamedTuple

from anyio import to_thread

from langchain_zilliz_bailian.server.chunk_fields import chunk_values, fillable_fields
from langchain_zilliz_bailian.server.chunking import (
    DEFAULT_CHUNK_SIZE,
    DEFAULT_SPLIT_BY,
    chunk_sections,
)
from langchain_zilliz_bailian.server.clip import ClipModel
from langchain_zilliz_bailian.server.documents import DocumentError, doc_format, parse_document
from langchain_zilliz_bailian.server.embeddings import Embedder
from langchain_zilliz_bailian.server.errors import ZILLIZ_INTERNAL, ZillizError, bad_param
from langchain_zilliz_bailian.server.expr import ExpressionError, all_of, field_equals, field_in
from langchain_zilliz_bailian.server.fetch import (
    FetchPolicy,
    doc_name_from_url,
    fetch_document,
    fetch_url,
)
from langchain_zilliz_bailian.server.image_models import CLIP_SOURCE, ImageEmbedder
from langchain_zilliz_bailian.server.images import ImageDecodeError
from langchain_zilliz_bailian.server.models.registry import ModelRegistry
from langchain_zilliz_bailian.server.models.remote import RemoteEmbeddingError
from langchain_zilliz_bailian.server.pipeline_specs import (
    RERANKERS,
    RESERVED_FIELDS,
    SEARCH_ACTIONS,
    PipelineRegistry,
    index_function,
    preserved_fields,
    validate_preserved_value,
)
from langchain_zilliz_bailian.server.rerank import rerank_hits
from langchain_zilliz_bailian.server.search_batch import MAX_BATCH, SearchBatcher
from langchain_zilliz_bailian.server.storage import (
    IMAGE_ID_MAX,
    Hit,
    InvalidValueError,
    Storage,
    StorageError,
)
from langchain_zilliz_bailian.server.strict_json import loads as strict_loads
from langchain_zilliz_bailian.server.text import count_tokens
from langchain_zilliz_bailian.server.usage import DEFAULT_FLUSH_INTERVAL_S, UsageCounters


@dataclass(frozen=True)
class SearchParams:
    """Checked search ``params``; ``whole`` asks for the first ``limit + offset`` hits."""

    limit: int
    offset: int
    output_fields: tuple[str, ...]
    filter: str
    whole: bool = False


@dataclass(frozen=True)
class TextSearch:
    """What searches of one batch share: the collection, its kind (``text`` or ``doc``), the
    checked parameters and the reranker (see :mod:`.search_batch`)."""

    collection: str
    kind: str
    params: SearchParams
    reranker: str | None = None


class SearchQuery(NamedTuple):
    """One search run's query text and the pipeline its usage is counted for."""

    pipeline_id: str
    text: str


#: Hits one batched search may ask Milvus for (queries x (limit + offset)): a batch of searches
#: for many hits each stays well within Milvus's result size limits.
BATCH_HITS = 4096
#: ``params.filter`` longer than this is checked in a worker thread, not on the event loop.
LOOP_FILTER_CHARS = 4096


def _batch_size(search: TextSearch) -> int:
    """How many queries of ``search`` go in one batch."""
    return min(MAX_BATCH, max(1, BATCH_HITS // (search.params.limit + search.params.offset)))


def _long_filter(params: Any) -> bool:
    if not isinstance(params, dict):
        return False
    expression = params.get("filter")
    return isinstance(expression, str) and len(expression) > LOOP_FILTER_CHARS


def _image_id(value: object) -> str:
    """``data.image_id``: a non-empty string (Z17), at most the collection's VarChar length."""
    if not isinstance(value, str) or not value.strip():
        raise bad_param("data.image_id is required and must be a non-empty string.")
    if len(value) > IMAGE_ID_MAX:
        raise bad_param(f"data.image_id exceeds {IMAGE_ID_MAX} characters.")
    return value


def _embed_image(embedder: ImageEmbedder, raw: bytes, field: str) -> list[float]:
    """``embedder.embed_image``; bytes that are not a usable image are a 400 naming ``field``."""
    try:
        return embedder.embed_image(raw)
    except ImageDecodeError as exc:
        raise bad_param(f"data.{field}: {exc}") from None


class PipelineService(PipelineRegistry):
    """The registry plus running: ingest, search and delete through a pipeline."""

    def __init__(
        self,
        storage: Storage,
        models: ModelRegistry,
        data_dir: Path,
        legacy: bool = False,
        fetch_policy: FetchPolicy | None = None,
        usage_flush_interval_s: float = DEFAULT_FLUSH_INTERVAL_S,
    ) -> None:
        super().__init__(storage, models)
        self.usage_counters = UsageCounters(storage, usage_flush_interval_s)
        self.data_dir = data_dir
        self.legacy = legacy
        self.fetch_policy = fetch_policy or FetchPolicy()
        self._fields_cache: dict[str, dict[str, str]] = {}
        self.text_searches: SearchBatcher[TextSearch, SearchQuery, dict[str, Any]] = SearchBatcher(
            self._search_batch, max_batch=_batch_size
        )

    # -- reads that include the usage not yet persisted ---------------------------------------

    def describe(self, pipeline_id: str) -> dict[str, Any]:
        """The pipeline object, ``totalUsage`` exact (pending counts included)."""
        with self.usage_counters.consistent_read():
            return self.usage_counters.overlay(super().describe(pipeline_id))

    def list_pipelines(self, project_id: str) -> list[dict[str, Any]]:
        """Pipelines of ``project_id``, oldest first, ``totalUsage`` exact."""
        counters = self.usage_counters
        with counters.consistent_read():
            stored = counters.stored()
            return [counters.overlay(p, stored) for p in super().list_pipelines(project_id)]

    def drop(self, pipeline_id: str) -> dict[str, Any]:
        """Remove the pipeline (answered with its last state); its usage records go with it."""
        with self.usage_counters.consistent_read():
            dropped = self.usage_counters.overlay(super().drop(pipeline_id))
            self.usage_counters.forget(pipeline_id)
            return dropped

    async def run(self, pipeline_id: str, body: Any) -> dict[str, Any]:
        """``POST /v1/pipelines/{id}/run``."""
        if not isinstance(body, dict):
            raise bad_param("The request body must be a JSON object.")
        data = body.get("data")
        if not isinstance(data, dict):
            raise bad_param("data is required and must be an object.")
        pipeline = await self._pipeline_for_run(pipeline_id)
        fn = index_function(pipeline)
        action = fn["action"]
        if action == "INDEX_IMAGE":
            meta = {k: v for k, v in data.items() if k not in ("image_url", "image_id")}
            self._check_preserved(pipeline, meta)
            image_id = _image_id(data.get("image_id"))
            raw = await self._fetch_image(data, "image_url")
            return await to_thread.run_sync(self._ingest_image, pipeline, image_id, raw, meta)
        if action == "SEARCH_IMAGE_BY_TEXT":
            checked = self._search_params(body.get("params"), 100)
            return await to_thread.run_sync(self._search_image, pipeline, data, None, checked)
        if action == "SEARCH_IMAGE_BY_IMAGE":
            checked = self._search_params(body.get("params"), 500)
            raw = await self._fetch_image(data, "query_image_url")
            return await to_thread.run_sync(self._search_image, pipeline, data, raw, checked)
        if action == "INDEX_DOC":
            url = data.get("doc_url")
            if not isinstance(url, str) or not url.strip():
                raise bad_param("data.doc_url is required and must be a string.")
            meta = {k: v for k, v in data.items() if k != "doc_url"}
            self._check_preserved(pipeline, meta, self._filled_fields(pipeline))
            self._check_format(doc_name_from_url(url.strip()))  # before a useless download
            doc_name, raw = await fetch_document(url.strip(), self.data_dir, self.fetch_policy)
            return await to_thread.run_sync(self._ingest_doc, pipeline, doc_name, raw, meta)
        if action == "INDEX_TEXT":
            return await to_thread.run_sync(self._ingest_text, pipeline, data)
        params = body.get("params")
        if action in SEARCH_ACTIONS:
            if _long_filter(params):  # its check would hold up every connection on the loop
                key, query = await to_thread.run_sync(self._text_search, pipeline, data, params)
            else:
                key, query = self._text_search(pipeline, data, params)
            return await self.text_searches.submit(key, query)
        return await to_thread.run_sync(self._delete, pipeline, data)

    async def _pipeline_for_run(self, pipeline_id: str) -> dict[str, Any]:
        """The pipeline a run needs: from the cache on the event loop when it is there (each
        hop to a worker thread costs more than a cached search's own Python work), else read in
        a thread."""
        cached = self.cached_pipeline(pipeline_id)
        if cached is not None:
            return cached
        return await to_thread.run_sync(self._load, pipeline_id)

    async def run_with_file(
        self, pipeline_id: str, filename: str, raw: bytes, data_json: str | None
    ) -> dict[str, Any]:
        """``POST /v1/pipelines/{id}/run_ingestion_with_file`` (multipart ``file`` + ``data``)."""
        pipeline = await self._pipeline_for_run(pipeline_id)
        fn = index_function(pipeline)
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
        self._check_preserved(pipeline, meta, self._filled_fields(pipeline))
        return await to_thread.run_sync(self._ingest_doc, pipeline, filename, raw, meta)

    async def _fetch_image(self, data: dict[str, Any], field: str) -> bytes:
        url = data.get(field)
        if not isinstance(url, str) or not url.strip():
            raise bad_param(f"data.{field} is required and must be a string.")
        _, raw = await fetch_url(url.strip(), self.data_dir, self.fetch_policy, field)
        return raw

    @staticmethod
    def _filled_fields(pipeline: dict[str, Any]) -> frozenset[str]:
        """Preserved fields of a doc pipeline the server fills per chunk (:mod:`.chunk_fields`)."""
        return fillable_fields(preserved_fields(pipeline))

    def _check_preserved(
        self,
        pipeline: dict[str, Any],
        meta: dict[str, Any],
        filled: frozenset[str] = frozenset(),
    ) -> None:
        """Every key of ``meta`` is preserved and well typed; every preserved field is given,
        except those in ``filled`` (the server fills them when absent)."""
        preserved = preserved_fields(pipeline)
        for key in meta:
            if key in RESERVED_FIELDS:
                raise bad_param(f"{key!r} is a reserved input and cannot be a preserved field.")
            if key not in preserved:
                known = sorted(preserved) or "none"
                raise bad_param(f"Unknown field {key!r}; this pipeline preserves: {known}.")
        for key, field_type in preserved.items():
            if key not in meta and key in filled:
                continue
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

    @staticmethod
    def _embed(embedder: Embedder, texts: list[str]) -> list[list[float]]:
        """``embedder.embed``; a provider's failure is answered as a server error (HTTP 500)."""
        try:
            return embedder.embed(texts)
        except RemoteEmbeddingError as exc:
            raise ZillizError(ZILLIZ_INTERNAL, f"Embedding failed: {exc}", status=500) from None

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
        model = index_function(pipeline)["embedding"]
        cap = 3500 if model.startswith("zilliz/") else 6000
        if len(texts) > cap:
            raise bad_param(f"At most {cap} texts per ingestion call for {model}.")
        meta = {k: v for k, v in data.items() if k != "text_list"}
        self._check_preserved(pipeline, meta)
        collection = pipeline["collectionName"]
        vectors = self._embed(self._embedder_of(collection), texts)
        rows = [{"text": t, "embedding": v, **meta} for t, v in zip(texts, vectors, strict=True)]
        ids = self._insert(collection, rows)
        tokens = sum(count_tokens(t) for t in texts)
        self.usage_counters.add(pipeline["pipelineId"], tokens)
        out: dict[str, Any] = {"num_entities": len(ids), "ids": ids}
        self._usage(out, tokens)
        return out

    @staticmethod
    def _check_format(doc_name: str) -> None:
        """A 400 unless the server parses documents named like ``doc_name``."""
        try:
            doc_format(doc_name)
        except DocumentError as exc:
            raise bad_param(str(exc)) from None

    def _ingest_doc(
        self, pipeline: dict[str, Any], doc_name: str, raw: bytes, meta: dict[str, Any]
    ) -> dict[str, Any]:
        """Parse, chunk, embed and store one document (blocking: runs in a worker thread)."""
        fn = index_function(pipeline)
        self._check_format(doc_name)
        if len(doc_name) > 1024:
            raise bad_param("The document name exceeds 1024 characters.")
        if len(raw) > 10 * 1024 * 1024:
            raise bad_param("The document exceeds the 10 MB limit.")
        try:
            sections = parse_document(doc_name, raw)
        except DocumentError as exc:
            raise bad_param(str(exc)) from None
        chunks = chunk_sections(
            sections,
            fn.get("chunkSize", DEFAULT_CHUNK_SIZE),
            fn.get("splitBy", list(DEFAULT_SPLIT_BY)),
        )
        if not chunks:
            raise bad_param(f"The document {doc_name!r} contains no text.")
        cap = 3500 if fn["embedding"].startswith("zilliz/") else 6000
        if len(chunks) > cap:
            raise bad_param(f"The document yields {len(chunks)} chunks; the limit is {cap}.")
        collection = pipeline["collectionName"]
        texts = [c.text for c in chunks]
        vectors = self._embed(self._embedder_of(collection), texts)
        filled = self._filled_fields(pipeline) - meta.keys()
        rows = [
            {
                "doc_name": doc_name,
                "chunk_id": i,
                "chunk_text": c.text,
                "embedding": v,
                **chunk_values(c, filled),
                **meta,
            }
            for i, (c, v) in enumerate(zip(chunks, vectors, strict=True))
        ]
        self._insert(collection, rows)
        tokens = sum(count_tokens(t) for t in texts)
        self.usage_counters.add(pipeline["pipelineId"], tokens)
        out: dict[str, Any] = {"doc_name": doc_name, "num_chunks": len(chunks)}
        self._usage(out, tokens)
        return out

    def _insert(self, collection: str, rows: list[dict[str, Any]]) -> list[int]:
        """Store rows; a value the engine refuses is a 400, any other storage failure a 500."""
        try:
            return self.storage.insert(collection, rows)
        except InvalidValueError as exc:
            raise bad_param(f"Insert failed: {exc}") from None

    def _embedder_of(self, collection: str) -> Embedder:
        """The embedder that built ``collection`` (a 400 when this server cannot produce it)."""
        return self.collection_embedder(collection, self.storage.get_meta("collection", collection))

    def _image_embedder(self, collection: str) -> ImageEmbedder:
        """The image embedder that built ``collection`` (a 400 when it is unavailable)."""
        return self.image_embedder_of(collection, self.storage.get_meta("collection", collection))

    def _ingest_image(
        self, pipeline: dict[str, Any], image_id: str, raw: bytes, meta: dict[str, Any]
    ) -> dict[str, Any]:
        collection = pipeline["collectionName"]
        vector = _embed_image(self._image_embedder(collection), raw, "image_url")
        self._insert(collection, [{"image_id": image_id, "embedding": vector, **meta}])
        self.usage_counters.add(pipeline["pipelineId"], 1)
        out: dict[str, Any] = {"num_entities": 1}
        self._usage(out, 1)
        return out

    def collection_fields(self, collection: str) -> dict[str, str]:
        """Cached field map of a data collection."""
        if collection not in self._fields_cache:
            try:
                self._fields_cache[collection] = self.storage.collection_fields(collection)
            except StorageError as exc:
                raise bad_param(f"Collection {collection!r} is not available: {exc}") from None
        return self._fields_cache[collection]

    def _find(
        self, collection: str, vectors: list[list[float]], main: list[str], params: SearchParams
    ) -> tuple[list[list[Hit]], list[str]]:
        """Hits of each vector's search (``limit + offset`` of them when ``params.whole``), in
        one request, and the fields each hit carries."""
        fields = self.collection_fields(collection)
        allowed = {"id", "distance", *(f for f in fields if f != "embedding")}
        for name in params.output_fields:
            if name not in allowed:
                raise bad_param(
                    f"Unknown output field {name!r}; available: {sorted(allowed - {'distance'})}."
                )
        wanted = list(
            dict.fromkeys(
                [*main, *(f for f in params.output_fields if f not in ("id", "distance"))]
            )
        )
        limit, offset = params.limit, params.offset
        if params.whole:
            limit, offset = limit + offset, 0
        try:
            hits = self.storage.search_many(
                collection, vectors, limit, offset, params.filter, wanted
            )
        except StorageError as exc:
            raise bad_param(f"Invalid search request (filter {params.filter!r}): {exc}") from None
        return hits, wanted

    def search_collection(
        self,
        collection: str,
        kind: str,
        query: str,
        limit: int,
        offset: int,
        output_fields: list[str],
        filter_expr: str,
        reranker: str | None = None,
    ) -> tuple[list[dict[str, Any]], int]:
        """Run one search; return result items and rerank usage (shared with the Bailian app).

        With a ``reranker`` the first ``limit + offset`` hits are reranked, then paged.
        """
        params = SearchParams(limit, offset, tuple(output_fields), filter_expr, bool(reranker))
        return self.search_texts(TextSearch(collection, kind, params, reranker), [query])[0]

    def search_texts(
        self, search: TextSearch, queries: list[str]
    ) -> list[tuple[list[dict[str, Any]], int]]:
        """Result items and rerank usage of each query, embedded together and searched in one
        Milvus request."""
        collection, params = search.collection, search.params
        embedder = self._embedder_of(collection)
        encoder = self.rerankers.get(search.reranker) if search.reranker else None
        main = ["text"] if search.kind == "text" else ["chunk_text", "chunk_id", "doc_name"]
        hit_lists, wanted = self._find(collection, self._embed(embedder, queries), main, params)
        answers = []
        for query, hits in zip(queries, hit_lists, strict=True):
            rerank_tokens = 0
            if encoder is not None:
                reranked, rerank_tokens = rerank_hits(encoder, query, hits, main[0])
                hits = reranked[params.offset : params.offset + params.limit]
            results = []
            for hit in hits:
                item: dict[str, Any] = {
                    "id": str(hit.id) if self.legacy else hit.id,
                    "distance": hit.distance,
                }
                item.update({k: hit.fields.get(k) for k in wanted})
                results.append(item)
            answers.append((results, rerank_tokens))
        return answers

    def _search_image(
        self,
        pipeline: dict[str, Any],
        data: dict[str, Any],
        raw: bytes | None,
        params: SearchParams,
    ) -> dict[str, Any]:
        """SEARCH_IMAGE_BY_IMAGE (``raw`` image) or BY_TEXT (``data.query_text``, CLIP only);
        hits carry ``id`` = ``image_id`` (a string, Z17)."""
        fn = pipeline["functions"][0]
        collection = fn["collectionName"]
        embedder = self._image_embedder(collection)
        if raw is not None:
            vector = _embed_image(embedder, raw, "query_image_url")
        elif isinstance(embedder, ClipModel):
            query = data.get("query_text")
            if not isinstance(query, str) or not query.strip():
                raise bad_param("data.query_text is required and must be a non-empty string.")
            vector = embedder.embed_text(query)
        else:
            raise bad_param(
                f"SEARCH_IMAGE_BY_TEXT needs the image-text model {fn['embedding']} (CLIP); "
                f"collection {collection!r} was built without it ({embedder.stored_name}, a "
                "near-duplicate descriptor), so search it by image (SEARCH_IMAGE_BY_IMAGE), or "
                "provide CLIP and ingest into a new collection: "
                f"{self.models.store.how_to_provide(CLIP_SOURCE)}."
            )
        (hits,), wanted = self._find(collection, [vector], ["image_id"], params)
        results = [
            {"id": hit.fields.get("image_id"), "distance": hit.distance}
            | {k: hit.fields.get(k) for k in wanted}
            for hit in hits
        ]
        self.usage_counters.add(pipeline["pipelineId"], 1)
        out: dict[str, Any] = {"result": results}
        self._usage(out, 1, 0)
        return out

    @staticmethod
    def _search_params(params: Any, max_limit: int) -> SearchParams:
        """``params`` of a search run, checked (Z21, Z22)."""
        if params is None:
            params = {}
        if not isinstance(params, dict):
            raise bad_param("params must be an object.")
        limit = params.get("limit", 10)
        offset = params.get("offset", 0)
        for key, value in (("limit", limit), ("offset", offset)):
            if isinstance(value, bool) or not isinstance(value, int):
                raise bad_param(f"params.{key} must be an integer.")
        if not 1 <= limit <= max_limit:
            raise bad_param(f"params.limit must be within [1, {max_limit}].")
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
        return SearchParams(limit, offset, tuple(output_fields), filter_expr)

    def _text_search(
        self, pipeline: dict[str, Any], data: dict[str, Any], params: Any
    ) -> tuple[TextSearch, SearchQuery]:
        """A SEARCH_TEXT or SEARCH_DOC_CHUNK run's request, checked (on the event loop)."""
        fn = pipeline["functions"][0]
        query = data.get("query_text")
        if not isinstance(query, str) or not query.strip():
            raise bad_param("data.query_text is required and must be a non-empty string.")
        checked = self._search_params(params, 500)
        reranker = fn.get("reranker") if fn.get("reranker") in RERANKERS else None
        if reranker:
            checked = replace(checked, whole=True)
        kind = "text" if fn["action"] == "SEARCH_TEXT" else "doc"
        search = TextSearch(fn["collectionName"], kind, checked, reranker)
        return search, SearchQuery(pipeline["pipelineId"], query)

    def _search_batch(self, search: TextSearch, queries: list[SearchQuery]) -> list[dict[str, Any]]:
        """The answers of a batch of search runs (a worker thread; see :mod:`.search_batch`)."""
        answers = self.search_texts(search, [query.text for query in queries])
        outs = []
        for query, (results, rerank_tokens) in zip(queries, answers, strict=True):
            tokens = count_tokens(query.text)
            self.usage_counters.add(query.pipeline_id, tokens, rerank_tokens)
            out: dict[str, Any] = {"result": results}
            self._usage(out, tokens, rerank_tokens)
            outs.append(out)
        return outs

    def _delete(self, pipeline: dict[str, Any], data: dict[str, Any]) -> dict[str, Any]:
        action = pipeline["functions"][0]["action"]
        collection = pipeline["collectionName"]
        expression = data.get("expression")
        keyed = {"PURGE_DOC_INDEX": "doc_name", "PURGE_IMAGE_INDEX": "image_id"}
        if action in keyed and expression is None:
            field = keyed[action]
            value = data.get(field)
            if not isinstance(value, str) or not value:
                raise bad_param(f"data.{field} is required and must be a string.")
            try:
                expression = field_equals(field, value)
            except ExpressionError as exc:
                raise bad_param(f"Invalid data.{field}: {exc}.") from None
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
