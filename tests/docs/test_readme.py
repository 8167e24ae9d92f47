"""Every README code block is a test.

Each ```python block runs as its own test case (``readme-L<line>``) against the local server of the
test session, in a directory holding the README's ``guide.md``, with the variables the README's
setup exports set as it says: endpoints and key of that server, and the pipeline ids printed by
``zilliz-bailian pipelines create`` (run here through the real command line). Blocks marked
``<!-- readme: cloud: ... -->`` are skipped with their reason; ``<!-- readme: continues -->`` runs
in the namespace of the block before it. Each ``zilliz-bailian`` command of a shell block is parsed
by the real argument parser.
"""

from __future__ import annotations

import contextlib
import io
import re
import shlex
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from langchain_zilliz_bailian import cli
from tests.docs import readme

pytestmark = pytest.mark.server

README = readme.load()
#: Namespaces of the blocks run so far (by fence line), for the blocks that continue them.
_namespaces: dict[int, dict[str, Any]] = {}


def _create_set(server: Any, kind: str) -> dict[str, str]:
    """``zilliz-bailian pipelines create`` as the README shows it; the variables it exports."""
    out = io.StringIO()
    argv = ["pipelines", "create", "--name", f"readme_{kind}_{uuid.uuid4().hex[:8]}"]
    argv += ["--kind", kind, "--preserve", "year:Int16"]
    argv += ["--base-url", server.url, "--api-key", server.api_key]
    with contextlib.redirect_stdout(out):
        assert cli.main(argv) == 0
    exports = dict(re.findall(r"^export ([A-Z_]+)=(\S+)$", out.getvalue(), re.MULTILINE))
    assert len(exports) == 3, out.getvalue()
    return exports


@pytest.fixture(scope="module")
def readme_env(
    local_server: Any, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, str]]:
    """The README's setup, done for the session's server; the environment the blocks see."""
    env = {
        "ZILLIZ_PIPELINES_BASE_URL": local_server.url,
        "ZILLIZ_CLOUD_API_KEY": local_server.api_key,
        "DASHSCOPE_HTTP_BASE_URL": local_server.bailian_base_url,
        "DASHSCOPE_API_KEY": local_server.api_key,
        "DASHSCOPE_APP_ID": "default",
    }
    env.update(_create_set(local_server, "doc"))
    env.update(_create_set(local_server, "text"))
    env["BAILIAN_KNOWLEDGE_BASE_ID"] = env["ZILLIZ_DOC_SEARCH_PIPELINE_ID"]
    missing = readme.shell_exports(README) - set(env)
    assert not missing, f"the README's setup exports {missing}, which this test does not set"
    workdir = tmp_path_factory.mktemp("readme-cwd")
    (workdir / "guide.md").write_text(readme.guide_md(README), encoding="utf-8")
    (workdir / "tmp").mkdir()
    with pytest.MonkeyPatch.context() as mp:
        for name, value in env.items():
            mp.setenv(name, value)
        for name in ("ZILLIZ_CLOUD_REGION", "ZILLIZ_PROJECT_ID", "ZILLIZ_CLUSTER_ID"):
            mp.delenv(name, raising=False)
        mp.chdir(workdir)
        mp.setattr(tempfile, "tempdir", str(workdir / "tmp"))  # tempfile.mkdtemp() in a block
        yield env


def _namespace_for(block: readme.Block) -> dict[str, Any]:
    """A fresh namespace, or for a continuing block the one the block before it ran in (running
    that block first when it has not run in this session, e.g. under ``-k``)."""
    if not block.continues:
        return {"__name__": "__readme__"}
    previous = README.previous_python(block)
    assert previous is not None, f"{block.id} continues, but no Python block comes before it"
    if previous.cloud:
        pytest.skip(f"continues {previous.id}, which needs the cloud: {previous.cloud}")
    if previous.line not in _namespaces:
        namespace = _namespace_for(previous)
        readme.run(previous, namespace)
        _namespaces[previous.line] = namespace
    return _namespaces[previous.line]


#: What the local app answers when it has no knowledge base: an example printing it shows nothing.
ECHO = "You said: "


@pytest.mark.parametrize("block", README.python, ids=lambda b: b.id)
def test_python_block(
    block: readme.Block, request: pytest.FixtureRequest, capsys: pytest.CaptureFixture[str]
) -> None:
    if block.cloud:
        pytest.skip(f"{block.id}: {block.cloud}")
    request.getfixturevalue("readme_env")
    namespace = _namespace_for(block)
    readme.run(block, namespace)
    _namespaces[block.line] = namespace
    printed = capsys.readouterr().out
    print(printed, end="")  # back into the captured output, shown when a test fails
    assert ECHO not in printed, (
        f"{block.id}: the local app only echoed (no rag_options?): {printed}"
    )


@pytest.mark.parametrize("command", README.commands(), ids=lambda c: c.id)
def test_shell_command_parses(command: readme.Command, capsys: pytest.CaptureFixture[str]) -> None:
    """The command exists with these flags and values (parsed, not run)."""
    try:
        args = cli.build_parser().parse_args(shlex.split(command.argv))
    except SystemExit:
        pytest.fail(f"README.md:{command.line}: {command.argv!r}: {capsys.readouterr().err}")
    assert args.command in ("serve", "pipelines", "demo", "apps")


def test_readme_markers_are_known_and_attached() -> None:
    assert not README.problems, "\n".join(README.problems)


def test_readme_has_the_blocks_it_is_tested_by() -> None:
    """A parser that found nothing would skip everything silently."""
    assert len(README.python) >= 10
    assert len([b for b in README.python if not b.cloud]) >= 8
    assert {c.argv.split()[0] for c in README.commands()} >= {"serve", "pipelines"}
    assert all(b.cloud for b in README.python if "cloud" in b.markers)


def test_runner_reports_a_failing_block_at_its_readme_line() -> None:
    """A block that raises fails its test, and the traceback names the README line."""
    block = readme.Block(line=41, lang="python", code="x = 1\nraise ValueError('boom')\n")
    with pytest.raises(ValueError, match="boom") as info:
        readme.run(block, {})
    assert info.traceback[-1].lineno + 1 == 43
    assert Path(info.traceback[-1].path).name == "README.md"


def test_runner_awaits_top_level_await() -> None:
    namespace: dict[str, Any] = {}
    code = "import asyncio\nawait asyncio.sleep(0)\nresult = 42\n"
    readme.run(readme.Block(line=1, lang="python", code=code), namespace)
    assert namespace["result"] == 42


def test_parser_reads_markers_and_flags_misplaced_ones() -> None:
    text = (
        "<!-- readme: cloud: needs a GPU -->\n```python\nx = 1\n```\n\n"
        "<!-- readme: continues -->\n```python\ny = x\n```\n"
        "<!-- readme: cloud -->\n\n```python\nz = 1\n```\n"
        "<!-- readme: sometimes -->\n```python\nw = 1\n```\n"
    )
    parsed = readme.parse(text)
    first, second, third, fourth = parsed.python
    assert first.cloud == "needs a GPU" and not first.continues
    assert second.continues and second.cloud is None
    assert third.markers == {}  # a blank line detaches the marker ...
    assert any(":10:" in p for p in parsed.problems)  # ... which is reported
    assert any("unknown marker 'sometimes'" in p for p in parsed.problems)
    assert fourth.line == 16
