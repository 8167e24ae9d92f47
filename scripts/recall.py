"""Retrieval quality, indexing throughput and query latency of each embedder (``make recall``).

Two corpora, each searched through a SEARCH_DOC_CHUNK pipeline on a fresh local server (offline):

* **demo**: the project's own demo corpus, with questions its author wrote;
* **stdlib**: docstrings of 30 Python standard-library functions (PSF licence, they ship with
  every Python), one document each, with 20 questions written here in other words than the
  docstrings (e.g. "wipe out a folder and everything inside it" for ``shutil.rmtree``).

A question is a hit at rank r when the labelled document holds the r-th chunk returned; the table
gives recall@1, recall@k and MRR@k per embedder and corpus, plus indexing throughput (chunks per
second through the server: upload, chunking, embedding, insert) and the median search latency
(one HTTP search, embedding included, model already loaded). Run: ``python scripts/recall.py``
(``--embedders lexical,minilm``, ``--k 4``, ``--verbose``).
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import inspect
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass

from langchain_zilliz_bailian.demo.corpus import corpus_files, corpus_names
from langchain_zilliz_bailian.demo.endpoints import local_endpoints
from langchain_zilliz_bailian.demo.ingest import ensure_pipelines, ingest_corpus, zilliz_client
from langchain_zilliz_bailian.server import LocalServer, load_embedder
from langchain_zilliz_bailian.zilliz import ZillizPipelinesClient
from langchain_zilliz_bailian.zilliz.client import PipelineSet

EMBEDDERS = ("lexical", "minilm", "hybrid")


@dataclass(frozen=True)
class Labelled:
    """A question, the document that answers it and the answering phrase (for readers)."""

    question: str
    doc_name: str
    phrase: str


DEMO_QUESTIONS = [
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
        "so it needs no download and no torch",
    ),
    Labelled(
        "How does an app answer when no language model is configured?",
        "local_server.md",
        "Without a model, an app answers offline by quoting whole sentences",
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


#: Standard-library functions whose docstrings form the second corpus (10 are distractors).
STDLIB_FUNCTIONS = (
    "shutil.rmtree", "shutil.copytree", "shutil.which", "heapq.nlargest", "bisect.insort_right",
    "textwrap.dedent", "textwrap.wrap", "json.dumps", "os.makedirs", "tempfile.mkdtemp",
    "random.shuffle", "statistics.median", "itertools.groupby", "functools.lru_cache",
    "zlib.crc32", "glob.glob", "fnmatch.fnmatch", "difflib.get_close_matches", "string.capwords",
    "calendar.isleap", "math.isclose", "uuid.uuid4", "base64.b64encode", "os.path.expanduser",
    "urllib.parse.quote", "time.sleep", "gzip.open", "shlex.split", "secrets.token_hex",
    "getpass.getpass",
)  # fmt: skip
#: Questions in other words than the docstrings (no answering phrase: they paraphrase it).
STDLIB_QUESTIONS = [
    Labelled(q, f"{name}.txt", "")
    for q, name in (
        ("How can I wipe out a folder and everything inside it?", "shutil.rmtree"),
        ("Which call duplicates a whole folder hierarchy somewhere else?", "shutil.copytree"),
        ("How do I find where a program is installed on this machine?", "shutil.which"),
        ("What gives me the biggest few items of a collection?", "heapq.nlargest"),
        ("How do I add a value to an ordered list so it stays in order?", "bisect.insort_right"),
        ("How can I strip the indentation shared by all lines of a string?", "textwrap.dedent"),
        ("How do I turn a dictionary into text I can send to a web API?", "json.dumps"),
        ("How do I get a private scratch folder that other users cannot open?", "tempfile.mkdtemp"),
        ("How do I put the items of a list in an unpredictable order?", "random.shuffle"),
        ("What is the central value of a list of measurements?", "statistics.median"),
        ("How do I remember the results of a slow function so repeated calls are instant?",
         "functools.lru_cache"),
        ("How do I compute a quick integrity code to spot corrupted bytes?", "zlib.crc32"),
        ("How do I list every file in a directory whose name ends in .txt?", "glob.glob"),
        ("How can I suggest the right spelling when someone mistypes a command?",
         "difflib.get_close_matches"),
        ("How do I make the first letter of every word uppercase?", "string.capwords"),
        ("Does February have 29 days in a given year?", "calendar.isleap"),
        ("How do I compare two decimals while tolerating rounding errors?", "math.isclose"),
        ("How can I ask the user for a secret without showing what they type?",
         "getpass.getpass"),
        ("How do I make my program wait for a while before continuing?", "time.sleep"),
        ("How do I break a command line into arguments the way a terminal would?",
         "shlex.split"),
    )
]  # fmt: skip


@dataclass(frozen=True)
class Corpus:
    """Documents (name, text) and the labelled questions over them."""

    name: str
    questions: list[Labelled]


@dataclass
class Measured:
    """One embedder on one corpus: ranks of the questions and the timings."""

    embedder: str
    corpus: str
    ranks: list[int | None]
    chunks: int
    ingest_s: float
    latencies_ms: list[float]

    def recall_at(self, k: int) -> float:
        return sum(r is not None and r <= k for r in self.ranks) / len(self.ranks)

    @property
    def mrr(self) -> float:
        return sum(1 / r for r in self.ranks if r is not None) / len(self.ranks)


def stdlib_documents() -> list[tuple[str, str]]:
    """``(file name, docstring)`` of each function in :data:`STDLIB_FUNCTIONS`."""
    documents = []
    for qualified in STDLIB_FUNCTIONS:
        module, _, attr = qualified.rpartition(".")
        doc = inspect.getdoc(getattr(importlib.import_module(module), attr)) or ""
        documents.append((f"{qualified}.txt", doc))
    return documents


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--k", type=int, default=4, help="hits per question (default 4)")
    parser.add_argument(
        "--embedders",
        default=",".join(EMBEDDERS),
        help=f"comma-separated --embedder values (default {','.join(EMBEDDERS)})",
    )
    parser.add_argument("--verbose", action="store_true", help="print every question's hits")
    return parser.parse_args(argv)


def rank_of(item: Labelled, ranked: list[str]) -> int | None:
    """1-based rank of the first chunk from the labelled document, or None."""
    return ranked.index(item.doc_name) + 1 if item.doc_name in ranked else None


def ask(
    client: ZillizPipelinesClient,
    pipelines: PipelineSet,
    questions: Sequence[Labelled],
    k: int,
    verbose: bool,
) -> tuple[list[int | None], list[float]]:
    """Ranks of the labelled documents and each search's latency in ms."""
    ranks, latencies = [], []
    for item in questions:
        begin = time.perf_counter()
        hits = client.search(pipelines.search.pipeline_id, item.question, limit=k).hits
        latencies.append((time.perf_counter() - begin) * 1000)
        ranked = [str(hit.fields.get("doc_name")) for hit in hits]
        if verbose:
            print(f"{item.question}\n    -> {ranked}")
        ranks.append(rank_of(item, ranked))
    return ranks, latencies


def measure(embedder_spec: str, k: int, verbose: bool) -> list[Measured]:
    """Both corpora on one fresh server whose default embedder is ``embedder_spec``."""
    embedder = load_embedder(embedder_spec)
    embedder.embed(["warm up"])  # load the model before anything is timed
    results = []
    with contextlib.ExitStack() as stack:
        data_dir = stack.enter_context(tempfile.TemporaryDirectory(prefix="zb-recall-"))
        server = stack.enter_context(
            LocalServer(data_dir=data_dir, embedder=embedder, embedding_fallback=True)
        )
        endpoints = local_endpoints(server.url, server.bailian_base_url, server.api_key)
        client = stack.enter_context(zilliz_client(endpoints))
        demo = ensure_pipelines(client, endpoints)
        with corpus_files() as files:
            begin = time.perf_counter()
            report = ingest_corpus(demo, files, endpoints, client.http.client)
            ingest_s = time.perf_counter() - begin
        ranks, latencies = ask(client, demo, DEMO_QUESTIONS, k, verbose)
        results.append(
            Measured(embedder_spec, "demo", ranks, report.total_chunks, ingest_s, latencies)
        )
        stdlib = client.create_pipeline_set(
            name="stdlib_docs",
            project_id=endpoints.project_id,
            cluster_id=endpoints.cluster_id,
            collection_name="stdlib_docs",
        )
        begin = time.perf_counter()
        chunks = sum(
            client.ingest_file(
                stdlib.ingestion.pipeline_id, text.encode(), filename=name
            ).num_chunks
            for name, text in stdlib_documents()
        )
        ingest_s = time.perf_counter() - begin
        ranks, latencies = ask(client, stdlib, STDLIB_QUESTIONS, k, verbose)
        results.append(Measured(embedder_spec, "stdlib", ranks, chunks, ingest_s, latencies))
    return results


def table(results: list[Measured], k: int) -> str:
    """The Markdown table the README shows."""
    lines = [
        f"| embedder | corpus | questions | recall@1 | recall@{k} | MRR@{k} | indexing "
        "(chunks/s) | search p50 (ms) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for m in results:
        lines.append(
            f"| {m.embedder} | {m.corpus} | {len(m.ranks)} | {m.recall_at(1):.3f} | "
            f"{m.recall_at(k):.3f} | {m.mrr:.3f} | {m.chunks / m.ingest_s:.0f} | "
            f"{statistics.median(m.latencies_ms):.1f} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    unknown = sorted({q.doc_name for q in DEMO_QUESTIONS} - set(corpus_names()))
    unknown += sorted({q.doc_name for q in STDLIB_QUESTIONS} - {n for n, _ in stdlib_documents()})
    if unknown:
        print(f"labels name documents not in the corpora: {unknown}", file=sys.stderr)
        return 2
    results: list[Measured] = []
    for spec in [s.strip() for s in args.embedders.split(",") if s.strip()]:
        results.extend(measure(spec, args.k, args.verbose))
    print(table(results, args.k))
    for m in results:
        questions = DEMO_QUESTIONS if m.corpus == "demo" else STDLIB_QUESTIONS
        for item, rank in zip(questions, m.ranks, strict=True):
            if rank is None:
                print(f"  {m.embedder}/{m.corpus} miss: {item.question} (wanted {item.doc_name})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
