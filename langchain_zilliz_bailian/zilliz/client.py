"""``ZillizPipelinesClient``: every Zilliz Cloud Pipelines call, sync and native async.

Framework-free. Each operation is built once as a :class:`_Call` (method, path, body, whether it
may be repeated, how to read the answer) and sent by either :meth:`_send` or :meth:`_asend`, so the
sync and async twins cannot drift apart. All input is validated before anything is sent, by the
checks in ``inputs.py`` (run inputs) and ``specs.py`` (pipeline create bodies).
"""

from __future__ import annotations

import builtins
import json
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Generic, Literal, TypeVar

import httpx
from pydantic import SecretStr

from langchain_zilliz_bailian._http.adapter import Closeable, HTTPAdapter, default_timeout
from langchain_zilliz_bailian._http.checks import check_base_url, check_client_options, check_id
from langchain_zilliz_bailian._http.retry import RequestKind
from langchain_zilliz_bailian.errors import (
    APIConnectionError,
    PartialBatchError,
    ResponseFormatError,
    ZillizBailianError,
    endpoint_unreachable,
)
from langchain_zilliz_bailian.zilliz.envelope import DISCONTINUED_HINT, parse_envelope
from langchain_zilliz_bailian.zilliz.inputs import (
    check_preserved,
    deletion_data,
    http_url,
    non_empty,
    search_input,
    text_list,
    upload,
)
from langchain_zilliz_bailian.zilliz.models import (
    DeletionResult,
    DocIngestionResult,
    ImageIngestionResult,
    Pipeline,
    SearchResult,
    TextIngestionResult,
)
from langchain_zilliz_bailian.zilliz.specs import (
    ImageSearch,
    PipelineKind,
    check_pipeline_spec,
    pipeline_set_specs,
)

__all__ = [
    "API_KEY_ENV",
    "BASE_URL_ENV",
    "DEFAULT_REGION",
    "REGION_ENV",
    "PipelineSet",
    "ZillizPipelinesClient",
    # Kept importable from here for the modules that did (they live in zilliz.inputs now).
    "check_preserved",
    "deletion_data",
]

T = TypeVar("T")

API_KEY_ENV = "ZILLIZ_CLOUD_API_KEY"
REGION_ENV = "ZILLIZ_CLOUD_REGION"
BASE_URL_ENV = "ZILLIZ_PIPELINES_BASE_URL"
DEFAULT_REGION = "gcp-us-west1"
#: Hosts of the hosted service, where a refused connection means "discontinued".
_CLOUD_HOST_SUFFIXES = (".zillizcloud.com", ".zilliz.com.cn", ".cloud.zilliz.com.cn")
#: The server times out at 60 s (Z27): read a little longer so its answer can arrive.
DEFAULT_READ_TIMEOUT = 75.0
#: Added to a timed-out write that may have been applied (Z27): say so instead of guessing.
UNKNOWN_WRITE_NOTE = (
    "The outcome of this write is unknown: the server may have stored or deleted the data. It "
    "was not retried; check (search or describe) before sending it again."
)


@dataclass(frozen=True)
class _Call(Generic[T]):
    """One request, fully built: sent by :meth:`_send` or :meth:`_asend` unchanged."""

    method: str
    path: str
    kind: RequestKind
    read: Callable[[Any], T]
    json: Any = None
    params: Mapping[str, str] | None = None
    files: Mapping[str, Any] | None = None
    data: Mapping[str, str] | None = None

    def request(self) -> dict[str, Any]:
        """The adapter's arguments for this call (its answer read as a Zilliz envelope)."""
        return {
            "method": self.method,
            "path": self.path,
            "kind": self.kind,
            "parse": parse_envelope,
            "json": self.json,
            "params": self.params,
            "files": self.files,
            "data": self.data,
        }


@dataclass(frozen=True)
class PipelineSet:
    """The three pipelines over one collection, as :meth:`create_pipeline_set` makes them."""

    ingestion: Pipeline
    search: Pipeline
    deletion: Pipeline
    extra: dict[str, Any] = field(default_factory=dict)


class ZillizPipelinesClient(Closeable):
    """Client for Zilliz Cloud Pipelines (or a compatible server such as ``zilliz-bailian serve``).

    ``api_key`` falls back to ``ZILLIZ_CLOUD_API_KEY``, ``cloud_region`` to ``ZILLIZ_CLOUD_REGION``
    (default ``gcp-us-west1``) and ``base_url`` to ``ZILLIZ_PIPELINES_BASE_URL`` (default
    ``https://controller.api.{cloud_region}.zillizcloud.com``; China hosts through ``base_url``).
    """

    def __init__(
        self,
        *,
        api_key: str | SecretStr | None = None,
        cloud_region: str | None = None,
        base_url: str | None = None,
        timeout: float | httpx.Timeout | None = None,
        max_retries: int = 2,
        http_client: httpx.Client | None = None,
        http_async_client: httpx.AsyncClient | None = None,
    ) -> None:
        check_client_options(
            api_key=api_key,
            timeout=timeout,
            max_retries=max_retries,
            http_client=http_client,
            http_async_client=http_async_client,
        )
        region = cloud_region or os.environ.get(REGION_ENV) or DEFAULT_REGION
        self.cloud_region = check_id("cloud_region", region)
        url = base_url or os.environ.get(BASE_URL_ENV)
        self.base_url = check_base_url(
            url or f"https://controller.api.{self.cloud_region}.zillizcloud.com"
        )
        key = api_key if api_key is not None else os.environ.get(API_KEY_ENV)
        secret = key if isinstance(key, SecretStr) or key is None else SecretStr(key)
        if timeout is None:
            resolved = default_timeout(DEFAULT_READ_TIMEOUT)
        elif isinstance(timeout, httpx.Timeout):
            resolved = timeout
        else:
            resolved = httpx.Timeout(timeout, connect=min(float(timeout), 5.0))
        self._http = HTTPAdapter(
            base_url=self.base_url,
            api_key=secret,
            api_key_env=API_KEY_ENV,
            timeout=resolved,
            max_retries=max_retries,
            http_client=http_client,
            http_async_client=http_async_client,
            on_transport_error=self._explain_transport_error,
            unknown_write_note=UNKNOWN_WRITE_NOTE,
        )

    def __repr__(self) -> str:
        return f"ZillizPipelinesClient(base_url={self.base_url!r})"

    @property
    def http(self) -> HTTPAdapter:
        """The shared HTTP adapter (pooled clients) under this client."""
        return self._http

    def close(self) -> None:
        """Close the connection pools this client opened."""
        self._http.close()

    async def aclose(self) -> None:
        """Close the connection pools this client opened, async ones included."""
        await self._http.aclose()

    # -- sending ------------------------------------------------------------------------------

    def _explain_transport_error(
        self, exc: httpx.TransportError, url: httpx.URL
    ) -> APIConnectionError | None:
        if isinstance(exc, httpx.ConnectError) and url.host.endswith(_CLOUD_HOST_SUFFIXES):
            return endpoint_unreachable(
                f"Cannot connect to {self.base_url} ({exc}). {DISCONTINUED_HINT}", url=str(url)
            )
        if isinstance(exc, httpx.ConnectError):
            return APIConnectionError(
                f"Cannot connect to {self.base_url} ({exc}). If this is the local compatible "
                "server, start it with `zilliz-bailian serve`.",
                url=str(url),
            )
        return None

    def _send(self, call: _Call[T]) -> T:
        return _read(call, self._http.request(**call.request()))

    async def _asend(self, call: _Call[T]) -> T:
        return _read(call, await self._http.arequest(**call.request()))

    # -- raw run ------------------------------------------------------------------------------

    def _run_call(
        self,
        pipeline_id: str,
        data: Mapping[str, Any],
        params: Mapping[str, Any] | None,
        *,
        kind: RequestKind,
        read: Callable[[Any], T],
    ) -> _Call[T]:
        check_id("pipeline_id", pipeline_id)
        body: dict[str, Any] = {"data": dict(data)}
        if params is not None:
            body["params"] = dict(params)
        return _Call("POST", f"/v1/pipelines/{pipeline_id}/run", kind, read, json=body)

    def run(
        self,
        pipeline_id: str,
        data: Mapping[str, Any],
        params: Mapping[str, Any] | None = None,
        *,
        idempotent: bool = False,
    ) -> Any:
        """Run any pipeline with a raw ``data``/``params`` body; returns the envelope's ``data``.

        Retried like a write unless ``idempotent=True`` (a search): the function is unknown here.
        """
        kind = RequestKind.READ if idempotent else RequestKind.WRITE
        return self._send(self._run_call(pipeline_id, data, params, kind=kind, read=_raw))

    async def arun(
        self,
        pipeline_id: str,
        data: Mapping[str, Any],
        params: Mapping[str, Any] | None = None,
        *,
        idempotent: bool = False,
    ) -> Any:
        """Async twin of :meth:`run`."""
        kind = RequestKind.READ if idempotent else RequestKind.WRITE
        return await self._asend(self._run_call(pipeline_id, data, params, kind=kind, read=_raw))

    # -- search -------------------------------------------------------------------------------

    def _search_call(
        self, pipeline_id: str, query: tuple[dict[str, str], dict[str, Any]]
    ) -> _Call[SearchResult]:
        data, params = query
        return self._run_call(
            pipeline_id, data, params, kind=RequestKind.READ, read=SearchResult.from_data
        )

    def search(
        self,
        pipeline_id: str,
        query_text: str | None = None,
        *,
        query_image_url: str | None = None,
        limit: int = 10,
        offset: int = 0,
        output_fields: Sequence[str] | None = None,
        filter: str | None = None,
        max_limit: int = 500,
    ) -> SearchResult:
        """Search with a text query (text, doc-chunk or image-by-text) or an image URL.

        ``filter`` is a Milvus boolean expression; ``output_fields`` names preserved fields to
        return. Bounds are checked first: ``1 <= limit <= max_limit`` (100 for image-by-text),
        ``offset >= 0``, ``limit + offset <= 1024``.
        """
        query = search_input(
            query_text, query_image_url, limit, offset, output_fields, filter, max_limit
        )
        return self._send(self._search_call(pipeline_id, query))

    async def asearch(
        self,
        pipeline_id: str,
        query_text: str | None = None,
        *,
        query_image_url: str | None = None,
        limit: int = 10,
        offset: int = 0,
        output_fields: Sequence[str] | None = None,
        filter: str | None = None,
        max_limit: int = 500,
    ) -> SearchResult:
        """Async twin of :meth:`search`."""
        query = search_input(
            query_text, query_image_url, limit, offset, output_fields, filter, max_limit
        )
        return await self._asend(self._search_call(pipeline_id, query))

    # -- ingestion ----------------------------------------------------------------------------

    def _texts_call(
        self, pipeline_id: str, texts: Sequence[str], metadata: Mapping[str, Any] | None
    ) -> _Call[TextIngestionResult]:
        data = {"text_list": text_list(texts), **check_preserved(metadata)}
        return self._run_call(
            pipeline_id,
            data,
            None,
            kind=RequestKind.WRITE,
            read=TextIngestionResult.model_validate,
        )

    def ingest_texts(
        self, pipeline_id: str, texts: Sequence[str], *, metadata: Mapping[str, Any] | None = None
    ) -> TextIngestionResult:
        """Store ``texts`` through an INDEX_TEXT pipeline; ``metadata`` fills its PRESERVE fields.

        A preserved value applies to every text of the call (Z20). Never retried after a
        timeout or 5xx: ingestion is not idempotent (Z19).
        """
        return self._send(self._texts_call(pipeline_id, texts, metadata))

    async def aingest_texts(
        self, pipeline_id: str, texts: Sequence[str], *, metadata: Mapping[str, Any] | None = None
    ) -> TextIngestionResult:
        """Async twin of :meth:`ingest_texts`."""
        return await self._asend(self._texts_call(pipeline_id, texts, metadata))

    def _doc_url_call(
        self, pipeline_id: str, doc_url: str, metadata: Mapping[str, Any] | None
    ) -> _Call[DocIngestionResult]:
        url = http_url("doc_url", doc_url, schemes="https?|file")
        data = {"doc_url": url, **check_preserved(metadata)}
        return self._run_call(
            pipeline_id,
            data,
            None,
            kind=RequestKind.WRITE,
            read=DocIngestionResult.model_validate,
        )

    def ingest_doc_url(
        self, pipeline_id: str, doc_url: str, *, metadata: Mapping[str, Any] | None = None
    ) -> DocIngestionResult:
        """Store a document the server downloads from ``doc_url`` (a presigned URL, Z28)."""
        return self._send(self._doc_url_call(pipeline_id, doc_url, metadata))

    async def aingest_doc_url(
        self, pipeline_id: str, doc_url: str, *, metadata: Mapping[str, Any] | None = None
    ) -> DocIngestionResult:
        """Async twin of :meth:`ingest_doc_url`."""
        return await self._asend(self._doc_url_call(pipeline_id, doc_url, metadata))

    def _file_call(
        self,
        pipeline_id: str,
        file: str | os.PathLike[str] | bytes,
        filename: str | None,
        metadata: Mapping[str, Any] | None,
    ) -> _Call[DocIngestionResult]:
        name, content, mime = upload(file, filename)
        check_id("pipeline_id", pipeline_id)
        # ``data`` is one JSON string, not separate form fields (Z31).
        return _Call(
            "POST",
            f"/v1/pipelines/{pipeline_id}/run_ingestion_with_file",
            RequestKind.WRITE,
            DocIngestionResult.model_validate,
            files={"file": (name, content, mime)},
            data={"data": json.dumps(check_preserved(metadata))},
        )

    def ingest_file(
        self,
        pipeline_id: str,
        file: str | os.PathLike[str] | bytes,
        *,
        filename: str | None = None,
        metadata: Mapping[str, Any] | None = None,
    ) -> DocIngestionResult:
        """Upload a local document (multipart ``run_ingestion_with_file``; 10 MB, 12 formats)."""
        return self._send(self._file_call(pipeline_id, file, filename, metadata))

    async def aingest_file(
        self,
        pipeline_id: str,
        file: str | os.PathLike[str] | bytes,
        *,
        filename: str | None = None,
        metadata: Mapping[str, Any] | None = None,
    ) -> DocIngestionResult:
        """Async twin of :meth:`ingest_file`."""
        return await self._asend(self._file_call(pipeline_id, file, filename, metadata))

    def _image_call(
        self, pipeline_id: str, image_url: str, image_id: str, metadata: Mapping[str, Any] | None
    ) -> _Call[ImageIngestionResult]:
        data = {
            "image_url": http_url("image_url", image_url),
            "image_id": non_empty("image_id", image_id),
            **check_preserved(metadata),
        }
        return self._run_call(
            pipeline_id,
            data,
            None,
            kind=RequestKind.WRITE,
            read=ImageIngestionResult.model_validate,
        )

    def ingest_image(
        self,
        pipeline_id: str,
        image_url: str,
        image_id: str,
        *,
        metadata: Mapping[str, Any] | None = None,
    ) -> ImageIngestionResult:
        """Store an image via INDEX_IMAGE (e.g. ``metadata={"image_title": ...}``)."""
        return self._send(self._image_call(pipeline_id, image_url, image_id, metadata))

    async def aingest_image(
        self,
        pipeline_id: str,
        image_url: str,
        image_id: str,
        *,
        metadata: Mapping[str, Any] | None = None,
    ) -> ImageIngestionResult:
        """Async twin of :meth:`ingest_image`."""
        return await self._asend(self._image_call(pipeline_id, image_url, image_id, metadata))

    # -- deletion -----------------------------------------------------------------------------

    def _delete_call(
        self,
        pipeline_id: str,
        ids: Sequence[str | int] | None,
        expression: str | None,
        doc_name: str | None,
        image_id: str | None,
    ) -> _Call[DeletionResult]:
        data = deletion_data(ids=ids, expression=expression, doc_name=doc_name, image_id=image_id)
        return self._run_call(
            pipeline_id, data, None, kind=RequestKind.WRITE, read=DeletionResult.model_validate
        )

    def delete(
        self,
        pipeline_id: str,
        *,
        ids: Sequence[str | int] | None = None,
        expression: str | None = None,
        doc_name: str | None = None,
        image_id: str | None = None,
    ) -> DeletionResult:
        """Delete through a deletion pipeline: by ``ids`` (sent as ``id in [...]``, Z30), a
        Milvus ``expression``, a ``doc_name`` (PURGE_DOC_INDEX) or an ``image_id``.

        Deleting something that is not there returns ``num_deleted == 0``, not an error.
        """
        return self._send(self._delete_call(pipeline_id, ids, expression, doc_name, image_id))

    async def adelete(
        self,
        pipeline_id: str,
        *,
        ids: Sequence[str | int] | None = None,
        expression: str | None = None,
        doc_name: str | None = None,
        image_id: str | None = None,
    ) -> DeletionResult:
        """Async twin of :meth:`delete`."""
        return await self._asend(
            self._delete_call(pipeline_id, ids, expression, doc_name, image_id)
        )

    # -- pipeline management ------------------------------------------------------------------

    def _describe_call(self, pipeline_id: str) -> _Call[Pipeline]:
        check_id("pipeline_id", pipeline_id)
        return _Call(
            "GET", f"/v1/pipelines/{pipeline_id}", RequestKind.READ, Pipeline.model_validate
        )

    def describe(self, pipeline_id: str) -> Pipeline:
        """Describe a pipeline: its type, status, functions and collection."""
        return self._send(self._describe_call(pipeline_id))

    async def adescribe(self, pipeline_id: str) -> Pipeline:
        """Async twin of :meth:`describe`."""
        return await self._asend(self._describe_call(pipeline_id))

    def _list_call(self, project_id: str) -> _Call[builtins.list[Pipeline]]:
        check_id("project_id", project_id)
        return _Call(
            "GET", "/v1/pipelines", RequestKind.READ, _pipelines, params={"projectId": project_id}
        )

    def list(self, project_id: str) -> builtins.list[Pipeline]:
        """List the pipelines of a project (``projectId`` is required, Z32)."""
        return self._send(self._list_call(project_id))

    async def alist(self, project_id: str) -> builtins.list[Pipeline]:
        """Async twin of :meth:`list`."""
        return await self._asend(self._list_call(project_id))

    def _create_call(self, spec: Mapping[str, Any]) -> _Call[Pipeline]:
        return _Call(
            "POST",
            "/v1/pipelines",
            RequestKind.WRITE,
            Pipeline.model_validate,
            json=check_pipeline_spec(spec),
        )

    def create(self, spec: Mapping[str, Any]) -> Pipeline:
        """Create a pipeline from a create body (section 5 of the contract), validated first."""
        return self._send(self._create_call(spec))

    async def acreate(self, spec: Mapping[str, Any]) -> Pipeline:
        """Async twin of :meth:`create`."""
        return await self._asend(self._create_call(spec))

    def _drop_call(self, pipeline_id: str) -> _Call[Pipeline]:
        check_id("pipeline_id", pipeline_id)
        return _Call(
            "DELETE", f"/v1/pipelines/{pipeline_id}", RequestKind.WRITE, Pipeline.model_validate
        )

    def drop(self, pipeline_id: str) -> Pipeline:
        """Drop a pipeline. Its collection and data stay (Z26)."""
        return self._send(self._drop_call(pipeline_id))

    async def adrop(self, pipeline_id: str) -> Pipeline:
        """Async twin of :meth:`drop`."""
        return await self._asend(self._drop_call(pipeline_id))

    def create_pipeline_set(
        self,
        *,
        name: str,
        project_id: str,
        cluster_id: str,
        collection_name: str,
        kind: PipelineKind = "doc",
        language: Literal["ENGLISH", "CHINESE"] = "ENGLISH",
        embedding: str | None = None,
        preserve: Mapping[str, str] | None = None,
        reranker: str | None = None,
        description: str = "",
        image_search: ImageSearch | None = None,
    ) -> PipelineSet:
        """Create the ingestion, search and deletion pipelines of one collection.

        The REST API makes no companion pipelines (Z25); this makes all three with the same
        embedding model (Z34). ``preserve`` maps field name to ``fieldType``. ``kind="image"``
        indexes images (``embedding`` ``zilliz/clip-vit-base-patch32`` by default, or
        ``zilliz/vit-base-patch16-224``; no ``language``) and searches them by image URL, or by
        text with ``image_search="text"`` (CLIP only). Any other ``kind`` is refused before a
        request is sent.
        """
        specs = pipeline_set_specs(
            name=name,
            project_id=project_id,
            cluster_id=cluster_id,
            collection_name=collection_name,
            kind=kind,
            language=language,
            embedding=embedding,
            preserve=preserve,
            reranker=reranker,
            description=description,
            image_search=image_search,
        )
        made: list[Pipeline] = []
        with _naming_what_was_made(made, specs):
            for spec in specs:
                made.append(self.create(spec))
        return PipelineSet(made[0], made[1], made[2])

    async def acreate_pipeline_set(
        self,
        *,
        name: str,
        project_id: str,
        cluster_id: str,
        collection_name: str,
        kind: PipelineKind = "doc",
        language: Literal["ENGLISH", "CHINESE"] = "ENGLISH",
        embedding: str | None = None,
        preserve: Mapping[str, str] | None = None,
        reranker: str | None = None,
        description: str = "",
        image_search: ImageSearch | None = None,
    ) -> PipelineSet:
        """Async twin of :meth:`create_pipeline_set`."""
        specs = pipeline_set_specs(
            name=name,
            project_id=project_id,
            cluster_id=cluster_id,
            collection_name=collection_name,
            kind=kind,
            language=language,
            embedding=embedding,
            preserve=preserve,
            reranker=reranker,
            description=description,
            image_search=image_search,
        )
        made: list[Pipeline] = []
        with _naming_what_was_made(made, specs):
            for spec in specs:
                made.append(await self.acreate(spec))
        return PipelineSet(made[0], made[1], made[2])


# -- helpers (pure functions, tested directly) ------------------------------------------------


def _raw(data: Any) -> Any:
    return data


def _pipelines(data: Any) -> list[Pipeline]:
    """List returns an array despite its object schema (Z32); accept both."""
    if isinstance(data, Mapping):
        data = data.get("pipelines", data.get("list", [data] if "pipelineId" in data else []))
    return [Pipeline.model_validate(item) for item in data]


def _read(call: _Call[T], data: Any) -> T:
    try:
        return call.read(data)
    except (ValueError, TypeError) as exc:
        raise ResponseFormatError(
            f"Unexpected shape in the answer to {call.method} {call.path}: {exc}",
            body=json.dumps(data, default=str)[:2000],
        ) from exc


@contextmanager
def _naming_what_was_made(
    made: list[Pipeline], specs: Sequence[Mapping[str, Any]]
) -> Iterator[None]:
    """Raise a failure to create the set as :func:`_incomplete_set` says (sync and async)."""
    try:
        yield
    except ZillizBailianError as exc:
        error = _incomplete_set(made, specs, exc)
        if error is exc:
            raise
        raise error from exc


def _incomplete_set(
    made: list[Pipeline], specs: Sequence[Mapping[str, Any]], exc: ZillizBailianError
) -> ZillizBailianError:
    """Creating the set stopped part-way: name the pipelines that exist, so none is orphaned.

    With none made, ``exc`` itself (its ``failed`` naming them all), as an ingestion does.
    """
    failed = [spec["name"] for spec in specs[len(made) :]]
    if not made:
        exc.failed = failed
        return exc
    names = ", ".join(f"{p.name or '?'} ({p.pipeline_id})" for p in made)
    return PartialBatchError(
        f"Creating the pipeline set stopped: {exc}. Created so far: {names}; drop them or "
        "create the rest by hand.",
        stored=made,
        failed=failed,
        cause=exc,
    )
