"""Print the declared floor of every runtime dependency as ``name==version`` constraints.

``make lock`` feeds this to ``uv pip compile --resolution lowest-direct`` so that the "lowest" end
of the test matrix installs exactly the versions ``pyproject.toml`` promises to support; if a
floor cannot be installed with the others, the compile fails and the floor must be raised.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

if sys.version_info >= (3, 11):
    import tomllib
else:  # Python 3.10: pytest's own dependency
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[1]
#: The extras users install; ``test`` is the dev toolchain, pinned separately.
RUNTIME_EXTRAS = ("langchain", "llama-index", "server", "files")
_REQ = re.compile(r"^\s*([A-Za-z0-9_.\-]+)\s*(?:\[[^\]]*\])?\s*(.*)$")
_FLOOR = re.compile(r">=\s*([0-9][^,;\s]*)")


def runtime_floors(pyproject: Path = ROOT / "pyproject.toml") -> dict[str, str]:
    """Map each runtime requirement's normalised name to its ``>=`` floor."""
    project = tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]
    requirements = list(project["dependencies"])
    for extra in RUNTIME_EXTRAS:
        requirements += project["optional-dependencies"][extra]
    floors: dict[str, str] = {}
    for requirement in requirements:
        match = _REQ.match(requirement)
        if match is None:
            raise SystemExit(f"cannot parse requirement {requirement!r}")
        name, spec = match.groups()
        if name.replace("_", "-").lower() == "langchain-zilliz-bailian":
            continue
        floor = _FLOOR.search(spec)
        if floor is None:
            raise SystemExit(f"{requirement!r} declares no floor (>=): the matrix cannot test it")
        floors[re.sub(r"[-_.]+", "-", name).lower()] = floor.group(1)
    return floors


def main() -> None:
    for name, version in sorted(runtime_floors().items()):
        sys.stdout.write(f"{name}=={version}\n")


if __name__ == "__main__":
    main()
