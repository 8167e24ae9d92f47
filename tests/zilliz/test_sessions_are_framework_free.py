"""The sessions both frameworks run on import neither framework (issue 9): checked in a fresh
interpreter where importing LangChain or LlamaIndex fails."""

from __future__ import annotations

import subprocess
import sys
import textwrap

from tests.conftest import ROOT

CORE = [
    "langchain_zilliz_bailian.zilliz.connection",
    "langchain_zilliz_bailian.zilliz.retrieval",
    "langchain_zilliz_bailian.zilliz.ingestion_session",
    "langchain_zilliz_bailian.bailian.settings",
]


def test_the_sessions_work_with_no_framework_importable() -> None:
    code = f"""
        import importlib, sys
        for blocked in ("langchain_core", "langchain", "llama_index"):
            sys.modules[blocked] = None  # importing it now raises ImportError
        for name in {CORE!r}:
            importlib.import_module(name)
        from langchain_zilliz_bailian.bailian.settings import AppSettings
        from langchain_zilliz_bailian.zilliz.ingestion_session import IngestionSession
        from langchain_zilliz_bailian.zilliz.retrieval import RetrievalSession
        RetrievalSession(api_key="k").client
        IngestionSession("pipe-0123456789abcdef012345", api_key="k")
        AppSettings(app_id="app1", api_key="k").client
        print(sorted(m for m in sys.modules if m.split(".")[0] in ("langchain_core", "llama_index")
                     and sys.modules[m] is not None))
    """
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
