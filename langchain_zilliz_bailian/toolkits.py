"""``ZillizBailianToolkit``: search pipelines and Bailian apps as tools of a LangChain agent.

Thin over :mod:`langchain_zilliz_bailian.agent_tools`: each search pipeline is described once
and becomes a :class:`ZillizPipelineSearchTool` (its name and description from the pipeline's;
``query``, optional ``filter`` and bounded ``k``; passages for the model, ``Document`` artifacts),
each app a :class:`BailianAppTool` (``question``, optional ``session_id``; the session kept per
tool instance with ``keep_sessions=True``). Searches run through one
:class:`~langchain_zilliz_bailian.zilliz.retrieval.RetrievalSession`, app calls through each
app's client; both natively async.
"""

from __future__ import annotations

import os
from typing import Any, Literal

import httpx
from langchain_core.callbacks import AsyncCallbackManagerForToolRun, CallbackManagerForToolRun
from langchain_core.documents import Document
from langchain_core.tools import BaseTool, BaseToolkit
from langchain_core.utils import from_env, secret_from_env
from pydantic import ConfigDict, Field, PrivateAttr, SecretStr, model_validator

from langchain_zilliz_bailian._construction import TypedConstruction
from langchain_zilliz_bailian._http.adapter import Closeable
from langchain_zilliz_bailian._http.checks import check_id
from langchain_zilliz_bailian.agent_tools import (
    AppConversation,
    AppTool,
    AskArgs,
    PipelineTool,
    SearchBounds,
    apipeline_tools,
    app_tools,
    format_hits,
    pipeline_tools,
)
from langchain_zilliz_bailian.bailian import _constants as bailian
from langchain_zilliz_bailian.bailian.settings import AppSettings
from langchain_zilliz_bailian.errors import InvalidInputError
from langchain_zilliz_bailian.retrievers import to_document
from langchain_zilliz_bailian.zilliz import client as zilliz
from langchain_zilliz_bailian.zilliz.retrieval import RetrievalSession

__all__ = ["BailianAppTool", "ZillizBailianToolkit", "ZillizPipelineSearchTool"]


class ZillizPipelineSearchTool(BaseTool):
    """One search pipeline as a tool: passages for the model, ``Document`` s as the artifact."""

    response_format: Literal["content", "content_and_artifact"] = "content_and_artifact"
    pipeline_id: str
    """The SEARCH pipeline this tool searches."""

    _spec: PipelineTool = PrivateAttr()
    _session: RetrievalSession = PrivateAttr()

    @classmethod
    def from_spec(cls, spec: PipelineTool, session: RetrievalSession) -> ZillizPipelineSearchTool:
        """The tool :func:`~langchain_zilliz_bailian.agent_tools.pipeline_tools` described."""
        tool = cls(
            name=spec.name,
            description=spec.description,
            args_schema=spec.args,
            pipeline_id=spec.pipeline_id,
        )
        tool._spec, tool._session = spec, session
        return tool

    def _run(
        self,
        query: str,
        filter: str | None = None,
        k: int | None = None,
        run_manager: CallbackManagerForToolRun | None = None,
    ) -> tuple[str, list[Document]]:
        hits = self._session.search(self._spec.request(query, filter, k))
        return format_hits(hits), [to_document(hit) for hit in hits]

    async def _arun(
        self,
        query: str,
        filter: str | None = None,
        k: int | None = None,
        run_manager: AsyncCallbackManagerForToolRun | None = None,
    ) -> tuple[str, list[Document]]:
        hits = await self._session.asearch(self._spec.request(query, filter, k))
        return format_hits(hits), [to_document(hit) for hit in hits]


class BailianAppTool(BaseTool):
    """One Bailian app as a tool: its answer (with sources and session) for the model, the
    answer's metadata (``session_id``, ``doc_references``, usage, ...) as the artifact."""

    response_format: Literal["content", "content_and_artifact"] = "content_and_artifact"
    args_schema: type[AskArgs] = AskArgs
    app_id: str
    """The app this tool asks."""

    _conversation: AppConversation = PrivateAttr()

    @classmethod
    def from_spec(cls, spec: AppTool) -> BailianAppTool:
        """The tool for :func:`~langchain_zilliz_bailian.agent_tools.app_tools`' ``spec``, with
        a conversation of its own."""
        tool = cls(name=spec.name, description=spec.description, app_id=spec.app.app_id)
        tool._conversation = spec.conversation()
        return tool

    @property
    def session_id(self) -> str | None:
        """The session the next question continues (``keep_sessions=True`` only)."""
        return self._conversation.session_id

    def _run(
        self,
        question: str,
        session_id: str | None = None,
        run_manager: CallbackManagerForToolRun | None = None,
    ) -> tuple[str, dict[str, Any]]:
        return self._conversation.ask(question, session_id)

    async def _arun(
        self,
        question: str,
        session_id: str | None = None,
        run_manager: AsyncCallbackManagerForToolRun | None = None,
    ) -> tuple[str, dict[str, Any]]:
        return await self._conversation.aask(question, session_id)


class ZillizBailianToolkit(TypedConstruction, BaseToolkit, Closeable):
    """Tools for an agent: one per search pipeline and one per Bailian app.

    Setup: the Zilliz key from ``ZILLIZ_CLOUD_API_KEY`` (base URL ``ZILLIZ_PIPELINES_BASE_URL``),
    the DashScope key from ``DASHSCOPE_API_KEY`` (base URL ``DASHSCOPE_HTTP_BASE_URL``).

    Example:
        .. code-block:: python

            toolkit = ZillizBailianToolkit(pipeline_ids=["pipe-..."], app_ids=["..."])
            agent = create_agent(model, tools=toolkit.get_tools())

    Every setting is checked at construction (a typed error, before any request);
    :meth:`get_tools` describes each pipeline once. ``close``/``aclose`` close the pools.
    """

    model_config = ConfigDict(arbitrary_types_allowed=True, protected_namespaces=())

    pipeline_ids: list[str] = Field(default_factory=list)
    """SEARCH pipeline ids (``pipe-...``): one search tool each."""
    app_ids: list[str] = Field(default_factory=list)
    """Bailian app ids: one question tool each."""
    app_names: dict[str, str] = Field(default_factory=dict)
    """Tool names by app id (``ask_<name>``); by default ``ask_<app id>``."""
    app_descriptions: dict[str, str] = Field(default_factory=dict)
    """What each app knows or does, by app id: the model reads it to choose the tool."""
    keep_sessions: bool = False
    """Each app tool continues its own session across calls (server-side history)."""
    app_options: dict[str, Any] = Field(default_factory=dict)
    """Further app settings for every app (``rag_options``, ``biz_params``, ``memory_id``, ...)."""
    output_fields: list[str] | None = None
    """Preserved fields each hit shows the model (``doc_name``, ``year``, ...)."""
    k: int = 4
    """Passages a search returns when the model does not say."""
    max_k: int = 10
    """The most passages a model may ask for (the ``k`` argument's bound)."""
    zilliz_api_key: SecretStr | None = Field(
        default_factory=secret_from_env(zilliz.API_KEY_ENV, default=None)
    )
    """Zilliz key; defaults to ``ZILLIZ_CLOUD_API_KEY``. Never shown in a repr or a dump."""
    cloud_region: str = Field(
        default_factory=from_env(zilliz.REGION_ENV, default=zilliz.DEFAULT_REGION)
    )
    """Region of the default Zilliz host; defaults to ``ZILLIZ_CLOUD_REGION``."""
    zilliz_base_url: str | None = Field(default_factory=from_env(zilliz.BASE_URL_ENV, default=None))
    """Zilliz Pipelines base URL; defaults to ``ZILLIZ_PIPELINES_BASE_URL``."""
    dashscope_api_key: SecretStr | None = Field(
        default_factory=secret_from_env(bailian.API_KEY_ENV, default=None)
    )
    """DashScope key; defaults to ``DASHSCOPE_API_KEY``. Never shown in a repr or a dump."""
    dashscope_base_url: str = Field(
        default_factory=lambda: os.environ.get(bailian.BASE_URL_ENV) or bailian.DEFAULT_BASE_URL
    )
    """DashScope base URL, ``/api/v1`` included; defaults to ``DASHSCOPE_HTTP_BASE_URL``."""
    workspace: str | None = None
    """DashScope workspace (``ws_...``) for apps outside the default one."""
    timeout: float | None = None
    """Read timeout in seconds for both services (their defaults when ``None``)."""
    max_retries: int = 2
    """Retries for failures that are safe to repeat."""
    http_client: httpx.Client | None = Field(default=None, exclude=True)
    """An ``httpx.Client`` both services' calls go through; used as is, never closed here."""
    http_async_client: httpx.AsyncClient | None = Field(default=None, exclude=True)
    """An ``httpx.AsyncClient``, likewise."""

    _bounds: SearchBounds = PrivateAttr()
    _session: RetrievalSession = PrivateAttr()
    _apps: list[AppSettings] = PrivateAttr()

    @model_validator(mode="after")
    def _validate(self) -> ZillizBailianToolkit:
        if not self.pipeline_ids and not self.app_ids:
            raise InvalidInputError("Give pipeline_ids, app_ids or both: the toolkit is empty.")
        for pipeline_id in self.pipeline_ids:
            check_id("pipeline_id", pipeline_id)
        self._bounds = SearchBounds(self.k, self.max_k)
        shared: dict[str, Any] = {
            "timeout": self.timeout,
            "max_retries": self.max_retries,
            "http_client": self.http_client,
            "http_async_client": self.http_async_client,
        }
        self._session = RetrievalSession(
            api_key=self.zilliz_api_key,
            cloud_region=self.cloud_region,
            base_url=self.zilliz_base_url,
            **shared,
        )
        self._apps = [
            AppSettings(
                **{
                    **self.app_options,
                    "app_id": app_id,
                    "api_key": self.dashscope_api_key,
                    "base_url": self.dashscope_base_url,
                    "workspace": self.workspace,
                    **shared,
                }
            )
            for app_id in self.app_ids
        ]
        app_tools(self._apps, descriptions=self.app_descriptions, names=self.app_names)
        return self

    def _tools(self, searches: list[PipelineTool]) -> list[BaseTool]:
        """The search tools described, then an app tool each (named apart from them)."""
        apps = app_tools(
            self._apps,
            descriptions=self.app_descriptions,
            names=self.app_names,
            keep_sessions=self.keep_sessions,
            taken=[spec.name for spec in searches],
        )
        return [
            *(ZillizPipelineSearchTool.from_spec(spec, self._session) for spec in searches),
            *(BailianAppTool.from_spec(spec) for spec in apps),
        ]

    def get_tools(self) -> list[BaseTool]:
        """A search tool per pipeline (each described once), then a question tool per app."""
        return self._tools(
            pipeline_tools(
                self._session, self.pipeline_ids, self._bounds, output_fields=self.output_fields
            )
        )

    async def aget_tools(self) -> list[BaseTool]:
        """:meth:`get_tools` with the pipelines described natively async."""
        return self._tools(
            await apipeline_tools(
                self._session, self.pipeline_ids, self._bounds, output_fields=self.output_fields
            )
        )

    def close(self) -> None:
        """Close the connection pools (reopened on demand)."""
        self._session.close()
        for app in self._apps:
            app.close()

    async def aclose(self) -> None:
        """Close the pools, the current event loop's async ones included."""
        await self._session.aclose()
        for app in self._apps:
            await app.aclose()
