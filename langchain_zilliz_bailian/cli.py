"""The ``zilliz-bailian`` command: ``serve`` runs the local compatible server; ``demo`` runs the
end-to-end demo (see :mod:`langchain_zilliz_bailian.demo`).

Every ``serve`` flag also reads an environment variable (``ZILLIZ_BAILIAN_<FLAG>``), e.g.
``ZILLIZ_BAILIAN_API_KEY``; flags win. The default key ``local-dev-key`` is for loopback use only.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from langchain_zilliz_bailian.demo.options import add_arguments as add_demo_arguments

DEFAULT_PORT = 8765
ENV_PREFIX = "ZILLIZ_BAILIAN_"


def _env(name: str, default: str | None = None) -> str | None:
    return os.environ.get(ENV_PREFIX + name, default)


def _ids(value: str | None) -> list[str]:
    return [v.strip() for v in (value or "").split(",") if v.strip()]


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (exposed for tests and docs)."""
    parser = argparse.ArgumentParser(
        prog="zilliz-bailian",
        description="Local compatible server for Zilliz Cloud Pipelines and Bailian apps.",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="run the local compatible server (uvicorn)")
    serve.add_argument("--host", default=_env("HOST", "127.0.0.1"), help="bind address")
    serve.add_argument(
        "--port", type=int, default=int(_env("PORT", str(DEFAULT_PORT)) or DEFAULT_PORT)
    )
    serve.add_argument(
        "--data-dir",
        default=_env("DATA_DIR"),
        help="state directory (Milvus Lite DB, file:// root); default: the user cache dir",
    )
    serve.add_argument(
        "--api-key",
        default=_env("API_KEY", "local-dev-key"),
        help="Bearer key for both APIs (default local-dev-key: loopback use only)",
    )
    serve.add_argument("--milvus-uri", default=_env("MILVUS_URI"), help="remote Milvus/Zilliz URI")
    serve.add_argument("--milvus-token", default=_env("MILVUS_TOKEN"), help="remote Milvus token")
    serve.add_argument(
        "--embedder",
        default=_env("EMBEDDER", "lexical"),
        help="'lexical' (default, offline hashing) or 'module:callable' returning an Embedder",
    )
    serve.add_argument(
        "--default-pipeline-ids",
        default=_env("DEFAULT_PIPELINE_IDS", ""),
        help="comma-separated search pipeline ids used by apps without rag_options.pipeline_ids",
    )
    serve.add_argument(
        "--legacy", action="store_true", help="emit legacy quirk variants (bad token as HTTP 200)"
    )
    serve.add_argument("--stream-interval-ms", type=int, default=5, help="pause between SSE events")
    faults = serve.add_argument_group("fault injection (off by default)")
    faults.add_argument("--fault-latency-ms", type=int, default=0)
    faults.add_argument("--fault-rate-429", type=float, default=0.0)
    faults.add_argument("--fault-rate-500", type=float, default=0.0)
    faults.add_argument("--fault-retry-after", type=int, default=1, help="Retry-After seconds")
    faults.add_argument("--fault-stream-error-after", type=int, default=None, metavar="N")
    faults.add_argument("--fault-drop-after", type=int, default=None, metavar="N")
    faults.add_argument("--fault-seed", type=int, default=None)
    faults.add_argument("--fault-scope", choices=("all", "zilliz", "bailian"), default="all")
    serve.add_argument("--log-level", default="info")
    add_demo_arguments(
        sub.add_parser(
            "demo",
            help="end-to-end demo: pipelines, ingestion, LangChain and LlamaIndex answers "
            "(offline: the local server on loopback)",
        )
    )
    return parser


def serve(args: argparse.Namespace) -> int:
    """Run uvicorn in the foreground until interrupted."""
    try:
        import uvicorn

        from langchain_zilliz_bailian.server import FaultConfig, create_app
    except ImportError as exc:
        print(f"the server needs the [server] extra: {exc}", file=sys.stderr)
        return 2
    faults = FaultConfig(
        latency_ms=args.fault_latency_ms,
        rate_429=args.fault_rate_429,
        rate_500=args.fault_rate_500,
        retry_after_s=args.fault_retry_after,
        stream_error_after=args.fault_stream_error_after,
        drop_after=args.fault_drop_after,
        seed=args.fault_seed,
        scope=args.fault_scope,
    )
    app = create_app(
        data_dir=args.data_dir,
        api_key=args.api_key,
        milvus_uri=args.milvus_uri,
        milvus_token=args.milvus_token,
        embedder=args.embedder,
        default_pipeline_ids=_ids(args.default_pipeline_ids),
        legacy=args.legacy,
        stream_interval_ms=args.stream_interval_ms,
        faults=faults,
    )
    settings = app.state.settings
    print(
        f"zilliz-bailian: serving on http://{args.host}:{args.port} "
        f"(Zilliz base http://{args.host}:{args.port}, Bailian base "
        f"http://{args.host}:{args.port}/api/v1), data dir {settings.data_dir}",
        file=sys.stderr,
    )
    if args.api_key == "local-dev-key" and args.host not in ("127.0.0.1", "localhost", "::1"):
        print("warning: the default API key is meant for loopback use only", file=sys.stderr)
    # One worker: Milvus Lite allows one process per data directory.
    uvicorn.run(app, host=args.host, port=args.port, log_level=args.log_level, workers=1)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``zilliz-bailian`` console script."""
    args = build_parser().parse_args(argv)
    if args.command == "serve":
        return serve(args)
    from langchain_zilliz_bailian.demo.options import options_from_args
    from langchain_zilliz_bailian.demo.runner import run

    return run(options_from_args(args))
