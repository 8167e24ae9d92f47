"""``reranker: zilliz/bge-reranker-base``: an ONNX cross-encoder from the model store, else a 400.

The model is the tiny overlap cross-encoder of :mod:`tests.fakes.cross_encoder_model`: a pair's
logit is ``2 * shared tokens - 1`` and its score ``sigmoid(logit)``, so the order is known.
"""

from __future__ import annotations

import math
import shutil
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from tokenizers import Tokenizer

from langchain_zilliz_bailian.server.cross_encoder import CrossEncoder, CrossEncoderError
from langchain_zilliz_bailian.server.errors import ZillizError
from langchain_zilliz_bailian.server.models.files import ModelStore
from langchain_zilliz_bailian.server.rerank import Rerankers, rerank_hits
from langchain_zilliz_bailian.server.storage import Hit
from tests.fakes.cross_encoder_model import VENDORED_TOKENIZER, write_cross_encoder
from tests.server.conftest import (
    PROJECT,
    create_search,
    create_text_ingestion,
    make_doc_pipelines,
    ok,
    unique,
)

RERANKER = "zilliz/bge-reranker-base"
QUERY = "cheap coffee"
NONE, ONE, BOTH = "rain over the hills", "coffee of the day", "cheap coffee beans"


def _sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


def _pair_tokens(query: str, passage: str) -> int:
    tokenizer = Tokenizer.from_file(str(VENDORED_TOKENIZER))
    tokenizer.no_padding()
    return len(tokenizer.encode(query, passage).ids)


@pytest.fixture(scope="module")
def encoder(tmp_path_factory: pytest.TempPathFactory) -> CrossEncoder:
    return CrossEncoder(write_cross_encoder(tmp_path_factory.mktemp("reranker")))


def test_cross_encoder_scores_are_sigmoids_of_the_graph_logits(encoder: CrossEncoder) -> None:
    scored = encoder.score(QUERY, [NONE, ONE, BOTH])
    # shared tokens 0, 1, 2 (plus the closing [SEP]) -> logits -1, 1, 3
    assert scored.scores == pytest.approx([_sigmoid(-1), _sigmoid(1), _sigmoid(3)])
    assert scored.tokens == sum(_pair_tokens(QUERY, p) for p in (NONE, ONE, BOTH))


def test_a_graph_without_token_type_ids_gets_only_its_inputs(tmp_path: Path) -> None:
    encoder = CrossEncoder(write_cross_encoder(tmp_path, token_type_ids=False))
    short, long = "coffee", "coffee beans from the hills of the south"
    scored = encoder.score(QUERY, [short, long])
    # logit = -0.1 * pair length: padding is not counted, so the shorter pair scores higher
    expected = [_sigmoid(-0.1 * _pair_tokens(QUERY, p)) for p in (short, long)]
    assert scored.scores == pytest.approx(expected, abs=1e-6)


def test_rerank_hits_orders_by_score_writes_it_to_distance_and_keeps_ties(
    encoder: CrossEncoder,
) -> None:
    hits = [
        Hit(1, 0.9, {"text": NONE}),
        Hit(2, 0.8, {"text": ONE}),
        Hit(3, 0.1, {"text": BOTH}),
        Hit(4, 0.05, {"text": "coffee in the morning"}),
    ]
    ranked, tokens = rerank_hits(encoder, QUERY, hits, "text")
    assert [h.id for h in ranked] == [3, 2, 4, 1]  # 2 and 4 tie: search order kept
    assert [h.distance for h in ranked] == [
        round(_sigmoid(3), 6),
        round(_sigmoid(1), 6),
        round(_sigmoid(1), 6),
        round(_sigmoid(-1), 6),
    ]
    assert tokens > 0
    assert rerank_hits(encoder, QUERY, [], "text") == ([], 0)


def test_the_model_is_found_in_the_model_dir_then_the_cache(tmp_path: Path) -> None:
    store = ModelStore(tmp_path / "cache", tmp_path / "airgap")
    rerankers = Rerankers(store)
    with pytest.raises(ZillizError) as missing:
        rerankers.require(RERANKER)
    message = missing.value.message
    assert missing.value.status == 400 and RERANKER in message
    assert f"copy its files into {tmp_path / 'airgap' / 'bge-reranker-base'}" in message
    assert "model.onnx" in message and "tokenizer.json" in message
    assert f"--model-download to fetch them into {tmp_path / 'cache'}" in message
    cached = write_cross_encoder(tmp_path / "cache" / "bge-reranker-base")
    assert rerankers.require(RERANKER) == cached
    airgapped = write_cross_encoder(tmp_path / "airgap" / "bge-reranker-base")
    assert rerankers.require(RERANKER) == airgapped  # --model-dir first
    assert rerankers.get(RERANKER).directory == airgapped


def test_an_incomplete_or_broken_model_is_refused(tmp_path: Path) -> None:
    rerankers = Rerankers(ModelStore(tmp_path / "models"))
    broken = tmp_path / "models" / "bge-reranker-base"
    broken.mkdir(parents=True)
    (broken / "model.onnx").write_bytes(b"not a graph")
    with pytest.raises(ZillizError, match="is not available offline"):
        rerankers.get(RERANKER)  # no tokenizer.json yet
    shutil.copyfile(VENDORED_TOKENIZER, broken / "tokenizer.json")
    with pytest.raises(CrossEncoderError):
        CrossEncoder(broken)
    with pytest.raises(ZillizError, match="cannot be loaded"):
        rerankers.get(RERANKER)


@pytest.fixture
def reranker_model(server_data_dir: Path) -> Iterator[Path]:
    """The tiny cross-encoder in the shared server's model dir, for one test."""
    directory = write_cross_encoder(server_data_dir / "models" / "bge-reranker-base")
    yield directory
    shutil.rmtree(directory)


def test_search_with_reranker_returns_cross_encoder_scores_and_pages_after(
    http: httpx.Client, reranker_model: Path
) -> None:
    collection = unique("rerank")
    ingestion = create_text_ingestion(http, collection)
    search_id = create_search(http, collection, reranker=RERANKER)
    texts = [NONE, ONE, BOTH, "coffee in the morning"]
    ok(http.post(f"/v1/pipelines/{ingestion}/run", json={"data": {"text_list": texts}}))
    url = f"/v1/pipelines/{search_id}/run"
    full = ok(http.post(url, json={"data": {"query_text": QUERY}, "params": {"limit": 4}}))
    assert [r["text"] for r in full["result"]][0] == BOTH
    assert {r["text"] for r in full["result"][1:3]} == {ONE, "coffee in the morning"}
    assert full["result"][3]["text"] == NONE
    assert [r["distance"] for r in full["result"]] == [
        round(_sigmoid(3), 6),
        round(_sigmoid(1), 6),
        round(_sigmoid(1), 6),
        round(_sigmoid(-1), 6),
    ]
    assert full["usage"]["rerank"] == sum(_pair_tokens(QUERY, t) for t in texts)
    page = ok(
        http.post(url, json={"data": {"query_text": QUERY}, "params": {"limit": 2, "offset": 2}})
    )
    assert [r["id"] for r in page["result"]] == [r["id"] for r in full["result"][2:]]


def test_reranker_without_a_local_model_is_refused_at_create_time(
    http: httpx.Client, server_data_dir: Path
) -> None:
    collection = unique("rerank_off")
    create_text_ingestion(http, collection)
    body = {
        "name": unique("search"),
        "type": "SEARCH",
        "projectId": PROJECT,
        "functions": [
            {
                "name": "search_fn",
                "action": "SEARCH_TEXT",
                "clusterId": "in03-0123456789abcdef",
                "collectionName": collection,
                "reranker": RERANKER,
            }
        ],
    }
    r = http.post("/v1/pipelines", json=body)
    assert r.status_code == 400 and r.json()["code"] == 80000
    message = r.json()["message"]
    assert RERANKER in message and "model.onnx" in message and "tokenizer.json" in message
    assert str(server_data_dir / "models" / "bge-reranker-base") in message


def test_doc_chunk_search_reranks_chunk_texts(
    http: httpx.Client, reranker_model: Path, server_data_dir: Path, encoder: CrossEncoder
) -> None:
    collection = unique("rerank_docs")
    pipes = make_doc_pipelines(http, collection, chunk_size=20)
    search_id = create_search(http, collection, "SEARCH_DOC_CHUNK", reranker=RERANKER)
    doc = server_data_dir / "uploads" / unique("menu") / "menu.md"
    doc.parent.mkdir(parents=True)
    filler = (
        "while the old town keeps its quiet streets, its grey stone walls and its small gardens"
    )
    doc.write_text("".join(f"{line} {filler}.\n\n" for line in (NONE, ONE, BOTH)))
    data = {"doc_url": doc.as_uri(), "year": 2024}
    assert ok(http.post(f"/v1/pipelines/{pipes['ingestion']}/run", json={"data": data}))
    found = ok(
        http.post(
            f"/v1/pipelines/{search_id}/run",
            json={"data": {"query_text": QUERY}, "params": {"limit": 3}},
        )
    )
    chunks = [r["chunk_text"] for r in found["result"]]
    assert BOTH in chunks[0] and len(chunks) > 1
    expected = [round(s, 6) for s in encoder.score(QUERY, chunks).scores]
    assert [r["distance"] for r in found["result"]] == expected == sorted(expected, reverse=True)
    assert found["usage"]["rerank"] == encoder.score(QUERY, chunks).tokens
