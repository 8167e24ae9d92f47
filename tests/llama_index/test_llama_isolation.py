"""``import llama_index_ext`` works without LangChain: checked in a fresh interpreter."""

from __future__ import annotations

import subprocess
import sys
import textwrap

from tests.conftest import ROOT


def run(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
        check=False,
    )


def test_importing_the_package_never_imports_langchain():
    result = run(
        """
        import sys
        from llama_index_ext import BailianAppLLM, ZillizPipelineReader, ZillizPipelineRetriever
        BailianAppLLM(app_id="app1", api_key="k")
        ZillizPipelineRetriever("pipe-0123456789abcdef012345", api_key="k")
        ZillizPipelineReader("pipe-0123456789abcdef012345", api_key="k")
        leaked = sorted(m for m in sys.modules if m.split(".")[0] in ("langchain_core", "langchain"))
        print(leaked)
        """
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_it_works_when_langchain_cannot_be_imported():
    result = run(
        """
        import sys
        sys.modules["langchain_core"] = None  # any import of it now raises ImportError
        sys.modules["langchain"] = None
        import llama_index_ext
        from llama_index_ext import BailianAppLLM, ZillizPipelineReader, ZillizPipelineRetriever
        print(sorted(llama_index_ext.__all__))
        """
    )
    assert result.returncode == 0, result.stderr
    assert "BailianAppLLM" in result.stdout


def test_the_sessions_both_frameworks_share_import_neither_framework():
    """The framework-free core the shims run on (issue 9): retrieval, ingestion, app settings."""
    result = run(
        """
        import sys
        for blocked in ("langchain_core", "langchain", "llama_index"):
            sys.modules[blocked] = None  # importing it now raises ImportError
        from langchain_zilliz_bailian.bailian.settings import AppSettings
        from langchain_zilliz_bailian.zilliz.ingestion_session import IngestionSession
        from langchain_zilliz_bailian.zilliz.retrieval import RetrievalSession
        RetrievalSession(api_key="k").client
        IngestionSession("pipe-0123456789abcdef012345", api_key="k")
        AppSettings(app_id="app1", api_key="k").client
        print("ok")
        """
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"
