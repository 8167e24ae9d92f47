"""``ZillizPipelineToolSpec`` and ``BailianAppToolSpec``: pipelines and apps as LlamaIndex tools.

Thin over :mod:`langchain_zilliz_bailian.agent_tools`, like LangChain's toolkit: one function a
search pipeline (``query``, optional ``filter`` and bounded ``k``; its name and description
from the pipeline's, described once) and one a Bailian app (``question``, optional
``session_id``). The functions differ per instance, so each spec lists them by tool name in
``spec_functions`` (a sync and an async twin each) and answers ``BaseToolSpec``'s metadata
lookup with the tool's name, description and schema; ``to_tool_list`` then builds the tools.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from llama_index.core.tools.function_tool import FunctionTool
from llama_index.core.tools.tool_spec.base import SPEC_FUNCTION_TYPE, BaseToolSpec
from llama_index.core.tools.types import ToolMetadata
from pydantic import BaseModel
from typing_extensions import Unpack

from langchain_zilliz_bailian._http.adapter import Closeable
from langchain_zilliz_bailian._http.checks import check_id
from langchain_zilliz_bailian.agent_tools import (
    DEFAULT_K,
    DEFAULT_MAX_K,
    AppTool,
    AskArgs,
    PipelineTool,
    SearchBounds,
    app_tools,
    format_hits,
    pipeline_tools,
)
from langchain_zilliz_bailian.bailian.settings import AppSettings
from langchain_zilliz_bailian.errors import InvalidInputError
from langchain_zilliz_bailian.zilliz.connection import ZillizConnection
from langchain_zilliz_bailian.zilliz.retrieval import RetrievalSession

__all__ = ["BailianAppToolSpec", "ZillizPipelineToolSpec"]

_ASYNC = "__async"


@dataclass(frozen=True)
class _Function:
    """One tool of a spec: what the model is told and the two callables that answer it."""

    metadata: ToolMetadata
    sync: Callable[..., str]
    async_: Callable[..., Awaitable[str]]


class _FunctionsByName(BaseToolSpec):
    """A spec whose functions are made per instance and found by their tool names.

    ``to_tool_list`` asks :meth:`_functions` for them afresh (so an app tool's session belongs
    to the tools of one list) and resolves each name of ``spec_functions`` through
    ``__getattr__``.
    """

    _current: dict[str, _Function]

    def _functions(self) -> list[_Function]:
        raise NotImplementedError

    def to_tool_list(
        self,
        spec_functions: list[SPEC_FUNCTION_TYPE] | None = None,
        func_to_metadata_mapping: dict[str, ToolMetadata] | None = None,
    ) -> list[FunctionTool]:
        """One ``FunctionTool`` a pipeline or app (sync and native async)."""
        self._current = {f.metadata.name: f for f in self._functions() if f.metadata.name}
        return super().to_tool_list(spec_functions, func_to_metadata_mapping)

    @property
    def spec_functions(self) -> list[SPEC_FUNCTION_TYPE]:  # type: ignore[override]
        """Each tool's name with its async twin's (known once ``to_tool_list`` made them)."""
        return [(name, name + _ASYNC) for name in self.__dict__.get("_current", {})]

    def get_metadata_from_fn_name(
        self, fn_name: str, spec_functions: list[SPEC_FUNCTION_TYPE] | None = None
    ) -> ToolMetadata | None:
        function = self.__dict__.get("_current", {}).get(fn_name)
        return None if function is None else function.metadata

    def __getattr__(self, name: str) -> Any:
        current = self.__dict__.get("_current", {})
        function = current.get(name.removesuffix(_ASYNC))
        if function is None:
            raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")
        return function.async_ if name.endswith(_ASYNC) else function.sync


def _metadata(name: str, description: str, schema: type[BaseModel]) -> ToolMetadata:
    return ToolMetadata(name=name, description=description, fn_schema=schema)


class ZillizPipelineToolSpec(_FunctionsByName, Closeable):
    """A search tool per Zilliz pipeline, for LlamaIndex agents.

    Example:
        .. code-block:: python

            tools = ZillizPipelineToolSpec(["pipe-..."]).to_tool_list()
            agent = FunctionAgent(tools=tools, llm=llm)

    ``connection`` is :class:`~langchain_zilliz_bailian.zilliz.connection.ZillizConnection`
    (``api_key`` / ``ZILLIZ_CLOUD_API_KEY``, ``base_url`` / ``ZILLIZ_PIPELINES_BASE_URL``, ...);
    everything is checked here, before any request. Each pipeline is described once, on the
    first ``to_tool_list``.
    """

    def __init__(
        self,
        pipeline_ids: Sequence[str],
        *,
        k: int = DEFAULT_K,
        max_k: int = DEFAULT_MAX_K,
        output_fields: Sequence[str] | None = None,
        **connection: Unpack[ZillizConnection],
    ) -> None:
        if isinstance(pipeline_ids, str) or not pipeline_ids:
            raise InvalidInputError("pipeline_ids must be a non-empty list of pipeline ids.")
        self.pipeline_ids = [check_id("pipeline_id", pid) for pid in pipeline_ids]
        self.bounds = SearchBounds(k, max_k)
        self.output_fields = None if output_fields is None else list(output_fields)
        self._session = RetrievalSession(**connection)

    def _functions(self) -> list[_Function]:
        specs = pipeline_tools(
            self._session, self.pipeline_ids, self.bounds, output_fields=self.output_fields
        )
        return [self._function(spec) for spec in specs]

    def _function(self, spec: PipelineTool) -> _Function:
        session = self._session

        def search(query: str, filter: str | None = None, k: int | None = None) -> str:
            return format_hits(session.search(spec.request(query, filter, k)))

        async def asearch(query: str, filter: str | None = None, k: int | None = None) -> str:
            return format_hits(await session.asearch(spec.request(query, filter, k)))

        return _Function(_metadata(spec.name, spec.description, spec.args), search, asearch)

    def close(self) -> None:
        """Close the connection pools (reopened on demand)."""
        self._session.close()

    async def aclose(self) -> None:
        """Close the pools, the current event loop's async one included."""
        await self._session.aclose()


class BailianAppToolSpec(_FunctionsByName, Closeable):
    """A question tool per Bailian app, for LlamaIndex agents.

    Example:
        .. code-block:: python

            spec = BailianAppToolSpec(["app-id"], descriptions={"app-id": "HR policies."})
            agent = FunctionAgent(tools=spec.to_tool_list(), llm=llm)

    ``settings`` are the app settings ``BailianAppLLM`` takes (``api_key`` /
    ``DASHSCOPE_API_KEY``, ``base_url`` / ``DASHSCOPE_HTTP_BASE_URL``, ``workspace``,
    ``rag_options``, ``timeout``, ...), for every app; checked here, before any request. Tools
    are named ``ask_<name or app id>``. With ``keep_sessions=True`` each tool of a
    ``to_tool_list`` continues its own session across calls.
    """

    def __init__(
        self,
        app_ids: Sequence[str],
        *,
        names: Mapping[str, str] | None = None,
        descriptions: Mapping[str, str] | None = None,
        keep_sessions: bool = False,
        **settings: Any,
    ) -> None:
        if isinstance(app_ids, str) or not app_ids:
            raise InvalidInputError("app_ids must be a non-empty list of app ids.")
        self.apps = [AppSettings(app_id=app_id, **settings) for app_id in app_ids]
        self.names, self.descriptions = dict(names or {}), dict(descriptions or {})
        self.keep_sessions = keep_sessions
        self._specs()  # names and descriptions checked now

    def _specs(self) -> list[AppTool]:
        return app_tools(
            self.apps,
            descriptions=self.descriptions,
            names=self.names,
            keep_sessions=self.keep_sessions,
        )

    def _functions(self) -> list[_Function]:
        return [self._function(spec) for spec in self._specs()]

    @staticmethod
    def _function(spec: AppTool) -> _Function:
        conversation = spec.conversation()

        def ask(question: str, session_id: str | None = None) -> str:
            return conversation.ask(question, session_id)[0]

        async def aask(question: str, session_id: str | None = None) -> str:
            return (await conversation.aask(question, session_id))[0]

        return _Function(_metadata(spec.name, spec.description, AskArgs), ask, aask)

    def close(self) -> None:
        """Close every app's connection pool (reopened on demand)."""
        for app in self.apps:
            app.close()

    async def aclose(self) -> None:
        """Close the pools, the current event loop's async ones included."""
        for app in self.apps:
            await app.aclose()
