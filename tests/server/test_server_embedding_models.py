"""Each pipeline's ``embedding`` picks its model on the local server (issue 11, items 1-2).

Fresh servers on temporary data dirs: the default (MiniLM) answers a paraphrase; a bge model is
served from ``model_dir`` (a tiny stand-in graph of the same shape), refused with a how-to when it
is missing and fallback is off; collections keep the embedder that built them across restarts.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from langchain_zilliz_bailian.server import LexicalEmbedder, LocalServer
from langchain_zilliz_bailian.server.models.onnx_text import MINILM_TOKENIZER
from langchain_zilliz_bailian.zilliz import ZillizPipelinesClient
from tests.fakes.onnx_models import write_tiny_encoder
from tests.server.conftest import CLUSTER, PROJECT

HANDBOOK = """# Staff handbook

## Working hours
Core hours are 10:00 to 16:00. Outside them, you may start and finish when it suits your team,
as long as you record your time in the timesheet tool every week.

## Annual leave
Every full-time employee is entitled to 25 days of annual leave per calendar year, pro rata for
part-time staff. Up to five unused days can be carried over into the first quarter of next year.

## Sick days
If you are unwell, tell your manager before 10:00. From the fourth consecutive day away, a
doctor's note is needed.

## Expenses
Expense claims are filed in the finance portal within 30 days, with the receipts attached.
Travel is booked through the company agency; taxis need a manager's approval.

## Equipment
Laptops are replaced every three years. Report a lost or stolen device to the IT desk at once so
that it can be wiped remotely.

## Remote work
You may work from home up to three days a week. Your home desk must meet the safety checklist.
"""


def _client(server: LocalServer) -> ZillizPipelinesClient:
    return ZillizPipelinesClient(base_url=server.url, api_key=server.api_key)


def _http(server: LocalServer) -> httpx.Client:
    headers = {"Authorization": f"Bearer {server.api_key}"}
    return httpx.Client(base_url=server.url, headers=headers, timeout=60)


def _text_ingestion(name: str, collection: str, embedding: str, language: str = "ENGLISH") -> Any:
    return {
        "name": name,
        "type": "INGESTION",
        "projectId": PROJECT,
        "clusterId": CLUSTER,
        "collectionName": collection,
        "functions": [
            {
                "name": "index_it",
                "action": "INDEX_TEXT",
                "language": language,
                "embedding": embedding,
            }
        ],
    }


def _text_search(name: str, collection: str, embedding: str) -> Any:
    function = {
        "name": "search_it",
        "action": "SEARCH_TEXT",
        "clusterId": CLUSTER,
        "collectionName": collection,
        "embedding": embedding,
    }
    return {"name": name, "type": "SEARCH", "projectId": PROJECT, "functions": [function]}


def test_a_fresh_server_answers_a_paraphrase_with_the_right_chunk_first(tmp_path: Path) -> None:
    handbook = tmp_path / "handbook.md"
    handbook.write_text(HANDBOOK, encoding="utf-8")
    # Defaults, plus the fallback: the client's default model (bge) is not on this machine.
    with LocalServer(data_dir=tmp_path / "data", embedding_fallback=True) as server:
        with _client(server) as client:
            made = client.create_pipeline_set(
                name="handbook",
                project_id=PROJECT,
                cluster_id=CLUSTER,
                collection_name="handbook",
            )
            assert client.ingest_file(made.ingestion.pipeline_id, handbook).num_chunks == 6
            hits = client.search(made.search.pipeline_id, "How much holiday do I have?").hits
        with _http(server) as http:
            described = http.get(f"/v1/pipelines/{made.search.pipeline_id}").json()["data"]
    assert "25 days of annual leave" in hits[0].fields["chunk_text"]
    assert described["functions"][0]["embedding"] == "zilliz/bge-base-en-v1.5"
    assert described["servedEmbedding"] == "all-MiniLM-L6-v2-int8/384"


@pytest.fixture
def model_dir(tmp_path: Path) -> Path:
    """An air-gapped copy of bge-base-en-v1.5's files (a tiny 768-d graph of the same shape)."""
    root = tmp_path / "models"
    write_tiny_encoder(root / "bge-base-en-v1.5" / "model.onnx", dim=768)
    shutil.copy(MINILM_TOKENIZER, root / "bge-base-en-v1.5" / "tokenizer.json")
    return root


@pytest.fixture
def strict_server(tmp_path: Path, model_dir: Path) -> Iterator[LocalServer]:
    """Default options (no fallback, no download) plus ``model_dir``."""
    with LocalServer(data_dir=tmp_path / "data", model_dir=model_dir) as server:
        yield server


def test_each_pipeline_is_served_by_its_own_model(strict_server: LocalServer) -> None:
    with _http(strict_server) as http:
        bge = http.post(
            "/v1/pipelines", json=_text_ingestion("bge_ing", "bge", "zilliz/bge-base-en-v1.5")
        )
        lexical = http.post(
            "/v1/pipelines", json=_text_ingestion("lex_ing", "lex", "local/lexical")
        )
        served = [r.json()["data"]["servedEmbedding"] for r in (bge, lexical)]
        run = http.post(
            f"/v1/pipelines/{bge.json()['data']['pipelineId']}/run",
            json={"data": {"text_list": ["annual leave", "expense claims"]}},
        )
        search = http.post(
            "/v1/pipelines", json=_text_search("bge_srch", "bge", "zilliz/bge-base-en-v1.5")
        )
        hits = http.post(
            f"/v1/pipelines/{search.json()['data']['pipelineId']}/run",
            json={"data": {"query_text": "leave"}, "params": {"limit": 5}},
        )
        mismatch = http.post("/v1/pipelines", json=_text_search("bad_srch", "bge", "local/lexical"))
    assert served == ["bge-base-en-v1.5/768", "lexical-hash-v1/384"]
    assert run.json()["data"]["num_entities"] == 2
    assert search.json()["data"]["servedEmbedding"] == "bge-base-en-v1.5/768"
    assert len(hits.json()["data"]["result"]) == 2
    assert mismatch.status_code == 400
    assert "must equal the ingestion model" in mismatch.json()["message"]


def test_a_model_that_cannot_load_is_refused_with_a_how_to(
    strict_server: LocalServer, model_dir: Path
) -> None:
    body = _text_ingestion("zh_ing", "zh", "zilliz/bge-base-zh-v1.5", language="CHINESE")
    with _http(strict_server) as http:
        refused = http.post("/v1/pipelines", json=body)
        listed = http.get("/v1/pipelines", params={"projectId": PROJECT}).json()["data"]
    assert refused.status_code == 400
    envelope = refused.json()
    assert envelope["code"] == 80000
    message = envelope["message"]
    assert message.startswith("Model zilliz/bge-base-zh-v1.5 is not available offline")
    assert f"{model_dir}/bge-base-zh-v1.5" in message
    assert "--model-download" in message and "--embedding-fallback" in message
    assert listed == []  # nothing was created


class RenamedLexical(LexicalEmbedder):
    """A custom embedder (``--embedder module:callable``) that a later server does not run."""

    name = "custom-words"


def test_collections_keep_the_embedder_that_built_them(tmp_path: Path) -> None:
    data = tmp_path / "data"
    custom = f"{__name__}:RenamedLexical"
    texts = ["annual leave is 25 days", "expense claims within 30 days"]
    with (
        LocalServer(data_dir=data, embedder=custom, embedding_fallback=True) as old,
        _http(old) as http,
    ):
        ids = {}
        for collection, model in (
            ("old_lex", "local/lexical"),
            ("old_custom", "zilliz/bge-base-en-v1.5"),
        ):
            made = http.post(
                "/v1/pipelines", json=_text_ingestion(f"{collection}_i", collection, model)
            )
            http.post(
                f"/v1/pipelines/{made.json()['data']['pipelineId']}/run",
                json={"data": {"text_list": texts}},
            )
            found = http.post(
                "/v1/pipelines", json=_text_search(f"{collection}_s", collection, model)
            )
            ids[collection] = found.json()["data"]["pipelineId"]
        before = http.post(
            f"/v1/pipelines/{ids['old_lex']}/run", json={"data": {"query_text": "expense claims"}}
        ).json()
    with LocalServer(data_dir=data) as new, _http(new) as http:  # MiniLM default, no fallback
        after = http.post(
            f"/v1/pipelines/{ids['old_lex']}/run", json={"data": {"query_text": "expense claims"}}
        ).json()
        again = http.post(
            "/v1/pipelines", json=_text_search("lex_again", "old_lex", "local/lexical")
        )
        lost = http.post(
            f"/v1/pipelines/{ids['old_custom']}/run", json={"data": {"query_text": "leave"}}
        )
    # The lexical collection is still searched with the lexical embedder: same hits, same scores.
    assert after["data"]["result"] == before["data"]["result"]
    assert again.json()["data"]["servedEmbedding"] == "lexical-hash-v1/384"
    assert lost.status_code == 400
    message = lost.json()["message"]
    assert "'old_custom' was embedded with custom-words/384" in message
    assert "--embedder" in message
