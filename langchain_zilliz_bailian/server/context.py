"""What every route handler shares: the server's settings, its fault injector and its services.

One :class:`ServerContext` per app, stored on ``app.state.context``; the services are created in
the lifespan (after any fork) and read by the handlers through :func:`context_of`.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, cast

from starlette.requests import Request

from langchain_zilliz_bailian.server.embeddings import Embedder
from langchain_zilliz_bailian.server.faults import FaultInjector
from langchain_zilliz_bailian.server.fetch import FetchPolicy
from langchain_zilliz_bailian.server.limits import DEFAULT_MAX_BODY_BYTES

if TYPE_CHECKING:
    from langchain_zilliz_bailian.server.bailian import AppService
    from langchain_zilliz_bailian.server.pipeline_runs import PipelineService
    from langchain_zilliz_bailian.server.storage import Storage

DEFAULT_API_KEY = "local-dev-key"  # for loopback use only


@dataclass
class ServerSettings:
    """Options of one server instance (see :func:`.app.create_app`)."""

    data_dir: Path
    api_key: str = DEFAULT_API_KEY
    milvus_uri: str | None = None
    milvus_token: str | None = None
    embedder: Embedder | None = None
    default_pipeline_ids: list[str] = field(default_factory=list)
    legacy: bool = False
    stream_interval_ms: int = 5
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    fetch_policy: FetchPolicy = field(default_factory=FetchPolicy)

    def __repr__(self) -> str:  # never show secrets
        return (
            f"ServerSettings(data_dir={str(self.data_dir)!r}, api_key='***', "
            f"milvus_uri={self.milvus_uri!r}, milvus_token={'***' if self.milvus_token else None})"
        )


def bearer(request: Request) -> str | None:
    """The token of an ``Authorization: Bearer ...`` header, or None."""
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def _same_secret(token: str | None, key: str) -> bool:
    """Constant-time comparison of a presented token with a configured key."""
    return token is not None and hmac.compare_digest(token.encode("utf-8"), key.encode("utf-8"))


class ServerContext:
    """Settings, fault injector and (once the lifespan has run) the storage and services."""

    storage: Storage
    pipelines: PipelineService
    apps: AppService

    def __init__(self, settings: ServerSettings, faults: FaultInjector) -> None:
        self.settings = settings
        self.faults = faults

    def authorized(self, request: Request) -> bool:
        """Whether the request carries the data API key."""
        return _same_secret(bearer(request), self.settings.api_key)


def context_of(request: Request) -> ServerContext:
    """The context of the app serving ``request``."""
    return cast(ServerContext, request.app.state.context)
