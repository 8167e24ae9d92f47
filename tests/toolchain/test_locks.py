"""The lock files in requirements/ say what pyproject.toml promises, and this venv holds them.

``make lock`` writes ``requirements/newest.txt`` (newest resolution, every Python) and
``requirements/lowest.txt`` (Python 3.10, every runtime dependency at its declared floor);
``make test`` runs the suite in one venv per end and tells it which one (``ZB_MATRIX_END``).
"""

from __future__ import annotations

import importlib.util
import os
import re
import sys
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[2]
REQUIREMENTS = ROOT / "requirements"


def _floors() -> dict[str, str]:
    spec = importlib.util.spec_from_file_location("floors", ROOT / "scripts" / "floors.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    floors: dict[str, str] = module.runtime_floors()
    return floors


def _pins(path: Path) -> dict[str, Requirement]:
    """``name -> Requirement`` for every ``name==version`` line (markers kept; comments dropped)."""
    pins: dict[str, Requirement] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if not line or "==" not in line:
            continue
        requirement = Requirement(line)
        if requirement.marker is None or requirement.marker.evaluate():
            pins[canonicalize_name(requirement.name)] = requirement
    return pins


def _version(requirement: Requirement) -> Version:
    (spec,) = requirement.specifier
    assert spec.operator == "=="
    return Version(spec.version)


def test_lowest_lock_installs_every_runtime_dependency_at_its_declared_floor() -> None:
    lowest = _pins(REQUIREMENTS / "lowest.txt")
    floors = _floors()
    assert {"langchain-core", "llama-index-core", "httpx", "pydantic", "pymilvus"} <= set(floors)
    for name, floor in floors.items():
        assert name in lowest, f"{name} is missing from requirements/lowest.txt: run make lock"
        assert _version(lowest[name]) == Version(floor), (
            f"requirements/lowest.txt has {lowest[name]}, pyproject.toml declares >={floor}: "
            "run make lock"
        )


@pytest.mark.parametrize(
    ("tools", "lock"), [("tools.txt", "newest.txt"), ("tools-lowest.txt", "lowest.txt")]
)
def test_every_pinned_tool_is_locked_at_its_pin(tools: str, lock: str) -> None:
    locked = _pins(REQUIREMENTS / lock)
    pinned = {
        name: requirement
        for name, requirement in _pins(REQUIREMENTS / tools).items()
        if name != "uv"  # builds the venvs; not installed in them
    }
    assert {"mypy", "ruff", "pytest"} <= set(pinned)
    for name, requirement in pinned.items():
        assert name in locked, f"{name} is pinned in {tools} but missing from {lock}"
        assert _version(locked[name]) == _version(requirement), f"{name}: {tools} vs {lock}"


def _matrix_end() -> str:
    end = os.environ.get("ZB_MATRIX_END")
    if end is None:
        pytest.skip("ZB_MATRIX_END is unset: not run by make test-newest / make test-lowest")
    assert end in ("newest", "lowest")
    return end


def test_this_environment_runs_its_ends_python() -> None:
    end = _matrix_end()
    wanted = re.search(
        rf"^{end.upper()}_VERSION\s*:=\s*(\S+)$",
        (ROOT / "Makefile").read_text(encoding="utf-8"),
        re.MULTILINE,
    )
    assert wanted is not None
    assert os.environ.get("ZB_MATRIX_PYTHON") == wanted.group(1)
    running = f"{sys.version_info.major}.{sys.version_info.minor}"
    assert running == wanted.group(1), f"the {end} end runs Python {running}, not {wanted[1]}"


def test_this_environment_holds_exactly_its_lock() -> None:
    end = _matrix_end()
    locked = _pins(REQUIREMENTS / f"{end}.txt")
    installed: dict[str, Version] = {
        canonicalize_name(dist.metadata["Name"]): Version(dist.version)
        for dist in metadata.distributions()
    }
    installed.pop("langchain-zilliz-bailian")  # this package, editable
    missing = sorted(set(locked) - set(installed))
    extra = sorted(set(installed) - set(locked))
    stale = [
        f"{name} {installed[name]} (lock: {_version(locked[name])})"
        for name in sorted(set(locked) & set(installed))
        if installed[name] != _version(locked[name])
    ]
    assert not (missing or extra or stale), (
        f"this venv differs from requirements/{end}.txt (rerun make): missing {missing}, "
        f"not in the lock {extra}, other versions {stale}"
    )


def test_the_makefile_tells_each_run_its_end() -> None:
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    assert re.search(r"ZB_MATRIX_END=newest ZB_MATRIX_PYTHON=\$\(NEWEST_VERSION\)", makefile)
    assert re.search(r"ZB_MATRIX_END=lowest ZB_MATRIX_PYTHON=\$\(LOWEST_VERSION\)", makefile)
