"""The demo from start to finish: endpoints, pipelines, ingestion, two streamed answers, timings.

``main`` is the ``zilliz-bailian demo`` entry point; ``run`` does the work for parsed options and
returns the exit code (0 on success, 1 on a service error, 2 on a setup problem).
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TextIO

from langchain_zilliz_bailian.demo.answers import AnswerReport
from langchain_zilliz_bailian.demo.endpoints import (
    LOCAL_APP_ID,
    Endpoints,
    MissingEnvironmentError,
    live_endpoints,
    local_endpoints,
)
from langchain_zilliz_bailian.demo.options import DemoOptions, add_arguments, options_from_args
from langchain_zilliz_bailian.demo.render import Printer
from langchain_zilliz_bailian.demo.timing import Timings, format_seconds
from langchain_zilliz_bailian.errors import ZillizBailianError


def main(argv: Sequence[str] | None = None, out: TextIO | None = None) -> int:
    """Parse the demo's flags and run it."""
    parser = add_arguments(
        argparse.ArgumentParser(
            prog="zilliz-bailian demo", description="End-to-end demo, offline by default."
        )
    )
    return run(options_from_args(parser.parse_args(argv)), out)


def run(options: DemoOptions, out: TextIO | None = None) -> int:
    """Run the demo, printing to ``out`` (standard output by default); return the exit code."""
    printer = Printer(out if out is not None else sys.stdout)
    try:
        _check_extras(options)
    except ImportError as exc:
        print(f"zilliz-bailian demo: {exc}", file=sys.stderr)
        return 2
    timings = Timings()
    try:
        with _endpoints(options, printer, timings) as endpoints:
            _run_with(options, endpoints, printer, timings)
    except MissingEnvironmentError as exc:
        print(f"zilliz-bailian demo: {exc}", file=sys.stderr)
        return 2
    except ZillizBailianError as exc:
        printer.line()
        print(f"zilliz-bailian demo failed: {_error_name(exc)}: {exc}", file=sys.stderr)
        return 1
    printer.timings(timings)
    return 0


def _error_name(exc: BaseException) -> str:
    """The first public class of ``exc`` (private subclasses mark special cases)."""
    public = next(cls for cls in type(exc).__mro__ if not cls.__name__.startswith("_"))
    return public.__name__


def _check_extras(options: DemoOptions) -> None:
    """Fail early, with the extra to install, when a framework is missing."""
    needed = [("langchain_core", "langchain"), ("llama_index.core", "llama-index")]
    if not options.live:
        needed.append(("uvicorn", "server"))
    for module, extra in needed:
        try:
            __import__(module)
        except ImportError as exc:
            raise ImportError(
                f"the demo needs the [{extra}] extra: pip install "
                f"'langchain-zilliz-bailian[langchain,llama-index,server]' ({exc})"
            ) from exc


@contextlib.contextmanager
def _endpoints(options: DemoOptions, printer: Printer, timings: Timings) -> Iterator[Endpoints]:
    """The live endpoints, or the local server started for the duration of the demo."""
    if options.live:
        endpoints = live_endpoints()
        printer.line(f"zilliz-bailian demo: {endpoints.label}")
        yield endpoints
        return
    from langchain_zilliz_bailian.server import LocalServer

    with contextlib.ExitStack() as stack:
        data_dir = options.data_dir
        if data_dir is None:
            data_dir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="zb-demo-")))
        # The demo's pipelines ask for bge: the bundled default embedder serves them offline.
        server = LocalServer(
            data_dir=data_dir,
            stream_interval_ms=options.stream_interval_ms,
            embedding_fallback=True,
            default_app_id=LOCAL_APP_ID,
        )
        with timings.measure("server start") as step:
            stack.enter_context(server)
        step.detail = "Milvus Lite + uvicorn, in-process"
        endpoints = local_endpoints(server.url, server.bailian_base_url, server.api_key)
        printer.line(f"zilliz-bailian demo: {endpoints.label}")
        printer.line(
            f"[server]    {server.url} started in {format_seconds(step.seconds)} "
            f"(data dir {data_dir})"
        )
        yield endpoints


def _run_with(
    options: DemoOptions, endpoints: Endpoints, printer: Printer, timings: Timings
) -> None:
    """Pipelines, ingestion, then the LangChain and the LlamaIndex answers."""
    from langchain_zilliz_bailian.demo.corpus import corpus_files
    from langchain_zilliz_bailian.demo.ingest import (
        ensure_pipelines,
        ingest_corpus,
        zilliz_client,
    )
    from langchain_zilliz_bailian.demo.langchain_demo import run_langchain
    from langchain_zilliz_bailian.demo.llama_demo import run_llama_index

    with zilliz_client(endpoints) as client:
        with timings.measure("pipeline creation") as step:
            pipelines = ensure_pipelines(client, endpoints)
        step.detail = "reused" if pipelines.extra.get("reused") else "ingestion, search, deletion"
        printer.line(
            f"[pipelines] ingestion {pipelines.ingestion.pipeline_id}, "
            f"search {pipelines.search.pipeline_id}, deletion {pipelines.deletion.pipeline_id} "
            f"({step.detail}, {format_seconds(step.seconds)})"
        )
        zilliz_http = client.http.client
        with corpus_files() as files, timings.measure("ingestion") as step:
            report = ingest_corpus(pipelines, files, endpoints, zilliz_http)
        step.detail = (
            f"{len(report.chunks)} documents, {report.total_chunks} chunks, {report.tokens} tokens"
        )
        printer.line(f"[ingestion] {step.detail} in {format_seconds(step.seconds)}")
        if report.purged_chunks:
            printer.line(f"            replaced {report.purged_chunks} chunks from a previous run")
        for name, chunks in report.chunks.items():
            printer.line(f"            {name}: {chunks} chunks")
        search_id = pipelines.search.pipeline_id

        printer.heading("LangChain: ZillizPipelineRetriever | prompt | ChatBailianApp (streamed)")
        answer = run_langchain(options.question, endpoints, search_id, zilliz_http, printer)
        _add_answer_timings(timings, "LangChain", answer)

        printer.heading(
            "LlamaIndex: RetrieverQueryEngine(ZillizPipelineRetriever, BailianAppLLM) (streamed)"
        )
        answer = run_llama_index(
            options.second_question, endpoints, search_id, zilliz_http, printer
        )
        _add_answer_timings(timings, "LlamaIndex", answer)


def _add_answer_timings(timings: Timings, label: str, answer: AnswerReport) -> None:
    """Retrieval, time to first token and total time of one answer."""
    timings.add(f"{label} retrieval", answer.retrieval_seconds, "search pipeline, top 4")
    timings.add(f"{label} first token", answer.first_token_seconds)
    detail = f"{answer.deltas} deltas"
    if answer.usage:
        detail += f", {answer.usage['input']} in + {answer.usage['output']} out tokens"
    timings.add(f"{label} total", answer.total_seconds, detail)
