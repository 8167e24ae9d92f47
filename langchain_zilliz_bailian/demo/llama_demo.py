"""The LlamaIndex half: ``RetrieverQueryEngine`` over ``ZillizPipelineRetriever`` and
``BailianAppLLM``, streaming, with its source nodes.

An instrumentation handler times the retrieval and keeps the LLM's last streamed response, whose
``additional_kwargs`` hold the app's cited references and token usage.
"""

from __future__ import annotations

import time
from typing import Any

import httpx
from llama_index.core.base.llms.types import ChatMessage, ChatResponse, MessageRole
from llama_index.core.base.response.schema import StreamingResponse

# The documented entry point; llama-index-core re-exports it without listing it for mypy.
from llama_index.core.instrumentation import get_dispatcher  # type: ignore[attr-defined]
from llama_index.core.instrumentation.event_handlers import BaseEventHandler
from llama_index.core.instrumentation.events import BaseEvent
from llama_index.core.instrumentation.events.llm import LLMChatEndEvent
from llama_index.core.instrumentation.events.retrieval import (
    RetrievalEndEvent,
    RetrievalStartEvent,
)
from llama_index.core.prompts import ChatPromptTemplate
from llama_index.core.query_engine import RetrieverQueryEngine
from llama_index.core.schema import NodeWithScore

from langchain_zilliz_bailian.demo.answers import (
    AnswerReport,
    print_citations,
    print_hit,
    print_usage,
    stream_to,
)
from langchain_zilliz_bailian.demo.endpoints import Endpoints
from langchain_zilliz_bailian.demo.render import Printer
from llama_index_ext import BailianAppLLM, ZillizPipelineRetriever

TOP_K = 4
#: The context goes in the system turn, the question alone in the user turn: the app searches
#: its knowledge base with the user turn, so it must not be buried under the context.
QA_TEMPLATE = ChatPromptTemplate(
    message_templates=[
        ChatMessage(
            role=MessageRole.SYSTEM,
            content="Answer the question from this documentation only, citing the passages you "
            "use.\n\n{context_str}",
        ),
        ChatMessage(role=MessageRole.USER, content="{query_str}"),
    ]
)


class QueryEvents(BaseEventHandler):
    """Times retrieval and keeps the LLM's final response from the instrumentation events."""

    retrieval_started: float | None = None
    retrieval_seconds: float = 0.0
    last_response: ChatResponse | None = None

    @classmethod
    def class_name(cls) -> str:
        return "ZillizBailianDemoEvents"

    def handle(self, event: BaseEvent, **kwargs: Any) -> None:
        if isinstance(event, RetrievalStartEvent):
            self.retrieval_started = time.perf_counter()
        elif isinstance(event, RetrievalEndEvent) and self.retrieval_started is not None:
            self.retrieval_seconds = time.perf_counter() - self.retrieval_started
        elif isinstance(event, LLMChatEndEvent) and event.response is not None:
            self.last_response = event.response


def build_engine(
    endpoints: Endpoints, search_pipeline_id: str, zilliz_http: httpx.Client
) -> tuple[RetrieverQueryEngine, BailianAppLLM]:
    """A streaming query engine over the demo's search pipeline, and its LLM (to close it)."""
    retriever = ZillizPipelineRetriever(
        search_pipeline_id,
        api_key=endpoints.zilliz_api_key,
        base_url=endpoints.zilliz_base_url,
        similarity_top_k=TOP_K,
        output_fields=["topic"],
        http_client=zilliz_http,
    )
    llm_args: dict[str, Any] = {"app_id": endpoints.app_id, "api_key": endpoints.bailian_api_key}
    if endpoints.bailian_base_url is not None:
        llm_args["base_url"] = endpoints.bailian_base_url
    if endpoints.app_uses_pipeline:
        llm_args["rag_options"] = {"pipeline_ids": [search_pipeline_id]}
    llm = BailianAppLLM(**llm_args)
    engine = RetrieverQueryEngine.from_args(
        retriever, llm=llm, streaming=True, text_qa_template=QA_TEMPLATE
    )
    return engine, llm


def run_llama_index(
    question: str,
    endpoints: Endpoints,
    search_pipeline_id: str,
    zilliz_http: httpx.Client,
    printer: Printer,
) -> AnswerReport:
    """Stream the engine's answer to ``printer``, then print its source nodes and usage."""
    engine, llm = build_engine(endpoints, search_pipeline_id, zilliz_http)
    events = QueryEvents()
    dispatcher = get_dispatcher()
    dispatcher.add_event_handler(events)
    report = AnswerReport()
    printer.line(f"Q: {question}")
    try:
        begin = time.perf_counter()
        response = engine.query(question)
        if not isinstance(response, StreamingResponse) or response.response_gen is None:
            raise TypeError(f"expected a streaming response, got {type(response).__name__}")
        stream_to(printer, response.response_gen, report, begin)
    finally:
        dispatcher.event_handlers.remove(events)
        llm.close()
    report.retrieval_seconds = events.retrieval_seconds
    print_source_nodes(printer, response.source_nodes, report)
    if events.last_response is not None:
        _read_metadata(events.last_response.additional_kwargs, report)
    print_citations(printer, report)
    print_usage(printer, report)
    return report


def _read_metadata(metadata: dict[str, Any], report: AnswerReport) -> None:
    """Sources and usage from the last streamed response's ``additional_kwargs``."""
    report.sources = list(metadata.get("doc_references") or [])
    usage = metadata.get("usage") or {}
    if usage:
        report.set_usage(
            int(usage["input_tokens"]), int(usage["output_tokens"]), int(usage["total_tokens"])
        )


def print_source_nodes(printer: Printer, nodes: list[NodeWithScore], report: AnswerReport) -> None:
    """The nodes the engine retrieved: score, document, section title and topic."""
    printer.line(f"Source nodes (top {TOP_K}):")
    for scored in nodes:
        node = scored.node
        report.retrieved.append(
            print_hit(printer, scored.score or 0.0, node.metadata, node.get_content())
        )
