"""Where the demo sends its requests: the in-process local server, or the real cloud endpoints."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field

from langchain_zilliz_bailian.errors import ZillizBailianError

#: Ids the local server accepts for its single, implicit project and cluster.
LOCAL_PROJECT_ID = "proj-zbdemo"
LOCAL_CLUSTER_ID = "in01-zbdemo"
LOCAL_APP_ID = "demo-app"

#: Variables ``--live`` cannot do without, in the order they are reported.
REQUIRED_LIVE_VARIABLES = (
    "ZILLIZ_CLOUD_API_KEY",
    "ZILLIZ_PROJECT_ID",
    "ZILLIZ_CLUSTER_ID",
    "DASHSCOPE_API_KEY",
    "DASHSCOPE_APP_ID",
)


class MissingEnvironmentError(ZillizBailianError):
    """``--live`` was asked for but some required environment variables are unset."""

    def __init__(self, missing: list[str]) -> None:
        self.missing = missing
        super().__init__(
            "--live needs these environment variables: "
            + ", ".join(missing)
            + ". Optional: ZILLIZ_PIPELINES_BASE_URL or ZILLIZ_CLOUD_REGION, "
            "DASHSCOPE_HTTP_BASE_URL."
        )


@dataclass(frozen=True)
class Endpoints:
    """Keys, base URLs and ids for both services (``None`` base URL: the client's default)."""

    label: str
    zilliz_api_key: str = field(repr=False)
    zilliz_base_url: str | None
    project_id: str
    cluster_id: str
    bailian_api_key: str = field(repr=False)
    bailian_base_url: str | None
    app_id: str
    #: Whether the app should search the demo's own search pipeline (only the local app can).
    app_uses_pipeline: bool


def local_endpoints(url: str, bailian_base_url: str, api_key: str) -> Endpoints:
    """Both services on the local compatible server, with one key."""
    return Endpoints(
        label="local compatible server (loopback only)",
        zilliz_api_key=api_key,
        zilliz_base_url=url,
        project_id=LOCAL_PROJECT_ID,
        cluster_id=LOCAL_CLUSTER_ID,
        bailian_api_key=api_key,
        bailian_base_url=bailian_base_url,
        app_id=LOCAL_APP_ID,
        app_uses_pipeline=True,
    )


def live_endpoints(environ: Mapping[str, str] | None = None) -> Endpoints:
    """The real endpoints from the environment; raises :class:`MissingEnvironmentError`."""
    env = os.environ if environ is None else environ
    missing = [name for name in REQUIRED_LIVE_VARIABLES if not env.get(name)]
    if missing:
        raise MissingEnvironmentError(missing)
    return Endpoints(
        label="live cloud endpoints",
        zilliz_api_key=env["ZILLIZ_CLOUD_API_KEY"],
        zilliz_base_url=env.get("ZILLIZ_PIPELINES_BASE_URL") or None,
        project_id=env["ZILLIZ_PROJECT_ID"],
        cluster_id=env["ZILLIZ_CLUSTER_ID"],
        bailian_api_key=env["DASHSCOPE_API_KEY"],
        bailian_base_url=env.get("DASHSCOPE_HTTP_BASE_URL") or None,
        app_id=env["DASHSCOPE_APP_ID"],
        # A real app's knowledge bases are Bailian indexes, not Zilliz pipelines: the retrieved
        # context travels in the system turn instead.
        app_uses_pipeline=False,
    )
