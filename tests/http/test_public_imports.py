"""The package uses only public APIs of httpx (no ``httpx._x`` module) and no httpx-sse at all."""

from __future__ import annotations

import ast
from pathlib import Path

import langchain_zilliz_bailian
import llama_index_ext

PACKAGES = [Path(langchain_zilliz_bailian.__file__).parent, Path(llama_index_ext.__file__).parent]


def imported_modules(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module)
    return names


def test_no_private_httpx_module_and_no_httpx_sse():
    offending = {
        f"{path.name}: {module}"
        for package in PACKAGES
        for path in package.rglob("*.py")
        for module in imported_modules(path)
        if module.startswith(("httpx._", "httpx_sse"))
    }
    assert offending == set()
