"""The demo's command-line options (plain argparse: importing this costs nothing)."""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

DEFAULT_QUESTION = "Which requests are retried, and how long does the client wait between retries?"
DEFAULT_SECOND_QUESTION = "How do I stream a RetrieverQueryEngine answer with BailianAppLLM?"


@dataclass(frozen=True)
class DemoOptions:
    """What one demo run does: its two questions, where it runs and where it keeps state."""

    question: str = DEFAULT_QUESTION
    second_question: str = DEFAULT_SECOND_QUESTION
    live: bool = False
    data_dir: Path | None = None
    stream_interval_ms: int = 5


def add_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Add the demo's flags to ``parser`` (the ``demo`` subcommand or a standalone parser)."""
    parser.add_argument(
        "--question", default=DEFAULT_QUESTION, help="question for the LangChain chain"
    )
    parser.add_argument(
        "--second-question",
        default=DEFAULT_SECOND_QUESTION,
        help="question for the LlamaIndex query engine",
    )
    parser.add_argument(
        "--live",
        action="store_true",
        help="use the real Zilliz and DashScope endpoints from the environment instead of the "
        "local server",
    )
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=None,
        help="keep the local server's state here (default: a fresh temporary directory per run)",
    )
    parser.add_argument(
        "--stream-interval-ms",
        type=int,
        default=5,
        help="pause between the local app's stream events",
    )
    return parser


def options_from_args(args: argparse.Namespace) -> DemoOptions:
    """The options parsed by a parser built with :func:`add_arguments`."""
    return DemoOptions(
        question=args.question,
        second_question=args.second_question,
        live=args.live,
        data_dir=args.data_dir,
        stream_interval_ms=args.stream_interval_ms,
    )
