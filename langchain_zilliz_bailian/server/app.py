"""The Starlette application: routing, Bearer auth, fault injection and error envelopes.

Routes (one API key guards all but ``/health``):

* Zilliz Pipelines: ``POST/GET /v1/pipelines``, ``GET/DELETE /v1/pipelines/{id}``,
  ``POST /v1/pipelines/{id}/run`` (alias ``/v1/pipeline/{id}/run``),
  ``POST /v1/pipelines/{id}/run_ingestion_with_file``;
* Bailian: ``POST /api/v1/apps/{app_id}/completion``;
* admin: ``GET/POST/DELETE /_admin/faults``; liveness: ``GET /health``.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from anyio import to_thread
from starlette.applications import Starlette
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from langchain_zilliz_bailian.server.bailian import AppService, new_request_id
from langchain_zilliz_bailian.server.embeddings import Embedder, load_embedder
from langchain_zilliz_bailian.server.errors import (
    ZILLIZ_ILLEGAL_TOKEN,
    ZILLIZ_INTERNAL,
    ZILLIZ_THROTTLED,
    BailianError,
    ZillizError,
    bad_param,
    invalid_parameter,
)
from langchain_zilliz_bailian.server.faults import Decision, FaultConfig, FaultInjector
from langchain_zilliz_bailian.server.fetch import MAX_DOC_BYTES
from langchain_zilliz_bailian.server.pipelines import PipelineService
from langchain_zilliz_bailian.server.sse import EventStreamResponse, frame
from langchain_zilliz_bailian.server.storage import DataDirInUseError, Storage, default_data_dir
from langchain_zilliz_bailian.server.strict_json import loads as strict_loads

DEFAULT_API_KEY = "local-dev-key"  # for loopback use only
logger = logging.getLogger("langchain_zilliz_bailian.server")


class _DropNoise(logging.Filter):
    """Hide uvicorn's complaint when we cut a stream on purpose (fault ``drop``)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "without completing response" not in record.getMessage()


class _OneLineDataDirError(logging.Filter):
    """Log a data dir held by another server as its one-line message, not Starlette's traceback
    (the caller reports it too: ``LocalServer.start`` raises it, the CLI exits with it)."""

    marker = DataDirInUseError.__name__ + ": "

    def filter(self, record: logging.LogRecord) -> bool:
        text = record.getMessage()
        if self.marker in text:
            last = text.rstrip().splitlines()[-1]
            record.msg, record.args, record.exc_info = last.split(self.marker, 1)[1], (), None
        return True


@dataclass
class ServerSettings:
    """Options of one server instance (see :func:`create_app`)."""

    data_dir: Path
    api_key: str = DEFAULT_API_KEY
    milvus_uri: str | None = None
    milvus_token: str | None = None
    embedder: Embedder | None = None
    default_pipeline_ids: list[str] = field(default_factory=list)
    legacy: bool = False
    stream_interval_ms: int = 5

    def __repr__(self) -> str:  # never show secrets
        return (
            f"ServerSettings(data_dir={str(self.data_dir)!r}, api_key='***', "
            f"milvus_uri={self.milvus_uri!r}, milvus_token={'***' if self.milvus_token else None})"
        )


class _State:
    """Services created in the lifespan (after any fork), shared by the handlers."""

    storage: Storage
    pipelines: PipelineService
    apps: AppService


def _bearer(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def create_app(
    *,
    data_dir: str | Path | None = None,
    api_key: str = DEFAULT_API_KEY,
    milvus_uri: str | None = None,
    milvus_token: str | None = None,
    embedder: str | Embedder | None = None,
    default_pipeline_ids: list[str] | None = None,
    legacy: bool = False,
    stream_interval_ms: int = 5,
    faults: FaultConfig | FaultInjector | None = None,
) -> Starlette:
    """Build the ASGI app. Storage opens in the lifespan; faults are live-editable via ``/_admin``.

    ``legacy=True`` emits the documented legacy variants (Z2, Z7, Z5): a bad token answers HTTP 200
    ``{"code": 200, "message": "The token is illegal."}``, ingestion/search report ``token_usage``
    instead of ``usage``, and search ids are numeric strings.
    """
    settings = ServerSettings(
        data_dir=Path(data_dir).expanduser() if data_dir else default_data_dir(),
        api_key=api_key,
        milvus_uri=milvus_uri,
        milvus_token=milvus_token,
        embedder=load_embedder(embedder),
        default_pipeline_ids=list(default_pipeline_ids or []),
        legacy=legacy,
        stream_interval_ms=stream_interval_ms,
    )
    injector = faults if isinstance(faults, FaultInjector) else FaultInjector(faults)
    state = _State()
    uvicorn_error = logging.getLogger("uvicorn.error")
    uvicorn_error.addFilter(_DropNoise())
    if not any(isinstance(f, _OneLineDataDirError) for f in uvicorn_error.filters):
        uvicorn_error.addFilter(_OneLineDataDirError())

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        try:
            storage = await to_thread.run_sync(
                lambda: Storage(settings.data_dir, settings.milvus_uri, settings.milvus_token)
            )
        except Exception as exc:
            # uvicorn only logs a failed startup; LocalServer and the CLI report this error.
            app.state.startup_error = exc
            raise
        assert settings.embedder is not None
        state.storage = storage
        state.pipelines = PipelineService(
            storage, settings.embedder, settings.data_dir, legacy=settings.legacy
        )
        state.apps = AppService(
            state.pipelines, settings.default_pipeline_ids, settings.stream_interval_ms
        )
        try:
            yield
        finally:
            await to_thread.run_sync(storage.close)

    def authorized(request: Request) -> bool:
        token = _bearer(request)
        return token is not None and hmac.compare_digest(
            token.encode("utf-8"), settings.api_key.encode("utf-8")
        )

    # -- Zilliz -----------------------------------------------------------------------------------

    def zilliz_error(exc: ZillizError) -> JSONResponse:
        return JSONResponse(exc.body(), status_code=exc.status)

    def zilliz_fault(decision: Decision) -> JSONResponse:
        if decision.status == 429:
            return JSONResponse(
                {"code": ZILLIZ_THROTTLED, "message": "Too many requests. Please retry later."},
                status_code=429,
                headers={"Retry-After": str(decision.retry_after_s)},
            )
        return JSONResponse(
            {"code": ZILLIZ_INTERNAL, "message": "Internal server error. Please retry later."},
            status_code=500,
        )

    async def zilliz(request: Request, handler: Callable[[], Awaitable[Any]]) -> Response:
        if not authorized(request):
            if settings.legacy:
                return JSONResponse({"code": 200, "message": "The token is illegal."})
            return JSONResponse(
                {"code": ZILLIZ_ILLEGAL_TOKEN, "message": "The token is illegal."}, status_code=401
            )
        decision = injector.decide("zilliz")
        if decision.latency_ms:
            await asyncio.sleep(decision.latency_ms / 1000)
        if decision.status:
            return zilliz_fault(decision)
        try:
            data = await handler()
            # Rendered here so that even an unsendable value (NaN) gets the JSON envelope.
            return JSONResponse({"code": 200, "data": data})
        except ZillizError as exc:
            return zilliz_error(exc)
        except Exception:
            logger.exception("unexpected error in %s %s", request.method, request.url.path)
            return JSONResponse(
                {"code": ZILLIZ_INTERNAL, "message": "Internal server error."}, status_code=500
            )

    async def json_body(request: Request) -> Any:
        try:
            return strict_loads(await request.body())
        except ValueError as exc:  # also NaN/Infinity literals and numbers beyond a double
            raise bad_param(f"The request body is not valid JSON: {exc}") from None

    async def create_pipeline(request: Request) -> Response:
        async def handler() -> Any:
            body = await json_body(request)
            return await to_thread.run_sync(state.pipelines.create, body)

        return await zilliz(request, handler)

    async def list_pipelines(request: Request) -> Response:
        async def handler() -> Any:
            project_id = request.query_params.get("projectId", "").strip()
            if not project_id:
                raise bad_param("projectId is required.")
            return await to_thread.run_sync(state.pipelines.list_pipelines, project_id)

        return await zilliz(request, handler)

    async def describe_pipeline(request: Request) -> Response:
        pid = request.path_params["pipeline_id"]

        async def handler() -> Any:
            return await to_thread.run_sync(state.pipelines.describe, pid)

        return await zilliz(request, handler)

    async def drop_pipeline(request: Request) -> Response:
        pid = request.path_params["pipeline_id"]

        async def handler() -> Any:
            return await to_thread.run_sync(state.pipelines.drop, pid)

        return await zilliz(request, handler)

    async def run_pipeline(request: Request) -> Response:
        pid = request.path_params["pipeline_id"]

        async def handler() -> Any:
            body = await json_body(request)
            return await state.pipelines.run(pid, body)

        return await zilliz(request, handler)

    async def run_with_file(request: Request) -> Response:
        pid = request.path_params["pipeline_id"]

        async def handler() -> Any:
            if not request.headers.get("content-type", "").startswith("multipart/form-data"):
                raise bad_param("run_ingestion_with_file needs multipart/form-data (file, data).")
            try:
                form_cm = request.form(max_files=2, max_fields=20)
                async with form_cm as form:
                    upload = form.get("file")
                    data = form.get("data")
                    if not isinstance(upload, UploadFile):
                        raise bad_param("The multipart file part is required.")
                    raw = await upload.read(MAX_DOC_BYTES + 1)
                    filename = Path(upload.filename or "").name
                    if isinstance(data, UploadFile):
                        data = (await data.read(1024 * 1024)).decode("utf-8", errors="replace")
            except ZillizError:
                raise
            except Exception as exc:  # malformed multipart
                raise bad_param(f"Malformed multipart body: {exc}") from None
            if len(raw) > MAX_DOC_BYTES:
                raise bad_param("The document exceeds the 10 MB limit.")
            if not filename:
                raise bad_param("The multipart file part needs a filename.")
            return await state.pipelines.run_with_file(pid, filename, raw, data)

        return await zilliz(request, handler)

    # -- Bailian ----------------------------------------------------------------------------------

    def bailian_error(exc: BailianError, request_id: str, streaming: bool) -> Response:
        headers = {"x-request-id": request_id}
        if exc.status == 429:
            headers["Retry-After"] = str(injector.config.retry_after_s)
        if streaming:
            events = _single(frame(1, exc.body(request_id), event="error", status=exc.status))
            return EventStreamResponse(events, status_code=exc.status, headers=headers)
        return JSONResponse(exc.body(request_id), status_code=exc.status, headers=headers)

    async def completion(request: Request) -> Response:
        request_id = new_request_id()
        token = _bearer(request)
        if not authorized(request):
            message = "Invalid API-key provided." if token else "No API-key provided."
            return JSONResponse(
                {"code": "InvalidApiKey", "message": message, "request_id": request_id},
                status_code=401,
                headers={"x-request-id": request_id},
            )
        streaming = (
            request.headers.get("x-dashscope-sse", "").strip().lower() == "enable"
            or "text/event-stream" in request.headers.get("accept", "").lower()
        )
        decision = injector.decide("bailian", streaming=streaming)
        if decision.latency_ms:
            await asyncio.sleep(decision.latency_ms / 1000)
        if decision.status == 429:
            err = BailianError(
                "Throttling.RateQuota", "Requests rate limit exceeded, please try again later.", 429
            )
            return bailian_error(err, request_id, streaming)
        if decision.status:
            err = BailianError(
                "InternalError", "An internal error has occured, please try again later.", 500
            )
            return bailian_error(err, request_id, streaming)
        try:
            try:
                body = strict_loads(await request.body())
            except ValueError as exc:  # also NaN/Infinity literals and numbers beyond a double
                raise invalid_parameter(f"The request body is not valid JSON: {exc}") from None
            app_id = request.path_params["app_id"]
            parsed = state.apps.parse(app_id, body, streaming)
            result = await to_thread.run_sync(state.apps.answer, parsed)
        except BailianError as exc:
            return bailian_error(exc, request_id, streaming)
        except Exception:
            logger.exception("unexpected error in completion")
            err = BailianError("InternalError", "An internal error has occured.", 500)
            return bailian_error(err, request_id, streaming)
        result.request_id = request_id
        if streaming:
            events = state.apps.events(result, parsed.incremental, decision, parsed.prompt)
            return EventStreamResponse(
                events, headers={"x-request-id": request_id, "x-dashscope-finished": "false"}
            )
        await to_thread.run_sync(
            state.apps.save_turn, result.session_id, parsed.prompt, result.text
        )
        return JSONResponse(
            state.apps.json_body(result),
            headers={"x-request-id": request_id, "x-dashscope-finished": "true"},
        )

    # -- admin & health ---------------------------------------------------------------------------

    async def admin_faults(request: Request) -> Response:
        if not authorized(request):
            return JSONResponse({"error": "unauthorized"}, status_code=401)
        if request.method == "DELETE":
            injector.reset()
        elif request.method == "POST":
            try:
                patch = await request.json()
                if not isinstance(patch, dict):
                    raise ValueError("body must be a JSON object")
                injector.update(patch)
            except (ValueError, TypeError) as exc:
                return JSONResponse({"error": str(exc)}, status_code=400)
        return JSONResponse(injector.snapshot())

    async def health(request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    routes = [
        Route("/health", health, methods=["GET"]),
        Route("/v1/pipelines", create_pipeline, methods=["POST"]),
        Route("/v1/pipelines", list_pipelines, methods=["GET"]),
        Route("/v1/pipelines/{pipeline_id}", describe_pipeline, methods=["GET"]),
        Route("/v1/pipelines/{pipeline_id}", drop_pipeline, methods=["DELETE"]),
        Route("/v1/pipelines/{pipeline_id}/run", run_pipeline, methods=["POST"]),
        Route("/v1/pipeline/{pipeline_id}/run", run_pipeline, methods=["POST"]),
        Route(
            "/v1/pipelines/{pipeline_id}/run_ingestion_with_file", run_with_file, methods=["POST"]
        ),
        Route(
            "/v1/pipeline/{pipeline_id}/run_ingestion_with_file", run_with_file, methods=["POST"]
        ),
        Route("/api/v1/apps/{app_id}/completion", completion, methods=["POST"]),
        Route("/_admin/faults", admin_faults, methods=["GET", "POST", "DELETE"]),
    ]
    app = Starlette(routes=routes, lifespan=lifespan)
    app.state.faults = injector
    app.state.settings = settings
    return app


async def _single(item: bytes) -> AsyncIterator[bytes]:
    yield item
