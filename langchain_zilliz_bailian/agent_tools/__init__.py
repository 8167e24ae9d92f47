"""What an agent's tools over pipelines and apps are, framework-free.

LangChain's ``ZillizBailianToolkit`` and LlamaIndex's ``ZillizPipelineToolSpec`` /
``BailianAppToolSpec`` only wrap these: :mod:`.names` makes tool names the tool-calling APIs
accept, :mod:`.search` describes a search pipeline into a tool (name, description, argument
schema, formatted hits) and :mod:`.asking` turns an app into a question tool that may keep its
session.
"""

from __future__ import annotations

from langchain_zilliz_bailian.agent_tools.asking import (
    AppConversation,
    AppTool,
    AskArgs,
    app_tools,
    format_answer,
)
from langchain_zilliz_bailian.agent_tools.names import tool_name, unique_names
from langchain_zilliz_bailian.agent_tools.search import (
    DEFAULT_K,
    DEFAULT_MAX_K,
    PipelineTool,
    SearchBounds,
    apipeline_tools,
    format_hits,
    pipeline_tools,
    search_args,
)

__all__ = [
    "DEFAULT_K",
    "DEFAULT_MAX_K",
    "AppConversation",
    "AppTool",
    "AskArgs",
    "PipelineTool",
    "SearchBounds",
    "apipeline_tools",
    "app_tools",
    "format_answer",
    "format_hits",
    "pipeline_tools",
    "search_args",
    "tool_name",
    "unique_names",
]
