"""README.md as data: its fenced code blocks, the ``<!-- readme: ... -->`` markers before them, the
``zilliz-bailian`` commands its shell blocks show, and a runner for its Python blocks.

The convention (documented in README.md, "Run your own code against the local server"):

* ``<!-- readme: cloud: REASON -->`` right before a block: it needs a real service; skipped with
  REASON (``cloud`` alone gives a generic reason);
* ``<!-- readme: continues -->``: the block runs in the namespace of the Python block before it.
"""

from __future__ import annotations

import ast
import asyncio
import inspect
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

README = Path(__file__).resolve().parents[2] / "README.md"
PYTHON_LANGS = ("python", "py")
SHELL_LANGS = ("sh", "bash", "shell", "console")
MARKER_KINDS = ("cloud", "continues")
DEFAULT_CLOUD_REASON = "needs real cloud credentials"

_FENCE = re.compile(r"^```\s*([A-Za-z0-9_+-]*)\s*$")
_MARKER = re.compile(r"^<!--\s*readme:\s*(?P<kind>[A-Za-z-]+)\s*(?::\s*(?P<reason>.*?))?\s*-->$")
_ANY_MARKER = re.compile(r"^\s*<!--\s*readme\b")  # a comment line (prose may quote markers)
# A command as shown in a shell block: `zilliz-bailian ...` or `python -m langchain_zilliz_bailian
# ...`, up to the end of a `$( ... )`, a quote, a comment or the line.
_COMMAND = re.compile(r"(?:zilliz-bailian|python -m langchain_zilliz_bailian)(?=\s)([^)\"#\n]*)")


@dataclass(frozen=True)
class Block:
    """One fenced code block of README.md."""

    line: int  # the opening fence, 1-based
    lang: str
    code: str
    markers: dict[str, str] = field(default_factory=dict)  # kind -> reason ("" when none)

    @property
    def id(self) -> str:
        return f"readme-L{self.line}"

    @property
    def cloud(self) -> str | None:
        """Why the block needs the cloud, or None when it runs locally."""
        if "cloud" not in self.markers:
            return None
        return self.markers["cloud"] or DEFAULT_CLOUD_REASON

    @property
    def continues(self) -> bool:
        return "continues" in self.markers


@dataclass(frozen=True)
class Command:
    """A ``zilliz-bailian`` command line shown in a shell block."""

    line: int
    argv: str  # the arguments after the program name, as written

    @property
    def id(self) -> str:
        return f"readme-L{self.line}-sh"


@dataclass
class Readme:
    """The parsed file and what is wrong with its markers (checked by a test of its own)."""

    blocks: list[Block]
    problems: list[str]

    @property
    def python(self) -> list[Block]:
        return [b for b in self.blocks if b.lang in PYTHON_LANGS]

    def commands(self) -> list[Command]:
        found: list[Command] = []
        for block in self.blocks:
            if block.lang not in SHELL_LANGS:
                continue
            # A line ending in a backslash continues on the next (reported at its first line).
            lines = block.code.replace("\\\n", " ").splitlines()
            starts = _line_starts(block.code)
            for offset, text in zip(starts, lines, strict=True):
                for match in _COMMAND.finditer(text):
                    found.append(Command(block.line + offset, match.group(1).strip()))
        return found

    def previous_python(self, block: Block) -> Block | None:
        earlier = [b for b in self.python if b.line < block.line]
        return earlier[-1] if earlier else None


def parse(text: str) -> Readme:
    """Split ``text`` into fenced blocks with their markers; list misplaced or unknown markers."""
    lines = text.splitlines()
    blocks: list[Block] = []
    problems: list[str] = []
    attached: set[int] = set()
    i = 0
    while i < len(lines):
        fence = _FENCE.match(lines[i])
        if not fence:
            i += 1
            continue
        start, lang = i, fence.group(1).lower()
        end = start + 1
        while end < len(lines) and lines[end].strip() != "```":
            end += 1
        if end == len(lines):
            problems.append(f"README.md:{start + 1}: unclosed code fence")
            break
        markers: dict[str, str] = {}
        above = start - 1
        while above >= 0 and _MARKER.match(lines[above].strip()):
            marker = _MARKER.match(lines[above].strip())
            assert marker is not None
            kind = marker.group("kind")
            attached.add(above)
            if kind not in MARKER_KINDS:
                problems.append(
                    f"README.md:{above + 1}: unknown marker {kind!r} (known: {MARKER_KINDS})"
                )
            elif lang not in PYTHON_LANGS:
                problems.append(f"README.md:{above + 1}: marker on a {lang or 'plain'} block")
            markers[kind] = marker.group("reason") or ""
            above -= 1
        blocks.append(Block(start + 1, lang, "\n".join(lines[start + 1 : end]) + "\n", markers))
        i = end + 1
    for number, raw in enumerate(lines):
        if _ANY_MARKER.match(raw) and number not in attached:
            problems.append(
                f"README.md:{number + 1}: a readme marker must be a whole line right before a "
                f"code fence: {raw.strip()!r}"
            )
    return Readme(blocks, problems)


def load() -> Readme:
    """README.md, parsed."""
    return parse(README.read_text(encoding="utf-8"))


def run(block: Block, namespace: dict[str, Any]) -> None:
    """Execute a Python block in ``namespace``; with top-level ``await`` it runs under asyncio.

    The code is compiled at its own line numbers in README.md, so a traceback points at the
    README line that failed.
    """
    source = "\n" * block.line + block.code
    code = compile(
        source, str(README), "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT, dont_inherit=True
    )
    if code.co_flags & inspect.CO_COROUTINE:
        asyncio.run(eval(code, namespace))
    else:
        exec(code, namespace)


def _line_starts(code: str) -> list[int]:
    """The 1-based line number each logical line (backslash continuations joined) starts on."""
    starts, line, joined = [], 1, False
    for text in code.splitlines():
        if not joined:
            starts.append(line)
        joined = text.endswith("\\")
        line += 1
    return starts


def shell_exports(readme: Readme) -> set[str]:
    """Variables the shell blocks ``export``."""
    names: set[str] = set()
    for block in readme.blocks:
        if block.lang in SHELL_LANGS:
            for text in block.code.splitlines():
                if text.lstrip().startswith("export "):
                    names.update(re.findall(r"\b([A-Z][A-Z0-9_]*)=", text.split("#", 1)[0]))
    return names


def guide_md(readme: Readme) -> str:
    """The ``guide.md`` the setup block writes with ``printf '...' > guide.md``."""
    for block in readme.blocks:
        match = re.search(r"printf '([^']*)' > guide\.md", block.code)
        if match and block.lang in SHELL_LANGS:
            return match.group(1).replace("\\n", "\n")
    raise AssertionError("README.md's setup no longer writes guide.md (printf '...' > guide.md)")
