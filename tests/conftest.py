"""Shared test configuration: VCR cassettes under ``cassettes/`` and the local compatible server.

Cassettes replay with ``record_mode=none`` (pytest-recording's default; nothing here overrides the
command line), are matched on method, path, query and body (never on host and port, so a cassette
recorded against the local server on a random port replays anywhere), and never hold credentials.
``make cassettes`` re-records them with ``--record-mode=rewrite`` against the local server.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import pytest

#: Fixtures shared by the Bailian suites (core client and LangChain models alike).
pytest_plugins = ["tests.fakes.bailian_fixtures"]

ROOT = Path(__file__).resolve().parent.parent
CASSETTES = ROOT / "cassettes"

#: Where anything that falls back to a default state dir lands during the run (set before any test
#: or subprocess starts): never the user's cache dir, which ``zilliz-bailian serve`` uses.
SANDBOX = Path(tempfile.mkdtemp(prefix="zb-tests-"))
os.environ["ZILLIZ_BAILIAN_DATA_DIR"] = str(SANDBOX / "server")
os.environ["XDG_CACHE_HOME"] = str(SANDBOX / "cache")
os.environ["XDG_DATA_HOME"] = str(SANDBOX / "data")


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    shutil.rmtree(SANDBOX, ignore_errors=True)


#: Headers that identify an account or carry a credential; replaced in every cassette.
FILTERED_HEADERS = [
    ("authorization", "PLACEHOLDER"),
    ("x-dashscope-workspace", "PLACEHOLDER"),
    ("x-api-key", "PLACEHOLDER"),
    ("api-key", "PLACEHOLDER"),
]


def _scrub_response(response: dict[str, Any]) -> dict[str, Any]:
    headers = response.get("headers", {})
    for name in list(headers):
        if name.lower() in ("set-cookie", "authorization"):
            headers.pop(name)
    return response


@pytest.fixture(scope="session")
def vcr_config() -> dict[str, Any]:
    return {
        "filter_headers": FILTERED_HEADERS,
        "match_on": ["method", "path", "query", "body"],
        "decode_compressed_response": True,
        "allow_playback_repeats": False,
        "before_record_response": _scrub_response,
    }


@pytest.fixture(scope="module")
def vcr_cassette_dir(request: pytest.FixtureRequest) -> str:
    """``cassettes/<test module>/``, independent of the working directory."""
    module = request.node.fspath.purebasename if hasattr(request.node, "fspath") else "misc"
    return str(CASSETTES / module)


def recording(request: pytest.FixtureRequest) -> bool:
    """Whether this run records cassettes (``--record-mode`` other than ``none``)."""
    return request.config.getoption("--record-mode") not in (None, "none")


@pytest.fixture(scope="session")
def local_server(tmp_path_factory: pytest.TempPathFactory):
    """The local compatible server (Milvus Lite in a temp dir) on a free loopback port."""
    from langchain_zilliz_bailian.server import LocalServer

    # bge pipelines are served by the default embedder (MiniLM): no model download in tests;
    # the tests (and cassette recordings) use many made-up app ids: the default app answers them.
    with LocalServer(
        data_dir=tmp_path_factory.mktemp("local-server"), embedding_fallback=True, any_app_id=True
    ) as server:
        yield server


#: Where replayed cassette tests point their clients: never contacted, VCR answers first.
REPLAY_URL = "http://127.0.0.1:9"


@pytest.fixture
def recorded_base(request: pytest.FixtureRequest) -> tuple[str, str]:
    """``(base_url, api_key)`` for a cassette test: the live local server while recording,
    an address nobody listens on while replaying (so a missing cassette fails loudly)."""
    if recording(request):
        server = request.getfixturevalue("local_server")
        return server.url, server.api_key
    return REPLAY_URL, "replay-key"
