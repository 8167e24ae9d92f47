"""The Starlette application: its lifespan (storage and services) and its route table.

Routes (one API key guards the Zilliz and Bailian routes):

* Zilliz Pipelines (:mod:`.zilliz_routes`): ``POST/GET /v1/pipelines``,
  ``GET/DELETE /v1/pipelines/{id}``, ``POST /v1/pipelines/{id}/run`` (alias
  ``/v1/pipeline/{id}/run``), ``POST /v1/pipelines/{id}/run_ingestion_with_file``;
* Bailian (:mod:`.bailian_routes`): ``POST /api/v1/apps/{app_id}/completion``;
* operations (:mod:`.ops_routes`): liveness ``GET /health``, readiness ``GET /ready``;
  ``GET/POST/DELETE /_admin/faults`` only with an admin key (its own, never the data key).
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

from anyio import to_thread
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.routing import Route

from langchain_zilliz_bailian.server import bailian_routes, ops_routes, zilliz_routes
from langchain_zilliz_bailian.server.apps import AppCatalog, AppRegistry, AppSpec, default_app
from langchain_zilliz_bailian.server.bailian import AppService
from langchain_zilliz_bailian.server.context import (
    DEFAULT_API_KEY,
    ServerContext,
    ServerSettings,
    check_keys,
)
from langchain_zilliz_bailian.server.embeddings import Embedder, load_embedder
from langchain_zilliz_bailian.server.fallbacks import EXCEPTION_HANDLERS
from langchain_zilliz_bailian.server.faults import FaultConfig, FaultInjector
from langchain_zilliz_bailian.server.fetch import DEFAULT_FETCH_DEADLINE_S, FetchPolicy
from langchain_zilliz_bailian.server.limits import DEFAULT_MAX_BODY_BYTES, BodyLimitMiddleware
from langchain_zilliz_bailian.server.logs import install_log_filters
from langchain_zilliz_bailian.server.models.registry import build_registry
from langchain_zilliz_bailian.server.pipeline_runs import PipelineService
from langchain_zilliz_bailian.server.readiness import Readiness
from langchain_zilliz_bailian.server.storage import Storage, default_data_dir

__all__ = ["DEFAULT_API_KEY", "ServerSettings", "create_app"]

ROUTES = [
    Route("/health", ops_routes.health, methods=["GET"]),
    Route("/ready", ops_routes.ready, methods=["GET"]),
    Route("/v1/pipelines", zilliz_routes.create_pipeline, methods=["POST"]),
    Route("/v1/pipelines", zilliz_routes.list_pipelines, methods=["GET"]),
    Route("/v1/pipelines/{pipeline_id}", zilliz_routes.describe_pipeline, methods=["GET"]),
    Route("/v1/pipelines/{pipeline_id}", zilliz_routes.drop_pipeline, methods=["DELETE"]),
    Route("/v1/pipelines/{pipeline_id}/run", zilliz_routes.run_pipeline, methods=["POST"]),
    Route("/v1/pipeline/{pipeline_id}/run", zilliz_routes.run_pipeline, methods=["POST"]),
    Route(
        "/v1/pipelines/{pipeline_id}/run_ingestion_with_file",
        zilliz_routes.run_with_file,
        methods=["POST"],
    ),
    Route(
        "/v1/pipeline/{pipeline_id}/run_ingestion_with_file",
        zilliz_routes.run_with_file,
        methods=["POST"],
    ),
    Route("/api/v1/apps/{app_id}/completion", bailian_routes.completion, methods=["POST"]),
    Route("/_admin/faults", ops_routes.admin_faults, methods=["GET", "POST", "DELETE"]),
]


@contextlib.asynccontextmanager
async def lifespan(app: Starlette) -> AsyncIterator[None]:
    """Open storage and build the services on startup (after any fork); close storage on exit."""
    ctx: ServerContext = app.state.context
    settings = ctx.settings
    try:
        storage = await to_thread.run_sync(
            lambda: Storage(
                settings.data_dir,
                settings.milvus_uri,
                settings.milvus_token,
                lite_process=settings.lite_process,
            )
        )
    except Exception as exc:
        # uvicorn only logs a failed startup; LocalServer and the CLI report this error.
        app.state.startup_error = exc
        raise
    assert settings.embedder is not None
    ctx.storage = storage
    models = build_registry(
        settings.embedder,
        settings.data_dir,
        model_dir=settings.model_dir,
        allow_download=settings.model_download,
        fallback=settings.embedding_fallback,
    )
    ctx.pipelines = PipelineService(
        storage,
        models,
        settings.data_dir,
        legacy=settings.legacy,
        fetch_policy=settings.fetch_policy,
    )
    catalog = AppCatalog(
        AppRegistry(settings.data_dir),
        default_app(
            settings.default_app_id, settings.default_pipeline_ids, settings.default_system_prompt
        ),
        settings.apps,
        catch_all=settings.any_app_id,
    )
    ctx.apps = AppService(ctx.pipelines, catalog, settings.stream_interval_ms)
    ctx.readiness = Readiness(storage)
    flusher = asyncio.create_task(ctx.pipelines.usage_counters.flush_periodically())
    if settings.freeze_gc:
        # What startup built (models, clients, modules) lives as long as the server: left in
        # the collector's sight, every full collection would scan it again and pause all
        # requests for tens of milliseconds.
        gc.collect()
        gc.freeze()
    try:
        yield
    finally:
        flusher.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await flusher
        await ctx.apps.aclose()
        await ctx.pipelines.text_searches.aclose()
        try:  # the counts of the last seconds, before the storage closes
            await to_thread.run_sync(ctx.pipelines.usage_counters.flush)
        finally:
            await to_thread.run_sync(storage.close)


def create_app(
    *,
    data_dir: str | Path | None = None,
    api_key: str = DEFAULT_API_KEY,
    milvus_uri: str | None = None,
    milvus_token: str | None = None,
    lite_process: bool = False,
    embedder: str | Embedder | None = None,
    model_dir: str | Path | None = None,
    model_download: bool = False,
    embedding_fallback: bool = False,
    default_pipeline_ids: list[str] | None = None,
    default_app_id: str | None = None,
    any_app_id: bool = False,
    default_system_prompt: str = "",
    apps: Sequence[AppSpec | dict[str, Any]] = (),
    legacy: bool = False,
    stream_interval_ms: int = 5,
    faults: FaultConfig | FaultInjector | None = None,
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    allow_private_fetch: bool = False,
    fetch_deadline_s: float = DEFAULT_FETCH_DEADLINE_S,
    admin_key: str | None = None,
    freeze_gc: bool = False,
) -> Starlette:
    """Build the ASGI app. Storage opens in the lifespan; faults are live-editable via ``/_admin``.

    Milvus Lite (no ``milvus_uri``) runs in this process, or with ``lite_process`` in a child
    process on a core of its own (faster under concurrent load; about 3 s more to start).

    ``legacy=True`` emits the documented legacy variants (Z2, Z7, Z5): a bad token answers HTTP 200
    ``{"code": 200, "message": "The token is illegal."}``, ingestion/search report ``token_usage``
    instead of ``usage``, and search ids are numeric strings.

    Request bodies are capped at ``max_body_bytes`` (uploads at the 10 MB document limit plus
    framing); ``doc_url`` downloads end after ``fetch_deadline_s`` and may only reach public
    addresses unless ``allow_private_fetch`` (loopback, link-local and private networks).
    ``/_admin/faults`` exists only with an ``admin_key``, which must differ from ``api_key``.
    ``freeze_gc`` moves what startup built out of the garbage collector's scans (``gc.freeze``),
    for a process of the server's own (``serve`` sets it): shorter pauses under load.

    ``embedder`` is the default embedder (None: MiniLM; ``"lexical"``, ``"hybrid"`` or
    ``"module:callable"``). Each pipeline's ``embedding`` picks its model (bge from ``model_dir`` or
    the cache under the data dir, fetched only with ``model_download``; OpenAI/Voyage with their
    key in the environment); one that cannot be loaded is refused unless ``embedding_fallback``
    lets the default embedder serve it.

    Apps: ``apps`` (specs or their dicts) first, then the data dir's registry (``apps.json``,
    managed by ``zilliz-bailian apps``), then the default app (``default_pipeline_ids``,
    ``default_system_prompt``) under ``default_app_id`` (``"default"`` when not given); any
    other id is 404 ``NotFound``, unless ``any_app_id`` lets the default app answer it.
    """
    check_keys(api_key, admin_key)
    if default_app_id is not None:
        default_app(default_app_id, list(default_pipeline_ids or []))  # AppSpecError if bad
    if max_body_bytes < 1 or fetch_deadline_s <= 0:
        raise ValueError("max_body_bytes and fetch_deadline_s must be positive")
    settings = ServerSettings(
        data_dir=Path(data_dir).expanduser() if data_dir else default_data_dir(),
        api_key=api_key,
        milvus_uri=milvus_uri,
        milvus_token=milvus_token,
        lite_process=lite_process,
        embedder=load_embedder(embedder),
        model_dir=Path(model_dir).expanduser() if model_dir else None,
        model_download=model_download,
        embedding_fallback=embedding_fallback,
        default_pipeline_ids=list(default_pipeline_ids or []),
        default_app_id=default_app_id,
        any_app_id=any_app_id,
        default_system_prompt=default_system_prompt,
        apps=[spec if isinstance(spec, AppSpec) else AppSpec.build(**spec) for spec in apps],
        legacy=legacy,
        stream_interval_ms=stream_interval_ms,
        max_body_bytes=max_body_bytes,
        fetch_policy=FetchPolicy(allow_private=allow_private_fetch, deadline_s=fetch_deadline_s),
        admin_key=admin_key,
        freeze_gc=freeze_gc,
    )
    injector = faults if isinstance(faults, FaultInjector) else FaultInjector(faults)
    install_log_filters()
    app = Starlette(
        routes=ROUTES,
        middleware=[Middleware(BodyLimitMiddleware, max_body_bytes=max_body_bytes)],
        exception_handlers=EXCEPTION_HANDLERS,
        lifespan=lifespan,
    )
    app.state.context = ServerContext(settings, injector)
    app.state.faults = injector
    app.state.settings = settings
    return app
