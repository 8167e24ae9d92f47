"""The demo end to end: in-process (stdout captured), rerun on kept state, and as a subprocess."""

from __future__ import annotations

import io
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from langchain_zilliz_bailian.bailian.cited_answers import NumberedStream, render_with_sources
from langchain_zilliz_bailian.demo import main
from langchain_zilliz_bailian.demo.answers import AnswerReport, print_citations, stream_to
from langchain_zilliz_bailian.demo.corpus import corpus_files, corpus_names
from langchain_zilliz_bailian.demo.endpoints import REQUIRED_LIVE_VARIABLES
from langchain_zilliz_bailian.demo.render import Printer

pytestmark = pytest.mark.server

ROOT = Path(__file__).resolve().parents[2]
FAST = ["--stream-interval-ms", "1"]


def section(output: str, title: str) -> str:
    """The text of one ``== title ... ==`` section, up to the next heading."""
    start = output.index(f"== {title}")
    end = output.find("\n== ", start + 1)
    return output[start : end if end != -1 else None]


def answer_line(text: str) -> str:
    match = re.search(r"^A: (.*)$", text, re.MULTILINE)
    assert match, text
    return match.group(1)


class WriteLog(io.StringIO):
    """A text stream that remembers each write, to see the answer arrive piece by piece."""

    def __init__(self) -> None:
        super().__init__()
        self.writes: list[str] = []

    def write(self, text: str) -> int:
        self.writes.append(text)
        return super().write(text)


def test_demo_in_process_streams_sourced_answers(tmp_path, capsys):
    assert main(["--data-dir", str(tmp_path / "state"), *FAST]) == 0
    output = capsys.readouterr().out

    assert "local compatible server (loopback only)" in output
    assert "[ingestion] 10 documents, 40 chunks" in output

    langchain = section(output, "LangChain")
    assert "ZillizPipelineRetriever | prompt | ChatBailianApp" in langchain
    answer = answer_line(langchain)
    assert "The backoff between retries of a failed request starts at half a second" in answer
    assert "<ref>" not in answer and "[1]" in answer  # markers rendered as [n]
    assert re.search(r"Sources cited by the app:\n  \[1\] .* \(errors_retries\.md\)", langchain)
    assert "Retrieved into the prompt (top 4):" in langchain
    assert re.search(r"Token usage: input \d+, output \d+, total \d+", langchain)

    llama = section(output, "LlamaIndex")
    assert "RetrieverQueryEngine(ZillizPipelineRetriever, BailianAppLLM)" in llama
    assert "RetrieverQueryEngine built with streaming enabled" in answer_line(llama)
    assert re.search(r"Source nodes \(top 4\):\n  0\.\d{3}  streaming\.md - ", llama)
    assert "Sources cited by the app:\n  [1] " in llama
    assert re.search(r"Token usage: input \d+, output \d+, total \d+", llama)

    timings = section(output, "Timings")
    for label in (
        "server start",
        "pipeline creation",
        "ingestion",
        "LangChain retrieval",
        "LangChain first token",
        "LangChain total",
        "LlamaIndex retrieval",
        "LlamaIndex first token",
        "LlamaIndex total",
    ):
        assert re.search(rf"^  {label} +\d+(\.\d+)? m?s", timings, re.MULTILINE), label


def test_rerun_on_kept_state_reuses_pipelines_and_streams_piecewise(tmp_path):
    state = tmp_path / "state"
    first, second = WriteLog(), WriteLog()
    assert main(["--data-dir", str(state), *FAST], out=first) == 0
    assert main(["--data-dir", str(state), *FAST], out=second) == 0

    assert "(reused," in second.getvalue()
    assert "replaced 40 chunks from a previous run" in second.getvalue()
    # Same corpus, same answers: the purge-then-ingest left no duplicate chunks behind.
    for title in ("LangChain", "LlamaIndex"):
        assert answer_line(section(first.getvalue(), title)) == answer_line(
            section(second.getvalue(), title)
        )
    # The answer went out as many small writes, one per delta, not as one block.
    begin = second.writes.index("A: ")
    end = next(i for i in range(begin, len(second.writes)) if second.writes[i].endswith("\n"))
    assert end - begin > 10


def test_live_mode_names_the_missing_variables(monkeypatch, capsys):
    for name in REQUIRED_LIVE_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("ZILLIZ_PROJECT_ID", "proj-abc")
    assert main(["--live"]) == 2
    err = capsys.readouterr().err
    missing = [name for name in REQUIRED_LIVE_VARIABLES if name != "ZILLIZ_PROJECT_ID"]
    assert ", ".join(missing) in err
    assert "ZILLIZ_PROJECT_ID" not in err.split("Optional")[0]


def test_live_mode_uses_the_endpoints_from_the_environment(local_server, monkeypatch, capsys):
    """``--live`` wiring, pointed at a compatible server through the documented variables."""
    monkeypatch.setenv("ZILLIZ_CLOUD_API_KEY", local_server.api_key)
    monkeypatch.setenv("ZILLIZ_PIPELINES_BASE_URL", local_server.url)
    monkeypatch.setenv("ZILLIZ_PROJECT_ID", "proj-livedemo")
    monkeypatch.setenv("ZILLIZ_CLUSTER_ID", "in01-livedemo")
    monkeypatch.setenv("DASHSCOPE_API_KEY", local_server.api_key)
    monkeypatch.setenv("DASHSCOPE_APP_ID", "live-demo-app")
    monkeypatch.setenv("DASHSCOPE_HTTP_BASE_URL", local_server.bailian_base_url)
    assert main(["--live"]) == 0
    output = capsys.readouterr().out
    assert "live cloud endpoints" in output
    assert "server start" not in output
    # A real app's knowledge base is not our pipeline: no rag_options, the context rides along
    # in the system turn, and the local app (no pipeline) answers from it.
    answer = answer_line(section(output, "LangChain"))
    assert "retries of a failed request" in answer and "You said" not in answer


def test_corpus_is_package_data():
    names = corpus_names()
    assert 6 <= len(names) <= 10
    with corpus_files() as files:
        assert [f.name for f in files] == names
        for corpus_file in files:
            text = corpus_file.path.read_text(encoding="utf-8")
            assert text.startswith("# "), corpus_file.name
            assert corpus_file.topic == corpus_file.path.stem


@pytest.mark.parametrize("size", [1, 2, 3, 5, 8])
def test_citation_markers_render_across_any_delta_boundary(size):
    text = "One.<ref>[4]</ref> Two<ref>[12]</ref> again<ref>[4]</ref> ends; a < b <"
    stream = NumberedStream()
    shown = "".join(stream.feed(text[i : i + size]) for i in range(0, len(text), size))
    assert shown + stream.flush() == "One.[1] Two[2] again[1] ends; a < b <"


def test_the_printed_answer_and_sources_are_what_render_with_sources_gives():
    refs = [
        {"index_id": "4", "title": "Backoff", "doc_name": "errors_retries.md"},
        {"index_id": "12", "title": "Streams", "doc_name": "streaming.md"},
    ]
    text = "Retries back off.<ref>[12]</ref> Streams<ref>[4][12]</ref> end."
    out = io.StringIO()
    report = AnswerReport(sources=refs)
    printer = Printer(out)
    stream_to(printer, [text[i : i + 3] for i in range(0, len(text), 3)], report, 0.0)
    print_citations(printer, report)
    expected = render_with_sources(text, refs, heading="Sources cited by the app:")
    shown = out.getvalue().removeprefix("A: ").replace("\n  [", "\n[")
    assert shown.replace("\nSources", "\n\nSources") == expected + "\n"
    assert expected.endswith("[1] Streams (streaming.md)\n[2] Backoff (errors_retries.md)")


def _demo_command() -> list[str]:
    return [sys.executable, "-m", "langchain_zilliz_bailian", "demo", *FAST]


def test_demo_as_a_subprocess():
    done = subprocess.run(
        _demo_command(), cwd=ROOT, capture_output=True, text=True, timeout=180, check=False
    )
    assert done.returncode == 0, done.stderr
    assert "Sources cited by the app:" in done.stdout
    assert "== Timings ==" in done.stdout


def _loopback_only_namespace() -> list[str] | None:
    """A command prefix running in a new network namespace with only ``lo`` up, if allowed."""
    unshare, ip = shutil.which("unshare"), shutil.which("ip")
    if unshare is None or ip is None:
        return None
    probe = subprocess.run(
        [unshare, "-rn", ip, "link", "set", "lo", "up"], capture_output=True, check=False
    )
    if probe.returncode != 0:
        return None
    return [unshare, "-rn", "sh", "-c", f'"{ip}" link set lo up && exec "$@"', "sh"]


def test_demo_subprocess_with_the_network_cut_down_to_loopback():
    prefix = _loopback_only_namespace()
    if prefix is None:
        pytest.skip("cannot create a network namespace here (unshare -rn)")
    done = subprocess.run(
        [*prefix, *_demo_command()],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
        env={**os.environ, "NO_PROXY": "*"},
    )
    assert done.returncode == 0, done.stderr
    assert "Sources cited by the app:" in done.stdout


def test_cli_loads_without_the_frameworks_and_demo_names_the_missing_extra():
    """``serve`` must keep working with only the server extra: the demo imports lazily."""
    code = (
        "import sys\n"
        "sys.modules['langchain_core'] = None\n"
        "sys.modules['llama_index'] = None\n"
        "from langchain_zilliz_bailian.cli import build_parser, main\n"
        "assert build_parser().parse_args(['serve']).command == 'serve'\n"
        "raise SystemExit(main(['demo']))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 2, done.stderr
    assert "the demo needs the [langchain] extra" in done.stderr
