"""What every route handler shares: the server's settings, its fault injector and its services.

One :class:`ServerContext` per app, stored on ``app.state.context``; the services are created in
the lifespan (after any fork) and read by the handlers through :func:`context_of`.
"""

from __future__ import annotations

import hmac
import ipaddress
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, cast

from starlette.requests import Request

from langchain_zilliz_bailian.server.embeddings import Embedder
from langchain_zilliz_bailian.server.faults import FaultInjector
from langchain_zilliz_bailian.server.fetch import FetchPolicy
from langchain_zilliz_bailian.server.limits import DEFAULT_MAX_BODY_BYTES

if TYPE_CHECKING:
    from langchain_zilliz_bailian.server.apps import AppSpec
    from langchain_zilliz_bailian.server.bailian import AppService
    from langchain_zilliz_bailian.server.pipeline_runs import PipelineService
    from langchain_zilliz_bailian.server.readiness import Readiness
    from langchain_zilliz_bailian.server.storage import Storage

DEFAULT_API_KEY = "local-dev-key"  # for loopback use only


@dataclass
class ServerSettings:
    """Options of one server instance (see :func:`.app.create_app`)."""

    data_dir: Path
    api_key: str = DEFAULT_API_KEY
    milvus_uri: str | None = None
    milvus_token: str | None = None
    #: Whether Milvus Lite runs in a child process (a core of its own) rather than in this one.
    lite_process: bool = False
    embedder: Embedder | None = None
    #: Where bge models are looked up first (air-gapped copies), before the data dir's cache.
    model_dir: Path | None = None
    #: Whether a missing bge model may be fetched into the cache on first use.
    model_download: bool = False
    #: Whether a model that cannot be loaded is served by ``embedder`` instead of refused.
    embedding_fallback: bool = False
    default_pipeline_ids: list[str] = field(default_factory=list)
    #: The default app's id (None: ``"default"``).
    default_app_id: str | None = None
    #: Whether the default app answers every app id that is not defined (else 404 NotFound).
    any_app_id: bool = False
    default_system_prompt: str = ""
    #: Apps defined in Python (:class:`~.runner.LocalServer` ``apps=``), before the registry.
    apps: list[AppSpec] = field(default_factory=list)
    legacy: bool = False
    stream_interval_ms: int = 5
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    fetch_policy: FetchPolicy = field(default_factory=FetchPolicy)
    #: ``/_admin/*`` answers only when enabled, and only to this key (never the data key).
    admin_key: str | None = None
    #: Whether startup ends with ``gc.freeze()`` (see :func:`.app.create_app`); for a process
    #: that is the server's own (``serve``), not one a :class:`~.runner.LocalServer` shares.
    freeze_gc: bool = False

    def __repr__(self) -> str:  # never show secrets
        return (
            f"ServerSettings(data_dir={str(self.data_dir)!r}, api_key='***', "
            f"milvus_uri={self.milvus_uri!r}, milvus_token={'***' if self.milvus_token else None}, "
            f"admin={'on' if self.admin_key else 'off'})"
        )


def is_loopback_host(host: str) -> bool:
    """Whether ``host`` (an address or ``localhost``) only accepts connections from this machine."""
    if host.strip().lower().rstrip(".") == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip().strip("[]")).is_loopback
    except ValueError:
        return False


def check_exposure(host: str, api_key: str) -> None:
    """ValueError when a non-loopback ``host`` would be served with the default key."""
    if api_key == DEFAULT_API_KEY and not is_loopback_host(host):
        raise ValueError(
            f"binding to {host!r} (not loopback) needs an API key of your own: the default "
            f"{DEFAULT_API_KEY!r} is public"
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
    readiness: Readiness

    def __init__(self, settings: ServerSettings, faults: FaultInjector) -> None:
        self.settings = settings
        self.faults = faults

    def authorized(self, request: Request) -> bool:
        """Whether the request carries the data API key."""
        return _same_secret(bearer(request), self.settings.api_key)

    def authorized_admin(self, request: Request) -> bool:
        """Whether admin is enabled and the request carries the admin key."""
        key = self.settings.admin_key
        return key is not None and _same_secret(bearer(request), key)


def check_keys(api_key: str, admin_key: str | None) -> None:
    """ValueError unless both keys are usable Bearer tokens and the admin key is its own."""
    for name, key in (("api_key", api_key), ("admin_key", admin_key)):
        if key is not None and (not key or any(c.isspace() for c in key)):
            raise ValueError(f"{name} must be non-empty, without spaces")
    if admin_key is not None and admin_key in (api_key, DEFAULT_API_KEY):
        raise ValueError("admin_key must differ from the data API key and from the default key")


def context_of(request: Request) -> ServerContext:
    """The context of the app serving ``request``."""
    return cast(ServerContext, request.app.state.context)
