"""Unit tests of the server's pure helpers: chunking, embedder, deltas, ids, faults, CLI."""

from __future__ import annotations

import math

import pytest

from langchain_zilliz_bailian import cli
from langchain_zilliz_bailian.server import LexicalEmbedder, load_embedder
from langchain_zilliz_bailian.server.answer import split_deltas
from langchain_zilliz_bailian.server.chunking import chunk_document, split_text
from langchain_zilliz_bailian.server.faults import FaultConfig, FaultInjector
from langchain_zilliz_bailian.server.models import MiniLMEmbedder
from langchain_zilliz_bailian.server.sse import frame
from langchain_zilliz_bailian.server.storage import IdMinter
from langchain_zilliz_bailian.server.text import count_tokens


def test_split_text_respects_chunk_size_and_keeps_all_words() -> None:
    text = "\n\n".join(" ".join(f"w{p}_{i}" for i in range(30)) for p in range(5))
    chunks = split_text(text, 25, ["\n\n", "\n", " ", ""])
    assert all(count_tokens(c) <= 25 for c in chunks)
    assert " ".join(chunks).split() == text.split()


def test_markdown_and_html_chunks_carry_header_path() -> None:
    md = (
        "intro line\n\n# A\n\ntext a\n\n## B\n\ntext b\n\n```\n# not a header\n```\n\n# C\n\ntext c"
    )
    chunks = chunk_document(md, "markdown", 100)
    assert chunks[0] == "intro line"
    assert chunks[1] == "# A\ntext a"
    assert chunks[2].startswith("# A\n## B\ntext b") and "# not a header" in chunks[2]
    assert chunks[3] == "# C\ntext c"
    html = "<h1>Top</h1><p>one &amp; two</p><script>x=1</script><h2>Sub</h2><ul><li>a</li></ul>"
    assert chunk_document(html, "html", 100) == ["# Top\none & two", "# Top\n## Sub\n- a"]


def test_lexical_embedder_is_deterministic_normalised_and_lexical() -> None:
    emb = LexicalEmbedder()
    a, b, c, empty = emb.embed(
        ["Milvus stores vectors", "vectors are stored by Milvus", "cats purr softly", "the of"]
    )
    assert emb.dim == len(a) == 384
    assert math.isclose(sum(x * x for x in a), 1.0, rel_tol=1e-9)
    assert math.isclose(sum(x * x for x in empty), 1.0, rel_tol=1e-9)
    assert a == emb.embed(["Milvus stores vectors"])[0]

    def cos(u: list[float], v: list[float]) -> float:
        return sum(x * y for x, y in zip(u, v))

    assert cos(a, b) > 0.5 > cos(a, c)


def test_load_embedder_from_spec() -> None:
    assert isinstance(load_embedder(None), MiniLMEmbedder)
    emb = load_embedder("langchain_zilliz_bailian.server.embeddings:LexicalEmbedder")
    assert emb.dim == 384
    with pytest.raises(ValueError, match="module:callable"):
        load_embedder("nonsense")


def test_split_deltas_reassemble_and_split_markers() -> None:
    text = (
        "Alpha beta gamma.<ref>[1]</ref> Delta epsilon zeta eta.<ref>[3]</ref> Theta.<ref>[2]</ref>"
    )
    deltas = split_deltas(text)
    assert "".join(deltas) == text
    assert "<ref>[1]</" in deltas and any(d.startswith("ref>") for d in deltas)
    assert any(d.endswith("<ref>[") for d in deltas)
    assert len(deltas) >= 6
    cjk = split_deltas("米饭作为主食深受喜爱")
    assert "".join(cjk) == "米饭作为主食深受喜爱" and len(cjk) >= 2


def test_sse_frame_bytes() -> None:
    assert (
        frame(3, {"a": "é"}) == 'id:3\nevent:result\n:HTTP_STATUS/200\ndata:{"a":"é"}\n\n'.encode()
    )
    assert frame(1, {}, event="error", status=429).startswith(
        b"id:1\nevent:error\n:HTTP_STATUS/429\n"
    )


def test_ids_are_unique_increasing_int64_above_2_53() -> None:
    ids = IdMinter().mint(10_000)
    assert len(set(ids)) == len(ids) and ids == sorted(ids)
    assert ids[0] > 2**53 and ids[-1] < 2**63


def test_fault_queue_is_exact_and_skips_stream_faults_for_json() -> None:
    inj = FaultInjector(FaultConfig(seed=1))
    inj.update({"fail_next": [{"kind": "drop", "after": 2}, {"kind": "429", "count": 2}]})
    assert inj.decide("zilliz").status == 429  # drop skipped: not a stream
    assert inj.decide("bailian", streaming=True).drop_after == 2
    assert inj.decide("bailian").status == 429
    assert inj.decide("bailian").status is None
    with pytest.raises(ValueError, match="unknown"):
        inj.update({"nope": 1})


def test_cli_parses_serve_flags(capsys: pytest.CaptureFixture[str]) -> None:
    args = cli.build_parser().parse_args(
        [
            "serve",
            "--port",
            "9000",
            "--default-pipeline-ids",
            "pipe-a, pipe-b",
            "--fault-rate-429",
            "0.5",
        ]
    )
    assert args.port == 9000 and args.host == "127.0.0.1" and args.api_key == "local-dev-key"
    assert cli._ids(args.default_pipeline_ids) == ["pipe-a", "pipe-b"]
    assert args.fault_rate_429 == 0.5


def test_server_import_pulls_no_framework() -> None:
    import subprocess
    import sys

    code = (
        "import sys, langchain_zilliz_bailian.server\n"
        "bad = [m for m in sys.modules if m.startswith(('langchain_core', 'llama_index'))]\n"
        "assert not bad, bad\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_the_suite_never_defaults_into_the_users_cache_dir(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from langchain_zilliz_bailian.server.storage import default_data_dir
    from tests.conftest import SANDBOX

    assert default_data_dir().is_relative_to(SANDBOX)
    # Even unset, the platformdirs default follows XDG_CACHE_HOME into the sandbox.
    monkeypatch.delenv("ZILLIZ_BAILIAN_DATA_DIR")
    assert default_data_dir().is_relative_to(SANDBOX)
