"""The LangChain half: ``ZillizPipelineRetriever`` | prompt | ``ChatBailianApp``, streamed.

An LCEL chain; a callback handler times the retrieval step inside it, and the answer's deltas are
printed as they arrive, then the app's cited sources and token usage.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any
from uuid import UUID

import httpx
from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.documents import Document
from langchain_core.messages import AIMessage, AIMessageChunk
from langchain_core.prompts import ChatPromptTemplate
from langchain_core.runnables import (
    Runnable,
    RunnableLambda,
    RunnableParallel,
    RunnablePassthrough,
)

from langchain_zilliz_bailian.chat_models import ChatBailianApp
from langchain_zilliz_bailian.demo.answers import (
    AnswerReport,
    print_citations,
    print_hit,
    print_usage,
    stream_to,
)
from langchain_zilliz_bailian.demo.endpoints import Endpoints
from langchain_zilliz_bailian.demo.render import Printer
from langchain_zilliz_bailian.retrievers import ZillizPipelineRetriever

TOP_K = 4
SYSTEM_PROMPT = (
    "Answer the question from this documentation only, citing the passages you use.\n\n{context}"
)


class RetrievalTimer(BaseCallbackHandler):
    """Records when the chain's retriever starts and ends, and what it returned."""

    def __init__(self) -> None:
        self.started: float | None = None
        self.seconds = 0.0
        self.documents: list[Document] = []

    def on_retriever_start(
        self,
        serialized: dict[str, Any],
        query: str,
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        **kwargs: Any,
    ) -> None:
        self.started = time.perf_counter()

    def on_retriever_end(
        self,
        documents: Any,
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        **kwargs: Any,
    ) -> None:
        if self.started is not None:
            self.seconds = time.perf_counter() - self.started
        self.documents = list(documents)


def format_docs(documents: list[Document]) -> str:
    """The retrieved chunks as context: ``[doc_name] text``, blank-line separated."""
    return "\n\n".join(
        f"[{doc.metadata.get('doc_name', '?')}] {doc.page_content}" for doc in documents
    )


def build_components(
    endpoints: Endpoints, search_pipeline_id: str, zilliz_http: httpx.Client
) -> tuple[ZillizPipelineRetriever, ChatBailianApp]:
    """The retriever (on the shared Zilliz pool) over the demo's search pipeline, and the app."""
    retriever = ZillizPipelineRetriever(
        pipeline_id=search_pipeline_id,
        api_key=endpoints.zilliz_api_key,
        base_url=endpoints.zilliz_base_url,
        k=TOP_K,
        output_fields=["topic"],
        http_client=zilliz_http,
    )
    app_args: dict[str, Any] = {"app_id": endpoints.app_id, "api_key": endpoints.bailian_api_key}
    if endpoints.bailian_base_url is not None:
        app_args["base_url"] = endpoints.bailian_base_url
    if endpoints.app_uses_pipeline:
        app_args["rag_options"] = {"pipeline_ids": [search_pipeline_id]}
    return retriever, ChatBailianApp(**app_args)


def build_chain(
    retriever: ZillizPipelineRetriever, app: ChatBailianApp
) -> Runnable[str, AIMessage]:
    """``{context: retriever | format_docs, question} | prompt | app``; streams message chunks."""
    prompt = ChatPromptTemplate.from_messages([("system", SYSTEM_PROMPT), ("human", "{question}")])
    inputs: Runnable[str, dict[str, Any]] = RunnableParallel(
        context=retriever | RunnableLambda(format_docs), question=RunnablePassthrough()
    )
    return inputs | prompt | app


def run_langchain(
    question: str,
    endpoints: Endpoints,
    search_pipeline_id: str,
    zilliz_http: httpx.Client,
    printer: Printer,
) -> AnswerReport:
    """Stream the chain's answer to ``printer``, then print its sources and token usage."""
    retriever, app = build_components(endpoints, search_pipeline_id, zilliz_http)
    timer = RetrievalTimer()
    report = AnswerReport()
    chunks: list[AIMessageChunk] = []

    def deltas() -> Iterator[str]:
        for chunk in build_chain(retriever, app).stream(question, config={"callbacks": [timer]}):
            if isinstance(chunk, AIMessageChunk):
                chunks.append(chunk)
            yield chunk.text

    printer.line(f"Q: {question}")
    try:
        stream_to(printer, deltas(), report, time.perf_counter())
    finally:
        app.client.close()
    report.retrieval_seconds = timer.seconds
    printer.line(f"Retrieved into the prompt (top {TOP_K}):")
    for doc in timer.documents:
        distance = float(doc.metadata.get("distance", 0.0))
        report.retrieved.append(print_hit(printer, distance, doc.metadata, doc.page_content))
    _read_metadata(chunks, report)
    print_citations(printer, report)
    print_usage(printer, report)
    return report


def _read_metadata(chunks: list[AIMessageChunk], report: AnswerReport) -> None:
    """Sources and usage from the merged chunks (the last one carries them)."""
    if not chunks:
        return
    message = chunks[0]
    for chunk in chunks[1:]:
        message = message + chunk
    report.sources = list(message.response_metadata.get("doc_references") or [])
    usage = message.usage_metadata
    if usage is not None:
        report.set_usage(usage["input_tokens"], usage["output_tokens"], usage["total_tokens"])
