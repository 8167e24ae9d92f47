"""LangChain-side configuration and call logic shared by ``ChatBailianApp`` and ``BailianAppLLM``.

The mixin holds the fields (app, key, base URL, workspace, session, generation parameters),
builds one :class:`BailianAppClient` per instance on first use, routes per-call keyword
arguments into the request, applies stop sequences, and maps results to LangChain metadata.
The two framework classes only translate their input and output types.
"""

from __future__ import annotations

import threading
import warnings
from collections.abc import AsyncIterator, Iterator, Mapping
from typing import TYPE_CHECKING, Any, ClassVar, Literal

import httpx
from langchain_core.language_models import LangSmithParams
from langchain_core.messages.ai import UsageMetadata
from langchain_core.utils.utils import from_env, secret_from_env
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, SecretStr, model_validator

from langchain_zilliz_bailian._http.checks import (
    check_base_url,
    check_client_options,
    check_id,
    insecure_url_reported,
    typed_construction,
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
from langchain_zilliz_bailian.bailian.stop import StopSequenceFilter, truncate_at_stop
from langchain_zilliz_bailian.errors import InvalidInputError

__all__ = ["BailianAppMixin", "usage_metadata"]

_CLIENT_LOCK = threading.Lock()
#: Per-call keyword arguments that go into the request as options (the rest are ``parameters``).
#: Per-call keyword arguments LangChain or callers may pass that an app cannot use.
_IGNORED_KEYS = frozenset({"model", "max_tokens", "stream", "streaming", "stop"})


def usage_metadata(completion: AppCompletion) -> UsageMetadata | None:
    """Token counts summed over ``usage.models``; ``None`` when the app reported none."""
    usage = completion.usage
    if not usage.models:
        return None
    return UsageMetadata(
        input_tokens=usage.input_tokens,
        output_tokens=usage.output_tokens,
        total_tokens=usage.total_tokens,
    )


class BailianAppMixin(BaseModel):
    """Fields and call logic of a Bailian app for LangChain (mixed into the model classes)."""

    model_config = ConfigDict(
        populate_by_name=True, arbitrary_types_allowed=True, protected_namespaces=()
    )

    #: ``"chat"`` or ``"llm"``, for LangSmith.
    _ls_model_type: ClassVar[Literal["chat", "llm"]] = "chat"

    app_id: str = Field(default_factory=from_env(APP_ID_ENV, default=""))
    """The app's id (``$DASHSCOPE_APP_ID``)."""
    api_key: SecretStr | None = Field(default_factory=secret_from_env(API_KEY_ENV, default=None))
    """DashScope API key (``$DASHSCOPE_API_KEY``); region-bound, like the base URL."""
    base_url: str = Field(default_factory=from_env(BASE_URL_ENV, default=DEFAULT_BASE_URL))
    """Base URL, ``/api/v1`` included (``$DASHSCOPE_HTTP_BASE_URL``; see ``INTL_BASE_URL``)."""
    workspace: str | None = None
    """Workspace id (``ws_...``) for apps outside the default workspace."""
    session_id: str | None = None
    """Server-side history: only the last human turn is sent, with this session id."""
    memory_id: str | None = None
    """Long-term memory id (the app must have memory enabled)."""
    biz_params: dict[str, Any] | None = None
    """Workflow / agent start-node parameters."""
    rag_options: dict[str, Any] | None = None
    """Knowledge-base options: ``pipeline_ids``, ``file_ids``, ``tags``, ``metadata_filter``, ..."""
    has_thoughts: bool | None = None
    """Ask for retrieval, plugin and reasoning steps (returned as ``thoughts`` metadata)."""
    flow_stream_mode: str | None = None
    """Workflow streaming granularity (``full_thoughts``, ``message_format_plus``, ...)."""
    streaming: bool = False
    """Use the SSE stream even for ``invoke``."""
    timeout: float | httpx.Timeout | None = None
    """Read timeout in seconds (for streams: the longest silence allowed); default 200 s."""
    total_timeout: float | None = DEFAULT_TOTAL_TIMEOUT
    """Seconds a whole call or stream may take, retries included (``None``: unbounded)."""
    max_retries: int = 2
    """Retries before any answer byte (429 throttling, 408, 5xx, a connection never made)."""
    temperature: float | None = None
    top_p: float | None = None
    top_k: int | None = None
    seed: int | None = None
    max_tokens: int | None = None
    """Accepted for compatibility and reported to tracing; apps take no such parameter."""
    stop: list[str] | None = None
    """Stop sequences, applied on this side (the text is cut before the first one)."""
    model_kwargs: dict[str, Any] = Field(default_factory=dict)
    """Further ``parameters`` sent as given (``enable_thinking``, ``model_id``, ...)."""
    http_client: httpx.Client | None = Field(default=None, exclude=True)
    """A sync httpx client to use (proxies, TLS); left open, its owner closes it."""
    http_async_client: httpx.AsyncClient | None = Field(default=None, exclude=True)
    """An async httpx client to use; left open, its owner closes it."""

    _app_client: BailianAppClient | None = PrivateAttr(default=None)

    # -- validation ---------------------------------------------------------------------------

    if not TYPE_CHECKING:  # type checkers keep pydantic's typed signature

        def __init__(self, **data: Any) -> None:
            """Bad arguments raise :class:`InvalidInputError`, as the LlamaIndex LLM does."""
            with typed_construction(type(self).__name__):
                super().__init__(**data)

    @model_validator(mode="before")
    @classmethod
    def _route_extra_kwargs(cls, values: Any) -> Any:
        """Unknown constructor arguments go to ``model_kwargs`` (sent as parameters), warning."""
        if not isinstance(values, dict):
            return values
        known = set()
        for name, field in cls.model_fields.items():
            known.update({name, field.alias} - {None})
        extra = {key: values[key] for key in list(values) if key not in known}
        if extra:
            warnings.warn(
                f"{sorted(extra)} are not fields of {cls.__name__}; they are sent to the app as "
                "`parameters` via model_kwargs.",
                UserWarning,
                stacklevel=5,  # the caller, past pydantic and the typed __init__
            )
            values = {key: value for key, value in values.items() if key in known}
            values["model_kwargs"] = {**extra, **(values.get("model_kwargs") or {})}
        return values

    @model_validator(mode="after")
    def _check_config(self) -> Any:
        """Reject a missing or malformed app id, base URL or workspace before any request."""
        if not self.app_id:
            raise InvalidInputError(f"No app id: pass app_id=... or set {APP_ID_ENV}.")
        check_id("app_id", self.app_id)
        self.base_url = check_base_url(self.base_url, stacklevel=6)  # the user's line
        if self.workspace:
            check_id("workspace", self.workspace)
        check_client_options(
            timeout=self.timeout,
            max_retries=self.max_retries,
            http_client=self.http_client,
            http_async_client=self.http_async_client,
        )
        return self

    # -- serialization ------------------------------------------------------------------------

    @property
    def lc_secrets(self) -> dict[str, str]:
        """The API key is serialized as a reference to its environment variable, never a value."""
        return {"api_key": API_KEY_ENV}

    @classmethod
    def is_lc_serializable(cls) -> bool:
        """Serializable with ``langchain_core.load.dumpd`` (the key excluded)."""
        return True

    @property
    def _default_model_name(self) -> str:
        return f"bailian-app-{self.app_id}"

    @property
    def _identifying_params(self) -> dict[str, Any]:
        return {
            "app_id": self.app_id,
            "base_url": self.base_url,
            "workspace": self.workspace,
            "session_id": self.session_id,
            "temperature": self.temperature,
            "top_p": self.top_p,
            "top_k": self.top_k,
            "seed": self.seed,
            "rag_options": self.rag_options,
            **self.model_kwargs,
        }

    def _get_ls_params(self, stop: list[str] | None = None, **kwargs: Any) -> LangSmithParams:
        """Tracing parameters; ``ls_model_name`` honours a per-call ``model`` override."""
        params = LangSmithParams(
            ls_provider="bailian",
            ls_model_name=str(kwargs.get("model") or self._default_model_name),
            ls_model_type=self._ls_model_type,
        )
        if self.temperature is not None:
            params["ls_temperature"] = self.temperature
        if self.max_tokens is not None:
            params["ls_max_tokens"] = self.max_tokens
        stops = stop or self.stop
        if stops:
            params["ls_stop"] = list(stops)
        return params

    # -- the client ---------------------------------------------------------------------------

    @property
    def client(self) -> BailianAppClient:
        """The app client, built on first use and reused (one connection pool per instance)."""
        if self._app_client is None:
            with _CLIENT_LOCK, insecure_url_reported():  # warned at construction
                if self._app_client is None:
                    self._app_client = BailianAppClient(
                        self.app_id,
                        api_key=self.api_key,
                        base_url=self.base_url,
                        workspace=self.workspace,
                        timeout=self.timeout,
                        total_timeout=self.total_timeout,
                        max_retries=self.max_retries,
                        http_client=self.http_client,
                        http_async_client=self.http_async_client,
                    )
        return self._app_client

    # -- requests -----------------------------------------------------------------------------

    def _app_options(self, kwargs: Mapping[str, Any]) -> AppOptions:
        """Instance settings overlaid with per-call keyword arguments (unknown: ``parameters``)."""
        return app_options(
            instance_options(self),
            self.model_kwargs,
            kwargs,
            ignored=_IGNORED_KEYS,
            ignored_prefixes=("ls_",),
        )

    def _stops(self, stop: list[str] | None) -> list[str] | None:
        return stop if stop is not None else self.stop

    def _response_metadata(
        self, completion: AppCompletion, options: AppOptions, *, stopped: bool
    ) -> dict[str, Any]:
        """``response_metadata`` / ``generation_info`` for one answer."""
        metadata: dict[str, Any] = {
            "model_name": completion.usage.model_id or self._default_model_name,
            "app_id": self.app_id,
            "session_id": completion.session_id,
            "request_id": completion.request_id,
            "finish_reason": "stop" if stopped else completion.finish_reason,
            "doc_references": [
                ref.model_dump(exclude_none=True) for ref in completion.doc_references
            ],
        }
        if options.get("has_thoughts"):
            metadata["thoughts"] = [t.model_dump(exclude_none=True) for t in completion.thoughts]
        return metadata

    def _complete(
        self, prompt: str | None, options: AppOptions, stop: list[str] | None
    ) -> tuple[str, AppCompletion, dict[str, Any]]:
        """One JSON call: the answer cut at the stop sequences, the result and its metadata."""
        completion = self.client.call(prompt, **options)
        text, stopped = truncate_at_stop(completion.text, self._stops(stop))
        return text, completion, self._response_metadata(completion, options, stopped=stopped)

    async def _acomplete(
        self, prompt: str | None, options: AppOptions, stop: list[str] | None
    ) -> tuple[str, AppCompletion, dict[str, Any]]:
        """Async twin of :meth:`_complete`."""
        completion = await self.client.acall(prompt, **options)
        text, stopped = truncate_at_stop(completion.text, self._stops(stop))
        return text, completion, self._response_metadata(completion, options, stopped=stopped)

    def _stream_app(
        self, prompt: str | None, options: AppOptions, stop: list[str] | None
    ) -> Iterator[str | tuple[AppCompletion, dict[str, Any]]]:
        """Each text delta as it arrives, then ``(result, metadata)`` once at the end.

        A stop sequence ends the stream where it starts (the connection is closed there).
        """
        gate = StopSequenceFilter(self._stops(stop))
        with self.client.stream(prompt, **options) as stream:
            for chunk in stream:
                text = gate.feed(chunk.delta)
                if text:
                    yield text
                if gate.stopped:
                    break
            rest = gate.flush()
            if rest:
                yield rest
            completion = stream.completion
        yield completion, self._response_metadata(completion, options, stopped=gate.stopped)

    async def _astream_app(
        self, prompt: str | None, options: AppOptions, stop: list[str] | None
    ) -> AsyncIterator[str | tuple[AppCompletion, dict[str, Any]]]:
        """Async twin of :meth:`_stream_app`."""
        gate = StopSequenceFilter(self._stops(stop))
        async with self.client.astream(prompt, **options) as stream:
            async for chunk in stream:
                text = gate.feed(chunk.delta)
                if text:
                    yield text
                if gate.stopped:
                    break
            rest = gate.flush()
            if rest:
                yield rest
            completion = stream.completion
        yield completion, self._response_metadata(completion, options, stopped=gate.stopped)
