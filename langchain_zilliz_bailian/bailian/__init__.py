"""Alibaba Bailian (DashScope) app completion: a framework-free client, its models and streams.

``BailianAppClient(app_id).call(prompt)`` returns an :class:`AppCompletion`;
``client.stream(prompt)`` yields :class:`AppStreamChunk` deltas as the events arrive. The async
twins are ``acall`` and ``astream``. LangChain classes live in ``chat_models`` and ``llms``.
"""

from __future__ import annotations

from langchain_zilliz_bailian.bailian._constants import (
    API_KEY_ENV,
    APP_ID_ENV,
    BASE_URL_ENV,
    DEFAULT_BASE_URL,
    INTL_BASE_URL,
)
from langchain_zilliz_bailian.bailian.assembler import StreamAssembler
from langchain_zilliz_bailian.bailian.cited_answers import (
    Citation,
    CitationParser,
    CitedAnswer,
    NumberedStream,
    parse_citations,
    render_with_sources,
)
from langchain_zilliz_bailian.bailian.client import AppStream, AsyncAppStream, BailianAppClient
from langchain_zilliz_bailian.bailian.models import (
    AppCompletion,
    AppOutput,
    AppResponse,
    AppStreamChunk,
    AppUsage,
    DocReference,
    ModelUsage,
    Thought,
    WorkflowMessage,
    citations,
)
from langchain_zilliz_bailian.bailian.request import AppOptions
from langchain_zilliz_bailian.bailian.stop import StopSequenceFilter, truncate_at_stop
from langchain_zilliz_bailian.errors import CumulativeStreamWarning

__all__ = [
    "API_KEY_ENV",
    "APP_ID_ENV",
    "BASE_URL_ENV",
    "DEFAULT_BASE_URL",
    "INTL_BASE_URL",
    "AppCompletion",
    "AppOptions",
    "AppOutput",
    "AppResponse",
    "AppStream",
    "AppStreamChunk",
    "AppUsage",
    "AsyncAppStream",
    "BailianAppClient",
    "Citation",
    "CitationParser",
    "CitedAnswer",
    "CumulativeStreamWarning",
    "DocReference",
    "ModelUsage",
    "NumberedStream",
    "StopSequenceFilter",
    "StreamAssembler",
    "Thought",
    "WorkflowMessage",
    "citations",
    "parse_citations",
    "render_with_sources",
    "truncate_at_stop",
]
