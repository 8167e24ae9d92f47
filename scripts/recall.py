"""Recall@k of the search pipeline over the demo corpus, on the local server (offline).

Each question below was written by hand and labelled with the corpus document that answers it
(and the phrase that does). A question is a hit when that document holds one of the top ``k``
chunks the SEARCH_DOC_CHUNK pipeline returns. Run: ``python scripts/recall.py [--k 4]``;
``--embedder module:callable`` measures another embedder than the default lexical one.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import tempfile
from dataclasses import dataclass

from langchain_zilliz_bailian.demo.corpus import corpus_files, corpus_names
from langchain_zilliz_bailian.demo.endpoints import local_endpoints
from langchain_zilliz_bailian.demo.ingest import ensure_pipelines, ingest_corpus, zilliz_client
from langchain_zilliz_bailian.server import LocalServer


@dataclass(frozen=True)
class Labelled:
    """A question, the document that answers it and the answering phrase (for readers)."""

    question: str
    doc_name: str
    phrase: str


QUESTIONS = [
    Labelled(
        "What does the retriever put in a Document's metadata for each hit?",
        "retriever.md",
        "the hit id, its distance and any preserved fields",
    ),
    Labelled(
        "How many documents does the LangChain retriever return by default?",
        "retriever.md",
        "k documents, four by default",
    ),
    Labelled(
        "How can I avoid the describe call the retriever makes before searching?",
        "retriever.md",
        "Set content_field to skip that describe call",
    ),
    Labelled(
        "How do I upload local files into an ingestion pipeline from LangChain?",
        "loader.md",
        "Local files are uploaded with a multipart run_ingestion_with_file request",
    ),
    Labelled(
        "What happens when ingestion fails halfway through a batch?",
        "loader.md",
        "the loader raises PartialBatchError",
    ),
    Labelled(
        "How many ingestion requests does the async loader keep in flight?",
        "loader.md",
        "up to max_concurrency requests in flight, four by default",
    ),
    Labelled(
        "Where do I find the documents an app cited in its answer?",
        "chat_app.md",
        "response_metadata with ... doc_references",
    ),
    Labelled(
        "How are stop sequences handled when the app has no stop parameter?",
        "chat_app.md",
        "stop sequences are applied on the client side",
    ),
    Labelled(
        "What changes about the sent messages when I pass a session id?",
        "chat_app.md",
        "only the last human turn is sent",
    ),
    Labelled(
        "How are LlamaIndex metadata filters turned into a Milvus expression?",
        "llama_index.md",
        "translates them into a Milvus expression, ANDed with the plain filter string",
    ),
    Labelled(
        "What is the default context window of BailianAppLLM in LlamaIndex?",
        "llama_index.md",
        "context_window defaults to 32768 tokens",
    ),
    Labelled(
        "Which field types can a PRESERVE function store?",
        "pipelines.md",
        "Bool, Int8, Int16, Int32, Int64, Float, Double or VarChar",
    ),
    Labelled(
        "How many tokens fit in one chunk when a document is split?",
        "pipelines.md",
        "at most 500 tokens by default",
    ),
    Labelled(
        "Why must I create the search and deletion pipelines myself?",
        "pipelines.md",
        "The REST API never creates companion pipelines for you",
    ),
    Labelled(
        "Does the offline embedder need a model download or torch?",
        "local_server.md",
        "It needs no model download and no torch",
    ),
    Labelled(
        "What does the built-in app reply when no knowledge base is configured?",
        "local_server.md",
        "Without any pipeline the app echoes the prompt",
    ),
    Labelled(
        "How can I simulate throttling and dropped connections locally?",
        "local_server.md",
        "Fault injection can add latency, random 429 or 500 answers ... dropped connections",
    ),
    Labelled(
        "Which port and key does the serve command use by default?",
        "local_server.md",
        "port 8765 and expects the key local-dev-key",
    ),
    Labelled(
        "Which error tells me my input was rejected before anything was sent?",
        "errors_retries.md",
        "InvalidInputError means bad input was caught before any request was sent",
    ),
    Labelled(
        "Why is an ingestion that timed out not sent again?",
        "errors_retries.md",
        "A write that timed out may already be stored, so it is never repeated",
    ),
    Labelled(
        "How long may a Bailian stream stay silent before the read times out?",
        "errors_retries.md",
        "the Bailian read timeout is 200 seconds, the longest silence allowed",
    ),
    Labelled(
        "How do I use the Singapore region of DashScope?",
        "configuration.md",
        "the international Singapore host is available as INTL_BASE_URL",
    ),
    Labelled(
        "Are HTTPS_PROXY and NO_PROXY honoured by the HTTP client?",
        "configuration.md",
        "The default connection pools keep HTTP_PROXY, HTTPS_PROXY and NO_PROXY working",
    ),
    Labelled(
        "What does the final chunk of a LangChain stream carry?",
        "streaming.md",
        "A last chunk with empty content ... carries the response_metadata ... usage_metadata",
    ),
    Labelled(
        "What error do I get when an event stream stops before its final event?",
        "streaming.md",
        "a stream that ends without it raises StreamInterruptedError",
    ),
    Labelled(
        "Which optional extras can I install and what do they add?",
        "overview.md",
        "The langchain extra adds langchain-core and tqdm, the llama-index extra ...",
    ),
    Labelled(
        "Can the error classes be imported without LangChain installed?",
        "overview.md",
        "The framework-free clients and the error classes import without LangChain",
    ),
]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--k", type=int, default=4, help="hits per question (default 4)")
    parser.add_argument(
        "--embedder", default=None, help="'module:callable' embedder (default: lexical)"
    )
    parser.add_argument("--verbose", action="store_true", help="print every question's hits")
    return parser.parse_args(argv)


def rank_of(item: Labelled, ranked: list[str]) -> int | None:
    """1-based rank of the first chunk from the labelled document, or None."""
    return ranked.index(item.doc_name) + 1 if item.doc_name in ranked else None


def search_all(k: int, embedder: str | None, verbose: bool) -> list[tuple[Labelled, list[str]]]:
    """Ingest the corpus on a fresh local server; the top-k doc names of every question."""
    results = []
    with contextlib.ExitStack() as stack:
        data_dir = stack.enter_context(tempfile.TemporaryDirectory(prefix="zb-recall-"))
        server = stack.enter_context(LocalServer(data_dir=data_dir, embedder=embedder))
        endpoints = local_endpoints(server.url, server.bailian_base_url, server.api_key)
        client = stack.enter_context(zilliz_client(endpoints))
        pipelines = ensure_pipelines(client, endpoints)
        with corpus_files() as files:
            ingest_corpus(pipelines, files, endpoints, client.http.client)
        for item in QUESTIONS:
            hits = client.search(pipelines.search.pipeline_id, item.question, limit=k).hits
            ranked = [str(hit.fields.get("doc_name")) for hit in hits]
            if verbose:
                print(f"{item.question}\n    -> {ranked}")
            results.append((item, ranked))
    return results


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    names = set(corpus_names())
    unknown = sorted({q.doc_name for q in QUESTIONS} - names)
    if unknown:
        print(f"labels name documents not in the corpus: {unknown}", file=sys.stderr)
        return 2
    results = search_all(args.k, args.embedder, args.verbose)
    ranks = [rank_of(item, ranked) for item, ranked in results]
    n = len(QUESTIONS)
    found = sum(rank is not None for rank in ranks)
    first = sum(rank == 1 for rank in ranks)
    mrr = sum(1 / rank for rank in ranks if rank is not None) / n
    print(
        f"recall@{args.k} = {found}/{n} = {found / n:.3f}  (recall@1 = {first}/{n} = "
        f"{first / n:.3f}, MRR@{args.k} = {mrr:.3f}) over {len(names)} documents, "
        f"embedder {args.embedder or 'lexical (default)'}"
    )
    for (item, ranked), rank in zip(results, ranks, strict=True):
        if rank is None:
            print(f"  miss: {item.question}\n        wanted {item.doc_name}, got {ranked}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
