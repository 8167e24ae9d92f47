"""A Bailian app's settings, framework-free: the fields both frameworks' classes share.

:class:`AppSettings` holds the app, connection and per-call default options, checks them before
any request, builds one :class:`BailianAppClient` per instance on first use (``total_timeout``
included) and closes it (``close``/``aclose``, ``with``/``async with``). LangChain's
``ChatBailianApp`` and ``BailianAppLLM`` and LlamaIndex's ``BailianAppLLM`` derive from it and add
only their framework's fields.

:func:`answer_metadata` is the one rule for what an answer carries besides its text, whichever
framework asked (LangChain ``response_metadata`` / ``generation_info``, LlamaIndex
``additional_kwargs``):

- ``model_name``: the model the app reported, else ``bailian-app-<app_id>``;
- ``app_id``, ``session_id``, ``request_id``;
- ``finish_reason``: ``"stop"`` when a stop sequence cut the answer on this side, else the app's;
- ``doc_references``: the cited documents, each as a dict without empty keys;
- ``usage``: ``input_tokens``, ``output_tokens``, ``total_tokens`` summed over ``models`` (also
  given, one dict a model), or ``{}`` when the app reported no usage;
- ``thoughts``: only when the call asked for them (``has_thoughts``) or the app sent some.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Collection, Mapping
from typing import Any, ClassVar

import httpx
from pydantic import ConfigDict, Field, PrivateAttr, SecretStr, model_validator

from langchain_zilliz_bailian._construction import TypedConstruction
from langchain_zilliz_bailian._http.adapter import Closeable
from langchain_zilliz_bailian._http.checks import (
    check_base_url,
    check_client_options,
    check_id,
    insecure_url_reported,
)
from langchain_zilliz_bailian.bailian import AppCompletion, AppOptions, BailianAppClient
from langchain_zilliz_bailian.bailian._constants import (
    API_KEY_ENV,
    APP_ID_ENV,
    BASE_URL_ENV,
    DEFAULT_BASE_URL,
    DEFAULT_TOTAL_TIMEOUT,
)
from langchain_zilliz_bailian.bailian.conversation import app_options, instance_options
from langchain_zilliz_bailian.errors import InvalidInputError

__all__ = ["AppSettings", "answer_metadata", "usage_of"]

#: Guards lazy client creation; module-level so instances stay copyable and picklable.
_CLIENT_LOCK = threading.Lock()


def _env_key() -> SecretStr | None:
    value = os.environ.get(API_KEY_ENV)
    return SecretStr(value) if value else None


def usage_of(completion: AppCompletion) -> dict[str, Any]:
    """Token counts summed over the models, plus the per-model list; ``{}`` if none reported."""
    usage = completion.usage
    if not usage.models:
        return {}
    return {
        "input_tokens": usage.input_tokens,
        "output_tokens": usage.output_tokens,
        "total_tokens": usage.total_tokens,
        "models": [model.model_dump(exclude_none=True) for model in usage.models],
    }


def answer_metadata(
    completion: AppCompletion,
    *,
    app_id: str,
    thoughts_asked: bool = False,
    stopped: bool = False,
) -> dict[str, Any]:
    """What an answer carries besides its text (the rule in this module's docstring)."""
    metadata: dict[str, Any] = {
        "model_name": completion.usage.model_id or f"bailian-app-{app_id}",
        "app_id": app_id,
        "session_id": completion.session_id,
        "request_id": completion.request_id,
        "finish_reason": "stop" if stopped else completion.finish_reason,
        "doc_references": [ref.model_dump(exclude_none=True) for ref in completion.doc_references],
        "usage": usage_of(completion),
    }
    if thoughts_asked or completion.thoughts:
        metadata["thoughts"] = [t.model_dump(exclude_none=True) for t in completion.thoughts]
    return metadata


class AppSettings(TypedConstruction, Closeable):
    """A Bailian app, its connection and its per-call defaults (the framework classes' base)."""

    model_config = ConfigDict(
        populate_by_name=True, arbitrary_types_allowed=True, protected_namespaces=()
    )

    #: Frames between the insecure-URL warning's check and the user's line (framework-specific).
    _warning_depth: ClassVar[int] = 5

    app_id: str = Field(
        default_factory=lambda: os.environ.get(APP_ID_ENV, ""),
        description="The app's id ($DASHSCOPE_APP_ID).",
    )
    api_key: SecretStr | None = Field(
        default_factory=_env_key,
        exclude=True,
        repr=False,
        description="DashScope API key ($DASHSCOPE_API_KEY); region-bound, like the base URL.",
    )
    base_url: str = Field(
        default_factory=lambda: os.environ.get(BASE_URL_ENV) or DEFAULT_BASE_URL,
        description="Base URL, /api/v1 included ($DASHSCOPE_HTTP_BASE_URL; see INTL_BASE_URL).",
    )
    workspace: str | None = Field(
        default=None, description="Workspace id (ws_...) for apps outside the default one."
    )
    session_id: str | None = Field(
        default=None,
        description="Server-side history: only the last user turn is sent, with this session.",
    )
    memory_id: str | None = Field(
        default=None, description="Long-term memory id (the app must have memory enabled)."
    )
    biz_params: dict[str, Any] | None = Field(
        default=None, description="Workflow / agent start-node parameters."
    )
    rag_options: dict[str, Any] | None = Field(
        default=None,
        description="Knowledge-base options: pipeline_ids, file_ids, tags, metadata_filter, ...",
    )
    has_thoughts: bool | None = Field(
        default=None,
        description="Ask for retrieval, plugin and reasoning steps (returned as thoughts).",
    )
    flow_stream_mode: str | None = Field(
        default=None, description="Workflow streaming granularity (full_thoughts, ...)."
    )
    temperature: float | None = None
    top_p: float | None = None
    top_k: int | None = None
    seed: int | None = None
    timeout: float | httpx.Timeout | None = Field(
        default=None,
        description="Read timeout in seconds (for streams: the longest silence); default 200 s.",
    )
    total_timeout: float | None = Field(
        default=DEFAULT_TOTAL_TIMEOUT,
        description="Seconds a whole call or stream may take, retries included (None: no cap).",
    )
    max_retries: int = Field(
        default=2,
        description="Retries before any answer byte (429, 408, 5xx, a connection never made).",
    )
    http_client: httpx.Client | None = Field(
        default=None,
        exclude=True,
        repr=False,
        description="A sync httpx client to use (proxies, TLS); left open, its owner closes it.",
    )
    http_async_client: httpx.AsyncClient | None = Field(
        default=None,
        exclude=True,
        repr=False,
        description="An async httpx client to use; left open, its owner closes it.",
    )

    _app_client: BailianAppClient | None = PrivateAttr(default=None)

    @model_validator(mode="after")
    def _check_config(self) -> Any:
        """Reject a missing or malformed app id, base URL, workspace or option before any
        request."""
        if not self.app_id:
            raise InvalidInputError(f"No app id: pass app_id=... or set {APP_ID_ENV}.")
        check_id("app_id", self.app_id)
        self.base_url = check_base_url(self.base_url, stacklevel=self._warning_depth)
        if self.workspace:
            check_id("workspace", self.workspace)
        check_client_options(
            timeout=self.timeout,
            max_retries=self.max_retries,
            http_client=self.http_client,
            http_async_client=self.http_async_client,
        )
        return self

    @property
    def model_name(self) -> str:
        """The name reported when the app does not say which model answered."""
        return f"bailian-app-{self.app_id}"

    @property
    def client(self) -> BailianAppClient:
        """The app client, built on first use and reused (one connection pool per instance)."""
        if self._app_client is None:
            with _CLIENT_LOCK, insecure_url_reported():  # warned at construction
                if self._app_client is None:
                    self._app_client = BailianAppClient(self.app_id, **self.client_arguments())
        return self._app_client

    def client_arguments(self) -> dict[str, Any]:
        """What the client is built with (``app_id`` aside)."""
        return {
            "api_key": self.api_key,
            "base_url": self.base_url,
            "workspace": self.workspace,
            "timeout": self.timeout,
            "total_timeout": self.total_timeout,
            "max_retries": self.max_retries,
            "http_client": self.http_client,
            "http_async_client": self.http_async_client,
        }

    def call_options(
        self,
        parameters: Mapping[str, Any],
        kwargs: Mapping[str, Any],
        *,
        ignored: Collection[str] = (),
        ignored_prefixes: tuple[str, ...] = (),
    ) -> AppOptions:
        """These settings overlaid with call keywords; unknown keywords join ``parameters``."""
        return app_options(
            instance_options(self),
            parameters,
            kwargs,
            ignored=ignored,
            ignored_prefixes=ignored_prefixes,
        )

    def answer_metadata(
        self, completion: AppCompletion, options: AppOptions, *, stopped: bool = False
    ) -> dict[str, Any]:
        """:func:`answer_metadata` for an answer to a call made with ``options``."""
        asked = bool(options.get("has_thoughts"))
        return answer_metadata(
            completion, app_id=self.app_id, thoughts_asked=asked, stopped=stopped
        )

    def close(self) -> None:
        """Close the connection pool (reopened on demand)."""
        if self._app_client is not None:
            self._app_client.close()

    async def aclose(self) -> None:
        """Close the pools, the current event loop's async one included."""
        if self._app_client is not None:
            await self._app_client.aclose()
