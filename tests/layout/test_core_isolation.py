"""The core (errors, transport, Zilliz and Bailian clients) imports neither framework.

Checked in a fresh interpreter where importing LangChain or LlamaIndex raises, so a framework
import anywhere under the core fails the test, not just one that happens to run first.
"""

from __future__ import annotations

import pkgutil
import subprocess
import sys
import textwrap

import pytest

import langchain_zilliz_bailian
from tests.conftest import ROOT

#: The framework-free packages and modules (issue 9: the core imports neither framework).
CORE = ("errors", "_construction", "_http", "zilliz", "bailian")
FRAMEWORKS = ("langchain_core", "langchain", "llama_index")


def core_modules() -> list[str]:
    """Every module of the core, submodules included, found on disk (new ones are covered too)."""
    names = []
    for part in CORE:
        name = f"langchain_zilliz_bailian.{part}"
        names.append(name)
        path = ROOT / "langchain_zilliz_bailian" / part
        if path.is_dir():
            names += [m.name for m in pkgutil.walk_packages([str(path)], name + ".")]
    return sorted(names)


def test_the_core_list_finds_submodules() -> None:
    names = core_modules()
    assert "langchain_zilliz_bailian._http.adapter" in names
    assert "langchain_zilliz_bailian.zilliz.client" in names
    assert "langchain_zilliz_bailian.bailian.client" in names


@pytest.mark.parametrize("module", core_modules())
def test_core_module_imports_no_framework(module: str) -> None:
    code = f"""
        import sys
        for blocked in {FRAMEWORKS!r}:
            sys.modules[blocked] = None  # importing it now raises ImportError
        import importlib
        importlib.import_module({module!r})
        leaked = sorted(m for m in sys.modules if m.split(".")[0] in {FRAMEWORKS!r}
                        and sys.modules[m] is not None)
        print(leaked)
    """
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_the_package_root_is_the_langchain_side() -> None:
    """The root package exports the LangChain classes (the product card fixes that layout)."""
    assert "ZillizPipelineRetriever" in langchain_zilliz_bailian.__all__
