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
